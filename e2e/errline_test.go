//go:build linux

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
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
	return uploadStalled(t, []string{need(t, "nc"), "-N", host, port}, header, in)
}

// uploadStalled runs argv with header and then the file in as its input,
// stopped now and then as ncUploadStalled says, and returns its stdout and
// exit status.
func uploadStalled(t *testing.T, argv []string, header, in string) ([]byte, int) {
	t.Helper()
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
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
		t.Fatalf("%s did not end within %v", argv[0], defaultTestTimeout)
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

// TestTLSErrorLineWhileUploading: the wait for the client's FIN
// (--tcp-fin-wait) over TLS, with real TLS clients uploading 16 MiB to a
// server that decided their error early: socat OPENSSL: (stopped now and
// then, as ncUploadStalled does to nc) on the route port and the command
// port (a limit hit after 1 MiB, with and without @trailer, and a bad
// header line), socat refused before the handshake for its address's
// --max-requests-per-peer, and the halfclose CLI (Go's crypto/tls) from a
// pipe. Each gets the error line whole and a clean end: the server reads
// the rest through TLS (decrypting it) up to the client's close_notify or
// FIN. Closed at once instead, with records unread, the kernel's reset
// took the line: socat "Connection reset by peer", exit 1, no line.
func TestTLSErrorLineWhileUploading(t *testing.T) {
	t.Parallel()
	need(t, "openssl")
	socat := need(t, "socat")
	dir := t.TempDir()
	if _, err := tlsRun(t, dir, nil, "bash", "-c", tlsPKIScript); err != nil {
		t.Fatal(err)
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	// As in TestNcErrorLineWhileUploading, the wait is longer than the
	// test may take: a slow client is not reset for want of CPU.
	d := launch(t, "--tls-cert="+p("server.pem"), "--tls-key="+p("server-key.pem"),
		"--max-input-bytes=1MiB", "--tcp-route=127.0.0.1:0=sha256sum", "--tcp-fin-wait=10m", "--max-requests-per-peer=1")
	// 16 MiB, not TestNcErrorLineWhileUploading's 64: more than the
	// kernels' buffers hold past the limit, so that a server that skips
	// the wait over TLS, or stops it after 4 MiB, fails every run (15 of
	// 15, five runs each), at a third of 64 MiB's time and CPU: the
	// clients are stopped three quarters of the time, and on a loaded
	// machine the 64 MiB runs took 14-27 s.
	in := randomFile(t, 16<<20)
	socatTo := func(addr string) []string {
		return []string{socat, "-t", "60", "-", "OPENSSL:" + addr + ",cafile=" + p("ca.pem")}
	}
	const limit = "halfclose: error: RESOURCE_EXHAUSTED: input exceeds the limit of 1048576 bytes\n"
	for _, tc := range []struct{ name, addr, header, want string }{
		{"route port", d.Routes["sha256sum"], "", limit},
		{"command port", d.TCP, "sha256sum\n", limit},
		{"command port, @trailer", d.TCP, "@trailer sha256sum\n", limit},
		{"command port, bad header line", d.TCP, "frob\n", "halfclose: error: INVALID_ARGUMENT: unknown command \"frob\"\n"},
	} {
		for i := range 3 {
			out, code := uploadStalled(t, socatTo(tc.addr), tc.header, in)
			if code != 0 || string(out) != tc.want {
				t.Errorf("%s, socat run %d: exit %d, stdout %q; want exit 0 and %q", tc.name, i+1, code, out, tc.want)
			}
		}
	}

	cli := bin(t, "halfclose")
	for i := range 2 {
		r := run(t, "", "", "bash", "-c", `cat "$1" | "$2" --tcp --tcp-addr "$3" --cacert "$4" sha256sum`, "-", in, cli, d.TCP, p("ca.pem"))
		want := "halfclose: RESOURCE_EXHAUSTED: input exceeds the limit of 1048576 bytes\n"
		if r.code != 1 || string(r.stderr) != want {
			t.Errorf("halfclose --tcp run %d: exit %d, stderr %q; want exit 1 and %q", i+1, r.code, r.stderr, want)
		}
	}

	// A connection from 127.0.0.1 that holds its request (its handshake
	// done, so the server has counted it): socat's are refused before
	// their handshake, which the error line's write makes.
	conf := &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "127.0.0.1"}
	ca, err := os.ReadFile(p("ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	conf.RootCAs.AppendCertsFromPEM(ca)
	held, err := tls.DialWithDialer(&net.Dialer{Timeout: defaultTestTimeout}, "tcp", d.Routes["sha256sum"], conf)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	const refused = "halfclose: error: RESOURCE_EXHAUSTED: too many open requests from this address: limit 1\n"
	for i := range 3 {
		out, code := uploadStalled(t, socatTo(d.Routes["sha256sum"]), "", in)
		if code != 0 || string(out) != refused {
			t.Errorf("refused, socat run %d: exit %d, stdout %q; want exit 0 and %q", i+1, code, out, refused)
		}
	}
}
