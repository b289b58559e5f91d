package e2e

import (
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/testpki"
)

// slowLink relays the connections it accepts to target, as a slow link
// would carry them: toward target, chunk bytes at a time with gap between
// them; back, at once. Each end's close is passed on as a half-close.
// The gap is the link's pace, which the test is about, not a wait for
// anything.
func slowLink(t *testing.T, target string, chunk int, gap time.Duration) string {
	t.Helper()
	return relay(t, target, func(c, s net.Conn, _ <-chan struct{}) {
		go func() {
			io.Copy(c, s)
			c.(*net.TCPConn).CloseWrite()
		}()
		buf := make([]byte, chunk)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if _, werr := s.Write(buf[:n]); werr != nil {
					return
				}
				time.Sleep(gap)
			}
			if err != nil {
				s.(*net.TCPConn).CloseWrite()
				return
			}
		}
	})
}

// relay listens on loopback and joins each connection it accepts to a
// new one to target, handing the two (client's, target's) to serve in a
// goroutine of its own; when the test ends, done is closed and every
// connection of it closed.
func relay(t *testing.T, target string, serve func(c, s net.Conn, done <-chan struct{})) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	ended := false
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		ended = true
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			if ended {
				mu.Unlock()
				c.Close()
				s.Close()
				return
			}
			conns = append(conns, c, s)
			mu.Unlock()
			go serve(c, s, done)
		}
	}()
	return ln.Addr().String()
}

// TestTLSSlowClientNotIdle: a client whose bytes keep arriving is not
// idle, over TLS too. Through a link of 10 KiB/s (512 bytes every
// twentieth of the --idle-timeout of 1 s: a pause of the link on a loaded
// machine must last 20 of them to abort the job), a TLS record of 16 KiB
// takes 1.6 timeouts to arrive, and crypto/tls hands nothing of it over
// before it is whole: socat on the TLS command port (its second record,
// the first holding the header line) and the Python example over gRPC
// were aborted as idle ("no input for 1s"), where the same link to a
// plaintext port was fine. Both get GNU's digest.
func TestTLSSlowClientNotIdle(t *testing.T) {
	const idle = time.Second
	const chunk, gap = 512, idle / 20
	pki := testpki.New(t)
	d := launch(t, "--tls-cert", pki.ServerCert, "--tls-key", pki.ServerKey, "--idle-timeout", idle.String())
	input := textFile(t, "tls-slow", 32<<10, 31)
	want := string(gnu(t, input, "sha256sum"))

	t.Run("socat", func(t *testing.T) {
		t.Parallel()
		socat := need(t, "socat")
		body, err := os.ReadFile(input)
		if err != nil {
			t.Fatal(err)
		}
		addr := slowLink(t, d.TCP, chunk, gap)
		// -b 16384: socat's records are of 16 KiB.
		out, err := tlsRun(t, t.TempDir(), append([]byte("sha256sum\n"), body...), socat, "-b", "16384", "-t", "30", "-",
			"OPENSSL:"+addr+",cafile="+pki.CAFile)
		if err != nil || out != want {
			t.Fatalf("socat over a slow link: %q, %v; GNU: %q\n%s", out, err, want, d.log.String())
		}
	})
	t.Run("python", func(t *testing.T) {
		t.Parallel()
		client := exampleClient(t, "python")
		addr := slowLink(t, d.GRPC, chunk, gap)
		got := runPiped(t, "", input, append(client, "--addr", addr, "--cacert", pki.CAFile, "digest")...)
		if got.code != 0 || string(got.stdout) != want {
			t.Fatalf("python over a slow link: exit %d, stdout %q, stderr %q; GNU: %q\n%s", got.code, got.stdout, got.stderr, want, d.log.String())
		}
	})
}

// stallLink relays the connections it accepts to target: toward target,
// TLS record by record, until the second record of 4 KiB or more, of
// which it passes the first half and then nothing more (the client's
// bytes stop mid-record, its connection open); back, all at once.
func stallLink(t *testing.T, target string) string {
	t.Helper()
	return relay(t, target, func(c, s net.Conn, done <-chan struct{}) {
		defer func() { c.Close(); s.Close() }()
		go func() {
			// The server's end (a reset) ends the client's.
			io.Copy(c, s)
			c.Close()
		}()
		big := 0
		for {
			rec := make([]byte, 5)
			if _, err := io.ReadFull(c, rec); err != nil {
				return
			}
			rec = append(rec, make([]byte, int(rec[3])<<8|int(rec[4]))...)
			if _, err := io.ReadFull(c, rec[5:]); err != nil {
				return
			}
			if len(rec) >= 5+4096 {
				big++
			}
			if big == 2 {
				s.Write(rec[:len(rec)/2])
				<-done
				return
			}
			if _, err := s.Write(rec); err != nil {
				return
			}
		}
	})
}

// TestTLSStalledMidRecordIsIdle: a TLS client whose bytes stop in the
// middle of a record, its connection open, is aborted as idle on both
// adapters, and gets no result from what came: counting the bytes of a
// record still arriving defers the abort while they come, not after.
func TestTLSStalledMidRecordIsIdle(t *testing.T) {
	pki := testpki.New(t)
	d := launch(t, "--tls-cert", pki.ServerCert, "--tls-key", pki.ServerKey, "--idle-timeout", "300ms")
	input := textFile(t, "tls-stall", 48<<10, 32)
	want := string(gnu(t, input, "sha256sum"))
	idle := func(adapter string) func() bool {
		return func() bool {
			for _, r := range jobRecords(d) {
				if job, _ := r["job"].(map[string]any); r["adapter"] == adapter && job["outcome"] == "idle" {
					return true
				}
			}
			return false
		}
	}

	t.Run("socat", func(t *testing.T) {
		t.Parallel()
		socat := need(t, "socat")
		body, err := os.ReadFile(input)
		if err != nil {
			t.Fatal(err)
		}
		// -b 8192: socat's records are of 8 KiB; the second is cut.
		out, err := tlsRun(t, t.TempDir(), append([]byte("sha256sum\n"), body...), socat, "-b", "8192", "-t", "30", "-",
			"OPENSSL:"+stallLink(t, d.TCP)+",cafile="+pki.CAFile)
		if out == want || strings.Contains(out, "  -") {
			t.Fatalf("socat stalled mid-record got a result: %q, %v", out, err)
		}
		waitFor(t, "the TCP job's idle abort", idle("tcp"))
	})
	t.Run("python", func(t *testing.T) {
		t.Parallel()
		client := exampleClient(t, "python")
		got := runPiped(t, "", input, append(client, "--addr", stallLink(t, d.GRPC), "--cacert", pki.CAFile, "digest")...)
		if got.code == 0 || len(got.stdout) != 0 || !strings.Contains(string(got.stderr), "DEADLINE_EXCEEDED: no input for 300ms (idle timeout)") {
			t.Fatalf("python stalled mid-record: exit %d, stdout %q, stderr %q; want DEADLINE_EXCEEDED, no input\n%s", got.code, got.stdout, got.stderr, d.log.String())
		}
	})
}
