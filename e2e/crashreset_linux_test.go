package e2e

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/testpki"
)

// TestTCPCrashResets: a raw-TCP connection of a server that dies (SIGKILL,
// as a crash or the OOM killer) ends with a reset until its reply is
// whole, never with the FIN of a whole reply. The kernel closes a dead
// process's sockets as close(2) does: a FIN after what was written, which
// a raw client reads as the end of a complete reply (a reply cut short;
// or, killed while reading the input, an empty reply: what a filter that
// matched nothing prints). Once the reply is whole (its FIN sent), a
// crash must not reset it: a whole reply still queued for a slow reader
// when the server is killed arrives whole, then the end.
func TestTCPCrashResets(t *testing.T) {
	t.Parallel()
	dial := func(t *testing.T, addr string) *net.TCPConn {
		t.Helper()
		c, err := net.DialTimeout("tcp", addr, defaultTestTimeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(defaultTestTimeout))
		return c.(*net.TCPConn)
	}
	// allRead waits until the server has read every byte sent on addr's
	// connections (and the client's are acknowledged): a kill then finds
	// an empty receive queue, which the kernel would reset for anyway.
	allRead := func(t *testing.T, addr string) {
		t.Helper()
		_, port, _ := net.SplitHostPort(addr)
		waitFor(t, "the server to read its input", func() bool { return loopbackQueuesEmpty(t, port) })
	}
	wantReset := func(t *testing.T, c net.Conn, before int64) {
		t.Helper()
		n, err := io.Copy(io.Discard, c)
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("after %d bytes of the reply: %v; want a reset (ECONNRESET), not an end that looks whole", before+n, err)
		}
	}

	t.Run("command port, killed reading the input", func(t *testing.T) {
		t.Parallel()
		d := launch(t)
		c := dial(t, d.TCP)
		if _, err := io.WriteString(c, "grep zzz\n"+strings.Repeat("a\n", 1000)); err != nil {
			t.Fatal(err)
		}
		allRead(t, d.TCP)
		d.kill(t)
		wantReset(t, c, 0)
	})
	t.Run("route port, killed reading the input", func(t *testing.T) {
		t.Parallel()
		// A digest route: its connections are accepted with raw system
		// calls (rawaccept_linux.go).
		d := launch(t, "--tcp-route", "127.0.0.1:0=sha256sum")
		addr := d.Routes["sha256sum"]
		c := dial(t, addr)
		if _, err := io.WriteString(c, strings.Repeat("a\n", 1000)); err != nil {
			t.Fatal(err)
		}
		allRead(t, addr)
		d.kill(t)
		wantReset(t, c, 0)
	})
	t.Run("command port, killed writing the reply", func(t *testing.T) {
		t.Parallel()
		d := launch(t)
		c := dial(t, d.TCP)
		if _, err := io.WriteString(c, "b3sum -l 60000000 --no-names\nx"); err != nil {
			t.Fatal(err)
		}
		c.CloseWrite()
		// 60 MB: far more than the socket buffers hold while this test
		// does not read: the server is writing when it is killed.
		first := make([]byte, 1<<20)
		if _, err := io.ReadFull(c, first); err != nil {
			t.Fatal(err)
		}
		d.kill(t)
		wantReset(t, c, int64(len(first)))
	})
	// slowDial connects to addr with a small receive buffer, which the
	// test does not read until the server is killed.
	slowDial := func(t *testing.T, addr string) *net.TCPConn {
		t.Helper()
		dialer := net.Dialer{Timeout: defaultTestTimeout, Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
		}}
		nc, err := dialer.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c := nc.(*net.TCPConn)
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(defaultTestTimeout))
		return c
	}
	// serverClosed waits until the server has closed its connections on
	// addr: none is ESTABLISHED or CLOSE_WAIT any more (LAST_ACK or
	// FIN_WAIT1 with the reply still queued, or gone if it was reset).
	serverClosed := func(t *testing.T, addr string) {
		t.Helper()
		waitFor(t, "the server to close its connection", func() bool {
			return !slices.ContainsFunc(socketStates(t, addr, true), func(s string) bool { return s == tcpEstablished || s == tcpCloseWait })
		})
	}
	const size = 200000
	input := strings.Repeat("0123456789abcdef", size/16)
	t.Run("command port, killed after its reply was whole", func(t *testing.T) {
		t.Parallel()
		// A client that reads slowly (a small receive buffer, not read
		// yet): the reply and the FIN wait in the server's send queue
		// when its connection is closed (LAST_ACK), and then the
		// server is killed. The kernel sends it on: all of it, then
		// the end. (A close with SO_LINGER 0 would drop it and reset.)
		d := launch(t)
		c := slowDial(t, d.TCP)
		if _, err := io.WriteString(c, "head -c "+strconv.Itoa(size)+"\n"+input); err != nil {
			t.Fatal(err)
		}
		c.CloseWrite()
		serverClosed(t, d.TCP)
		d.kill(t)
		reply, err := io.ReadAll(c)
		if err != nil || string(reply) != input {
			t.Fatalf("%d bytes of the reply, then %v; want all %d, then the end", len(reply), err, size)
		}
	})
	t.Run("TLS command port, killed after its reply was whole", func(t *testing.T) {
		t.Parallel()
		// As above over TLS: the reply, its close_notify and the FIN
		// wait in the send queue of a closed connection (crypto/tls's
		// CloseWrite sends no FIN: endReply clears the linger through
		// the tls.Conn's rawConn).
		pki := testpki.New(t)
		d := launch(t, "--tls-cert", pki.ServerCert, "--tls-key", pki.ServerKey)
		c := slowDial(t, d.TCP)
		tc := tls.Client(c, pki.ClientTLS(t, false))
		if _, err := io.WriteString(tc, "head -c "+strconv.Itoa(size)+"\n"+input); err != nil {
			t.Fatal(err)
		}
		if err := tc.CloseWrite(); err != nil { // close_notify
			t.Fatal(err)
		}
		c.CloseWrite()
		serverClosed(t, d.TCP)
		d.kill(t)
		reply, err := io.ReadAll(tc)
		if err != nil || string(reply) != input {
			t.Fatalf("%d bytes of the reply, then %v; want all %d, then close_notify and the end", len(reply), err, size)
		}
	})
}

// Socket states in /proc/net/tcp.
const (
	tcpEstablished = "01"
	tcpCloseWait   = "08" // the peer's FIN came; this side may still write
)

// socketStates returns the states (/proc/net/tcp's hex codes) of the IPv4
// sockets whose local (local true) or remote port is addr's.
func socketStates(t *testing.T, addr string, local bool) []string {
	t.Helper()
	_, port, _ := net.SplitHostPort(addr)
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	suffix := fmt.Sprintf(":%04X", p)
	field := 2
	if local {
		field = 1
	}
	var states []string
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && strings.HasSuffix(f[field], suffix) {
			states = append(states, f[3])
		}
	}
	return states
}
