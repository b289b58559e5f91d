package server

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
)

// lingerUpload is what the clients of TestTCPErrorLineWhileUploading send
// after the server has decided its error: far more than the server used to
// read after its error line (4 MiB) plus what the kernels of both ends
// hold (a 4 MiB send buffer, a receive buffer autotuned to at most
// tcp_rmem's 32 MiB), so that a server that closes before the client's
// FIN closes with input unread.
const lingerUpload = 96 << 20

// uploadAfterError sends first, then lingerUpload bytes, then its FIN, on
// c, while it reads the reply; it returns the reply, the error of the
// upload (its writes and FIN) and the error that ended the read (nil: the
// server's FIN).
func uploadAfterError(t *testing.T, c *net.TCPConn, first string) (reply string, upErr, readErr error) {
	t.Helper()
	up := make(chan error, 1)
	go func() {
		if _, err := io.WriteString(c, first); err != nil {
			up <- err
			return
		}
		buf := make([]byte, 1<<20)
		for range lingerUpload / len(buf) {
			if _, err := c.Write(buf); err != nil {
				up <- err
				return
			}
		}
		up <- c.CloseWrite()
	}()
	b, readErr := io.ReadAll(c)
	return string(b), testenv.Recv(t, hangTimeout, "the upload's end", up), readErr
}

// TestTCPErrorLineWhileUploading: a client still uploading when the server
// decides its error (a bad header line with a large input behind it, an
// input over --max-input-bytes, a connection refused for --max-conns) gets
// the error line, can send the rest of its upload and its FIN, and reads a
// clean end: the server reads and drops what follows the line until the
// client's FIN (within --tcp-fin-wait), however much it is. It used to
// stop after 4 MiB and close with input unread: the kernel's reset then
// failed the client's writes, and a client that polls for errors first
// (netcat-openbsd, and nc through nginx or HAProxy) could lose the line
// and print nothing, exit 0.
func TestTCPErrorLineWhileUploading(t *testing.T) {
	env := startEnv(t, envConfig{
		engine: engine.Config{MaxInputBytes: 1 << 20},
		idle:   defaultTestTimeout,
		routes: []string{"wc -c"},
		tcp:    tcpSettings{drainTimeout: 10 * defaultTestTimeout},
	})
	over := "halfclose: error: RESOURCE_EXHAUSTED: input exceeds the limit of 1048576 bytes\n"
	t.Run("bad header line", func(t *testing.T) {
		c := tcpFrom(t, env.tcpAddr, "127.0.0.1")
		checkLingerReply(t, c, "frob\n", frobLine)
	})
	t.Run("over max-input-bytes", func(t *testing.T) {
		c := tcpFrom(t, env.routes["wc -c"], "127.0.0.1")
		checkLingerReply(t, c, "", over)
	})
	t.Run("over max-input-bytes, command port", func(t *testing.T) {
		c := tcpFrom(t, env.tcpAddr, "127.0.0.1")
		checkLingerReply(t, c, "sha256sum\n", over)
	})
	t.Run("refused for max-conns", func(t *testing.T) {
		env := startEnv(t, envConfig{idle: defaultTestTimeout, routes: []string{"wc -c"}, tcp: tcpSettings{MaxConns: 1, drainTimeout: 10 * defaultTestTimeout}})
		// A route-port job waiting for its input holds the one place.
		tcpFrom(t, env.routes["wc -c"], "127.0.0.1")
		env.obs.waitStarted(t)
		c := tcpFrom(t, env.tcpAddr, "127.0.0.1")
		checkLingerReply(t, c, "", "halfclose: error: RESOURCE_EXHAUSTED: too many connections: limit 1\n")
	})
}

func checkLingerReply(t *testing.T, c *net.TCPConn, first, want string) {
	t.Helper()
	reply, upErr, readErr := uploadAfterError(t, c, first)
	if upErr != nil || readErr != nil || reply != want {
		t.Fatalf("reply %q (read: %v), upload: %v; want %q, the whole upload sent, a clean end", reply, readErr, upErr, want)
	}
}

// TestTCPErrorLineReadFirst: a client that reads its error line and the
// server's FIN first, and only then sends on (64 MiB) and ends its
// input, has every write taken and its FIN awaited: the server closes
// once that FIN has come (ConnHook), not before.
func TestTCPErrorLineReadFirst(t *testing.T) {
	_, addr, closed := startDrainTCP(t, 0)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(defaultTestTimeout))
	if _, err := io.WriteString(c, "frob\n"); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(c)
	if err != nil || string(reply) != frobLine {
		t.Fatalf("reply %q, %v; want %q", reply, err, frobLine)
	}
	buf := make([]byte, 1<<20)
	for i := range 64 {
		if _, err := c.Write(buf); err != nil {
			t.Fatalf("write of MiB %d after the line: %v", i+1, err)
		}
	}
	select {
	case <-closed:
		t.Fatal("the server closed before its client's FIN")
	default:
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(defaultTestTimeout):
		t.Fatal("the server did not close after its client's FIN")
	}
}

// TestTCPFinWaitBounded: a client that sends on after its error line and
// never ends is closed once --tcp-fin-wait is over (here at once): its
// writes fail. Without the bound the server read it for as long as it
// sent.
func TestTCPFinWaitBounded(t *testing.T) {
	env := startEnv(t, envConfig{idle: defaultTestTimeout, tcp: tcpSettings{drainTimeout: time.Nanosecond}})
	c := tcpFrom(t, env.tcpAddr, "127.0.0.1")
	if _, err := io.WriteString(c, "frob\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for {
		if _, err := c.Write(buf); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("still taking the upload after %v", defaultTestTimeout)
			}
			break // reset: the server closed with input unread
		}
	}
	// The line came before the reset, and is still readable.
	reply, _ := io.ReadAll(c)
	if string(reply) != frobLine {
		t.Fatalf("reply %q, want %q", reply, frobLine)
	}
}
