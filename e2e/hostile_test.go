package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestCLITCPToken: against a server with tokens, the CLI's --tcp sends its
// --token-file as @token on the header line; without it the command port
// refuses (issue 13, item 4).
func TestCLITCPToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tokens := writeFile(t, dir, "tokens", []byte("e2e-secret\n"))
	d := launch(t, "--auth-token-file", tokens)
	in := randomFile(t, 65537)
	want := gnu(t, in, "sha256sum")

	r := run(t, "", in, bin(t, "halfclose"), "--tcp", "--tcp-addr", d.TCP, "--token-file", tokens, "sha256sum")
	if r.code != 0 || !bytes.Equal(r.stdout, want) {
		t.Fatalf("with a token: exit %d, stdout %q, stderr %q; want %q", r.code, r.stdout, r.stderr, want)
	}
	r = run(t, "", in, bin(t, "halfclose"), "--tcp", "--tcp-addr", d.TCP, "sha256sum")
	if r.code != 1 || len(r.stdout) != 0 || !strings.Contains(string(r.stderr), "UNAUTHENTICATED: missing token") {
		t.Fatalf("without a token: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// nc has no token to give: the same refusal, as an error line.
	r = run(t, "", writeFile(t, dir, "req", []byte("sha256sum\nx")), need(t, "nc"), "-N", strings.Split(d.TCP, ":")[0], strings.Split(d.TCP, ":")[1])
	if string(r.stdout) != "halfclose: error: UNAUTHENTICATED: missing token: start the header line with @token=TOKEN\n" {
		t.Fatalf("nc without a token: %q", r.stdout)
	}
}

// TestCLITCPStopsOnServerError: the CLI reports the server's error line
// as soon as it arrives, while its stdin is still open: a refused pipeline
// (before any input) and a limit hit mid-upload (issue 13, item 10: it
// used to notice only when stdin ended). The test keeps stdin open until
// the CLI has exited.
func TestCLITCPStopsOnServerError(t *testing.T) {
	d := launch(t, "--max-input-bytes", "1MiB")
	for _, tc := range []struct {
		name, pipeline, want string
		feed                 int // bytes written to stdin before waiting
	}{
		{"bad pipeline", "frob", "halfclose: INVALID_ARGUMENT: unknown command \"frob\"\n", 0},
		{"limit mid-upload", "sha256sum", "halfclose: RESOURCE_EXHAUSTED: input exceeds the limit of 1048576 bytes\n", 2 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin(t, "halfclose"), "--tcp", "--tcp-addr", d.TCP, tc.pipeline)
			cmd.Env = cleanEnv()
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer pw.Close() // only after the CLI has exited
			cmd.Stdin = pr
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pr.Close()
			if tc.feed > 0 {
				// The CLI reads this and sends it; the server refuses past
				// 1 MiB. (A write error means the CLI already exited.)
				go pw.Write(make([]byte, tc.feed))
			}
			err = waitTimeout(t, cmd)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want 1; stderr %q", err, stderr.String())
			}
			if stderr.String() != tc.want || stdout.Len() != 0 {
				t.Fatalf("stderr %q, stdout %q; want %q", stderr.String(), stdout.String(), tc.want)
			}
		})
	}
}
