//go:build linux

package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ncUploadStalled runs `nc -N` to addr with header and then the file in as
// its input, and returns its stdout and exit status. While it runs, nc is
// stopped (SIGSTOP) for 1-5 ms at a time and let run for 1 ms in between:
// what a loaded machine does to it now and then, made frequent. It is
// fault injection, not synchronisation: nothing waits on it, and a
// server that reads the upload to its FIN (--tcp-fin-wait) passes
// whatever the stops' lengths. A server
// that closed a few milliseconds after the line, with input unread, lost
// the line in most runs through a proxy: nc, continued, finds the reset
// and the line together, and stops reading on the reset.
func ncUploadStalled(t *testing.T, addr, header, in string) ([]byte, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, need(t, "nc"), "-N", host, port)
	cmd.Env = cleanEnv()
	cmd.Stdin = io.MultiReader(strings.NewReader(header), f)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var waitErr error
stalls:
	for {
		// Signals go by pidfd: none reaches another process once nc
		// has been waited for.
		cmd.Process.Signal(syscall.SIGSTOP)
		time.Sleep(time.Duration(1+rand.IntN(5)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGCONT)
		select {
		case waitErr = <-done:
			break stalls
		case <-time.After(time.Millisecond):
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("nc did not end within %v", defaultTestTimeout)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		code = ee.ExitCode()
	} else if waitErr != nil {
		t.Fatal(waitErr)
	}
	return out.Bytes(), code
}

// TestNcErrorLineWhileUploading: `nc -N` uploading 64 MiB to a server
// that decided its error after 1 MiB (--max-input-bytes) prints the error
// line and exits 0, in every run, stalled now and then as on a loaded
// machine (ncUploadStalled); socat, which reports a failed write, exits 0
// with the line too: the server reads and drops the rest of the upload
// until the client's FIN (--tcp-fin-wait), where it used to read 4 MiB
// and close, resetting the connection while the client still sent
// (socat: "write(5, ...): Broken pipe", exit 1, in every run).
func TestNcErrorLineWhileUploading(t *testing.T) {
	t.Parallel()
	// The wait for the client's FIN is made longer than the test may
	// take: a client that is slow to send the rest (socat, nc stopped
	// often, on a loaded machine) is not reset at 5 s, which would fail
	// socat's last writes (exit 1) for want of CPU, not of the server.
	d := launch(t, "--max-input-bytes", "1MiB", "--tcp-route", "127.0.0.1:0=sha256sum", "--tcp-fin-wait", "10m")
	in := randomFile(t, 64<<20)
	const want = "halfclose: error: RESOURCE_EXHAUSTED: input exceeds the limit of 1048576 bytes\n"
	for _, target := range []struct{ name, addr, header string }{
		{"route port", d.Routes["sha256sum"], ""},
		{"command port, bad header line", d.TCP, "frob\n"},
	} {
		want := want
		if target.header != "" {
			want = "halfclose: error: INVALID_ARGUMENT: unknown command \"frob\"\n"
		}
		for i := range 4 {
			out, code := ncUploadStalled(t, target.addr, target.header, in)
			if code != 0 || string(out) != want {
				t.Errorf("%s, nc run %d: exit %d, stdout %q; want exit 0 and %q", target.name, i+1, code, out, want)
			}
		}
	}
	socat := need(t, "socat")
	for i := range 3 {
		r := run(t, "", in, socat, "-t", "60", "-", "TCP:"+d.Routes["sha256sum"])
		if r.code != 0 || string(r.stdout) != want {
			t.Errorf("socat run %d: exit %d, stdout %q, stderr %q; want exit 0 and %q", i+1, r.code, r.stdout, r.stderr, want)
		}
	}
}
