package e2e

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestStdinAtOffset: standard input that is a regular file already read in
// part (its offset past 0, as after `read line` in a shell script) is the
// rest of the file, as GNU reads it: over gRPC and over --tcp, whose @size
// is declared from the offset on. A size declared from the file's start
// failed the upload ("input ended after 101975 of its 102000 bytes"), and
// no test gave an input at an offset (mutation run).
func TestStdinAtOffset(t *testing.T) {
	t.Parallel()
	g, tcp := startDaemon(t)
	path := filepath.Join(t.TempDir(), "input")
	if err := os.WriteFile(path, bytes.Repeat([]byte("first line, already read\nthe rest\n"), 3000), 0o600); err != nil {
		t.Fatal(err)
	}
	runAt := func(argv ...string) result {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Seek(25, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = cleanEnv()
		cmd.Stdin = f // the descriptor itself, at its offset
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err = cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%q: %v", argv, err)
		}
		return result{stdout: out.Bytes(), stderr: errb.Bytes(), code: code}
	}
	for _, command := range [][]string{{"sha256sum"}, {"wc", "-c"}} {
		want := runAt(command...)
		if want.code != 0 {
			t.Fatalf("%q: the tool exits %d: %q", command, want.code, want.stderr)
		}
		for _, transport := range [][]string{{"--addr", g}, {"--tcp", "--tcp-addr", tcp}} {
			argv := append(append([]string{bin(t, "halfclose")}, transport...), command...)
			got := runAt(argv...)
			if got.code != 0 || !bytes.Equal(got.stdout, want.stdout) || len(got.stderr) != 0 {
				t.Errorf("%q: exit %d, stderr %q\n%s", argv, got.code, got.stderr, diff(got.stdout, want.stdout))
			}
		}
	}
}
