//go:build linux

package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestHuntCLISignalBlockedOutput: SIGINT or SIGTERM while the CLI is
// blocked writing output to a pipe nobody reads (a pager that stopped
// reading) ends it with 130 or 143 and its one line, and the server's job
// is aborted. The CLI cancelled the call but stayed blocked in its write
// until a second signal or the reader's exit, where GNU's tools die at
// once.
func TestHuntCLISignalBlockedOutput(t *testing.T) {
	d := launch(t)
	in := randomFile(t, 3<<20) // base64: 4 MiB of output, far more than the pipe holds
	for _, transport := range []string{"grpc", "tcp"} {
		for _, sig := range cliSignals {
			t.Run(transport+" "+sig.sig.String(), func(t *testing.T) {
				before := len(jobRecords(d))
				argv := []string{"--addr", d.GRPC, "base64"}
				if transport == "tcp" {
					argv = []string{"--tcp", "--tcp-addr", d.TCP, "base64"}
				}
				cmd := exec.Command(bin(t, "halfclose"), argv...)
				cmd.Env = cleanEnv()
				f, err := os.Open(in)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				cmd.Stdin = f
				pr, pw, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				defer pr.Close()
				size, err := unix.FcntlInt(pr.Fd(), unix.F_SETPIPE_SZ, 4096)
				if err != nil {
					t.Fatal(err)
				}
				cmd.Stdout = pw
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				pw.Close()
				// The pipe full: the client's next write of output blocks.
				deadline := time.Now().Add(defaultTestTimeout)
				for {
					n, err := unix.IoctlGetInt(int(pr.Fd()), unix.TIOCINQ) // FIONREAD
					if err != nil {
						t.Fatal(err)
					}
					if n >= size {
						break
					}
					if time.Now().After(deadline) {
						cmd.Process.Kill()
						t.Fatalf("the output pipe holds %d bytes, never %d; stderr %q", n, size, stderr.String())
					}
					time.Sleep(5 * time.Millisecond)
				}
				cmd.Process.Signal(sig.sig)
				err = waitTimeout(t, cmd)
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != sig.code {
					t.Fatalf("exit: %v, want code %d; stderr %q", err, sig.code, stderr.String())
				}
				if stderr.String() != sig.msg {
					t.Fatalf("stderr %q; want only %q", stderr.String(), sig.msg)
				}
				j := waitJobRecord(t, d, before)
				job, _ := j["job"].(map[string]any)
				// Aborted, unless the server had sent all of its output
				// into the buffers before the signal.
				want := map[string]string{"tcp": "reset", "grpc": "canceled"}[transport]
				if job["outcome"] != want && (job["outcome"] != "ok" || job["out_bytes"] != float64(base64Len(3<<20))) {
					t.Fatalf("server job %v; want outcome %q", j, want)
				}
			})
		}
	}
}

// base64Len is the length of GNU base64's output for n bytes: 76-column
// lines, each ending in a newline.
func base64Len(n int) int {
	enc := (n + 2) / 3 * 4
	return enc + (enc+75)/76
}
