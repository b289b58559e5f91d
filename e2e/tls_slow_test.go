package e2e

import (
	"io"
	"net"
	"os"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
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
			t.Cleanup(func() { c.Close(); s.Close() })
			go func() {
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
			}()
			go func() {
				io.Copy(c, s)
				c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	return ln.Addr().String()
}

// TestTLSSlowClientNotIdle: a client whose bytes keep arriving is not
// idle, over TLS too. Through a link of 10 KiB/s (512 bytes every 50 ms),
// a TLS record of 8 or 16 KiB takes 0.8 or 1.6 s to arrive, longer than
// the --idle-timeout of 500 ms, and crypto/tls hands nothing of it over
// before it is whole: socat on the TLS command port and the Python
// example over gRPC were aborted as idle ("no input for 500ms"), where
// the same link to a plaintext port was fine. Both get GNU's digest.
func TestTLSSlowClientNotIdle(t *testing.T) {
	pki := testpki.New(t)
	d := launch(t, "--tls-cert", pki.ServerCert, "--tls-key", pki.ServerKey, "--idle-timeout", "500ms")
	input := textFile(t, "tls-slow", 16<<10, 31)
	want := string(gnu(t, input, "sha256sum"))
	const chunk, gap = 512, 50 * time.Millisecond

	t.Run("socat", func(t *testing.T) {
		t.Parallel()
		socat := need(t, "socat")
		body, err := os.ReadFile(input)
		if err != nil {
			t.Fatal(err)
		}
		addr := slowLink(t, d.TCP, chunk, gap)
		// -b 8192: socat's records are of 8 KiB.
		out, err := tlsRun(t, t.TempDir(), append([]byte("sha256sum\n"), body...), socat, "-b", "8192", "-t", "30", "-",
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
