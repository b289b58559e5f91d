package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/internal/testenv"
)

// TestWriteErrorAsGNU: a standard output that cannot be written
// (/dev/full) fails every mode, a pipeline's output, FILE digests and
// -c's lines, over gRPC and --tcp, with exit 1 and GNU's words, those GNU
// cat prints for it ("cat: write error: No space left on device"); the
// CLI said os.File's "write /dev/stdout: no space left on device".
func TestWriteErrorAsGNU(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer full.Close()
	cmd := exec.Command(testenv.Tool(t, "cat"))
	cmd.Env = []string{"LC_ALL=C"}
	cmd.Stdin = strings.NewReader("x\n")
	cmd.Stdout = full
	var gnu bytes.Buffer
	cmd.Stderr = &gnu
	if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("GNU cat >/dev/full: %v, want exit 1", err)
	}
	i := strings.Index(gnu.String(), ": write error")
	if i < 0 {
		t.Fatalf("GNU cat >/dev/full: %q", &gnu)
	}
	want := "halfclose" + gnu.String()[i:] // after cat's name, which is its argv[0]

	g, tcp := huntServer(t)
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sums := filepath.Join(t.TempDir(), "sums")
	if err := os.WriteFile(sums, []byte("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  "+file+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, transport := range [][]string{{"--addr", g}, {"--tcp", "--tcp-addr", tcp}} {
		for _, args := range [][]string{{"sha256sum"}, {"sha256sum", file}, {"sha256sum", "-c", sums}} {
			var errb bytes.Buffer
			argv := append(append([]string{"--progress=false"}, transport...), args...)
			code := run(context.Background(), argv, strings.NewReader("hello\n"), full, &errb)
			if code != 1 || errb.String() != want {
				t.Errorf("%q >/dev/full: exit %d, stderr %q; want exit 1, %q", argv, code, errb.String(), want)
			}
		}
	}
}

// TestHelpWriteErrorAsGNU: --help, --version and --generate to a standard
// output that cannot be written (/dev/full) exit 1 with GNU's words, as
// GNU cat --help and --version do ("cat: write error: No space left on
// device"); --help and --version exited 0 and said nothing, --generate
// exited 2, the status of a bad flag. A --generate of an unknown kind
// stays 2.
func TestHelpWriteErrorAsGNU(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer full.Close()
	for _, args := range [][]string{{"--help"}, {"--version"}, {"--generate", "man"}, {"--generate", "complete-bash"}} {
		gnuArgs := args
		if args[0] == "--generate" {
			gnuArgs = []string{"--help"}
		}
		cmd := exec.Command(testenv.Tool(t, "cat"), gnuArgs...)
		cmd.Env = []string{"LC_ALL=C"}
		cmd.Stdout = full
		var gnu bytes.Buffer
		cmd.Stderr = &gnu
		err := cmd.Run()
		i := strings.Index(gnu.String(), ": write error")
		if err == nil || cmd.ProcessState.ExitCode() != 1 || i < 0 {
			t.Fatalf("GNU cat %s >/dev/full: %v, %q; want exit 1, a write error", gnuArgs[0], err, &gnu)
		}
		want := "halfclose" + gnu.String()[i:]
		var errb bytes.Buffer
		if code := run(context.Background(), args, strings.NewReader(""), full, &errb); code != 1 || errb.String() != want {
			t.Errorf("%q >/dev/full: exit %d, stderr %q; want exit 1, %q", args, code, errb.String(), want)
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--generate", "nroff"}, strings.NewReader(""), &out, &errb); code != 2 || !strings.Contains(errb.String(), "unknown kind") {
		t.Errorf("--generate nroff: exit %d, stderr %q; want exit 2, unknown kind", code, errb.String())
	}
}
