package e2e

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cliSignals are the signals that cancel the CLI's call, with the exit
// status and the one line it then prints.
var cliSignals = []struct {
	sig  syscall.Signal
	code int
	msg  string
}{
	{syscall.SIGINT, 130, "halfclose: interrupted (SIGINT): the call was canceled\n"},
	{syscall.SIGTERM, 143, "halfclose: terminated (SIGTERM): the call was canceled\n"},
}

// TestCLISignalMidUpload: the CLI interrupted mid-upload (SIGINT, as
// Ctrl-C; SIGTERM) cancels the call and resets a TCP connection: the
// server records an abort, never "ok" over the partial input; the CLI
// exits 130 (143) with one message.
func TestCLISignalMidUpload(t *testing.T) {
	d := launch(t)
	for _, transport := range []string{"tcp", "grpc"} {
		for _, sig := range cliSignals {
			t.Run(transport+" "+sig.sig.String(), func(t *testing.T) {
				before := len(jobRecords(d))
				argv := []string{"--addr", d.GRPC, "sha256sum"}
				if transport == "tcp" {
					argv = []string{"--tcp", "--tcp-addr", d.TCP, "sha256sum"}
				}
				cmd := exec.Command(bin(t, "halfclose"), argv...)
				cmd.Env = cleanEnv()
				pr, pw, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				defer pw.Close()
				cmd.Stdin = pr
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				pr.Close()
				// Once this much went into the pipe (64 KiB of buffer), the
				// client has read and sent most of it: the upload is under
				// way, and its input has not ended.
				if _, err := pw.Write(make([]byte, 4<<20)); err != nil {
					t.Fatal(err)
				}
				cmd.Process.Signal(sig.sig)
				err = waitTimeout(t, cmd)
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != sig.code {
					t.Fatalf("exit: %v, want code %d; stderr %q", err, sig.code, stderr.String())
				}
				if stderr.String() != sig.msg || stdout.Len() != 0 {
					t.Fatalf("stderr %q, stdout %q; want only %q", stderr.String(), stdout.String(), sig.msg)
				}
				j := waitJobRecord(t, d, before)
				job, _ := j["job"].(map[string]any)
				want := map[string]string{"tcp": "reset", "grpc": "canceled"}[transport]
				if job["outcome"] != want || job["out_bytes"] != float64(0) {
					t.Fatalf("server job %v; want outcome %q and no output", j, want)
				}
			})
		}
	}
}

// jobRecords returns the daemon's log records with a job: the TCP
// adapter's "job" lines and the gRPC calls' "finished call" lines.
func jobRecords(d *daemon) []map[string]any {
	var out []map[string]any
	for _, r := range d.log.records() {
		if _, ok := r["job"].(map[string]any); ok {
			out = append(out, r)
		}
	}
	return out
}

// waitJobRecord waits for a job record after the first skip.
func waitJobRecord(t *testing.T, d *daemon, skip int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(defaultTestTimeout)
	for time.Now().Before(deadline) {
		if js := jobRecords(d); len(js) > skip {
			return js[skip]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no job record within %v; log:\n%s", defaultTestTimeout, d.log.String())
	return nil
}

// waitTimeout waits for cmd, killing it after defaultTestTimeout.
func waitTimeout(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(defaultTestTimeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v did not exit within %v", cmd.Args, defaultTestTimeout)
		return nil
	}
}

// TestCLITCPServerKilledMidReply: a server that dies mid-reply closes its
// socket with a FIN like a finished one; the CLI must not take that for a
// complete reply (issue 13): it prints what came and fails.
func TestCLITCPServerKilledMidReply(t *testing.T) {
	d := launch(t)
	cmd := exec.Command(bin(t, "halfclose"), "--tcp", "--tcp-addr", d.TCP, "b3sum -l 60000000 --no-names")
	cmd.Env = cleanEnv()
	cmd.Stdin = strings.NewReader("x")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The reply is flowing (60 MB: far more than the socket buffers hold
	// while this test does not read): kill the server now.
	first := make([]byte, 1<<20)
	if _, err := io.ReadFull(out, first); err != nil {
		t.Fatal(err)
	}
	d.kill(t)
	rest, _ := io.Copy(io.Discard, out)
	err = waitTimeout(t, cmd)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v after %d bytes; want 1", err, int64(len(first))+rest)
	}
	if msg := stderr.String(); strings.Count(msg, "\n") != 1 || strings.Count(msg, "halfclose:") != 1 || !strings.Contains(msg, "incomplete") {
		t.Fatalf("stderr %q: want one line saying the reply is incomplete", msg)
	}
}
