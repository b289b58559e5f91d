package server

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/oracle"
	"github.com/halfclose/halfclose/internal/testenv"
	"golang.org/x/sys/unix"
)

// TestTCPQueuedBeforeServeResets: every connection has SO_LINGER 0 while
// its job reads the input (armCrashReset), those queued on the listener
// before Serve armed it (which inherit nothing: armConnReset, counted by
// the listener's TCP_INFO, plus a margin of one a CPU) as those accepted
// after; and each still gets its whole reply.
func TestTCPQueuedBeforeServeResets(t *testing.T) {
	input := bytes.Repeat([]byte("0123456789abcdef"), 64)
	for _, tc := range []struct {
		name, pipeline string
		route          bool
	}{{"command port", "sha256sum", false}, {"raw route port", "sha256sum", true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := &TCPServer{Engine: engine.New(engine.Config{Registry: testRegistry()}), RawAccept: RawAcceptInline}
			ln, err := Listen("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			send := func(c net.Conn) {
				if !tc.route {
					io.WriteString(c, tc.pipeline+"\n")
				}
				c.Write(input)
			}
			dial := func() *net.TCPConn {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				c.SetDeadline(time.Now().Add(defaultTestTimeout))
				send(c)
				return c.(*net.TCPConn)
			}
			// Connections queued before Serve, more than the margin
			// of one a CPU that armCrashReset adds to the count: the
			// listener's queue holds them all (their handshakes
			// complete).
			early := runtime.NumCPU() + 2
			var clients []*net.TCPConn
			for range early {
				clients = append(clients, dial())
			}
			testenv.Until(t, hangTimeout, "the connections queued", func() bool { return listenQueued(t, ln) == early })
			accepted := make(chan net.Conn, early+1)
			s.accepted = func(c net.Conn) { accepted <- c }
			p, err := s.Engine.Compile(tc.pipeline)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.route {
				p = nil
			}
			done := make(chan error, 1)
			go func() { done <- s.serve(ln, p) }()
			t.Cleanup(func() { s.Close(); <-done })
			// One more once Serve has accepted (and so armed the
			// listener): it inherits.
			scs := []net.Conn{testenv.Recv(t, hangTimeout, "an accepted connection", accepted)}
			clients = append(clients, dial())
			for i, c := range clients {
				if i == len(scs) {
					scs = append(scs, testenv.Recv(t, hangTimeout, "an accepted connection", accepted))
				}
				sc := scs[i]
				// The job has read the whole input (all of it
				// acknowledged, none left unread), so its connection
				// was armed before (handle does so first).
				testenv.Until(t, hangTimeout, "the server to read the input", func() bool {
					return queued(t, c, unix.SIOCOUTQ) == 0 && queued(t, sc, unix.SIOCINQ) == 0
				})
				if l := lingerOf(t, sc); l.Onoff == 0 || l.Linger != 0 {
					t.Errorf("connection %d (of %d; the first %d queued before Serve): SO_LINGER %+v while its job reads; want on, 0", i+1, len(clients), early, l)
				}
				c.CloseWrite()
				b, err := io.ReadAll(c)
				if want := oracle.Output(t, input, tc.pipeline); string(b) != want || err != nil {
					t.Errorf("connection %d: reply %q, %v; want %q, then the end", i+1, b, err, want)
				}
			}
		})
	}
}

// listenQueued is the count of connections in ln's accept queue.
func listenQueued(t *testing.T, ln net.Listener) int {
	t.Helper()
	info := sockopt(t, ln, func(fd int) (*unix.TCPInfo, error) {
		return unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	})
	return int(info.Unacked)
}

// queued is the count of bytes in c's receive queue, unread (SIOCINQ),
// or its send queue, unacknowledged (SIOCOUTQ).
func queued(t *testing.T, c net.Conn, req uint) int {
	t.Helper()
	return sockopt(t, c, func(fd int) (int, error) { return unix.IoctlGetInt(fd, req) })
}

// lingerOf is c's SO_LINGER.
func lingerOf(t *testing.T, c net.Conn) *unix.Linger {
	t.Helper()
	return sockopt(t, c, func(fd int) (*unix.Linger, error) {
		return unix.GetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER)
	})
}

// sockopt returns what get reads of the descriptor of s (a connection or
// listener of net's).
func sockopt[T any](t *testing.T, s any, get func(fd int) (T, error)) T {
	t.Helper()
	var v T
	var gerr error
	rc, err := s.(syscall.Conn).SyscallConn()
	if err == nil {
		err = rc.Control(func(fd uintptr) { v, gerr = get(int(fd)) })
	}
	if err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	return v
}

// embeddingListener is a library user's listener that embeds net's (and
// so has its SyscallConn) and hands out connections of its own, which
// hide *net.TCPConn's SetLinger and CloseWrite.
type embeddingListener struct {
	*net.TCPListener
	closed chan struct{} // closed as the first connection is
}

func (l *embeddingListener) Accept() (net.Conn, error) {
	c, err := l.TCPListener.Accept()
	if err != nil {
		return nil, err
	}
	return &ownConn{Conn: c, closed: l.closed}, nil
}

type ownConn struct {
	net.Conn
	closed chan struct{}
}

func (c *ownConn) Close() error {
	err := c.Conn.Close()
	close(c.closed)
	return err
}

// TestTCPWrappedListenerReplyWhole: a listener handed to Serve whose
// connections the server cannot disarm (no SetLinger) is not armed
// through its socket either: their close, after a whole reply still
// queued for a client that reads slowly, is a FIN after the reply, not a
// reset that throws it away.
func TestTCPWrappedListenerReplyWhole(t *testing.T) {
	s := &TCPServer{Engine: engine.New(engine.Config{Registry: testRegistry()})}
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	el := &embeddingListener{TCPListener: ln.(*net.TCPListener), closed: make(chan struct{})}
	s.init() // s.listeners, read below
	done := make(chan error, 1)
	go func() { done <- s.Serve(el) }()
	t.Cleanup(func() { s.Close(); <-done })
	// Once Serve has begun (a connection queued before it is armed on
	// its own, as the listener's are not yet).
	testenv.Until(t, hangTimeout, "Serve to begin", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.listeners) > 0
	})
	dialer := net.Dialer{Timeout: defaultTestTimeout, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096) })
	}}
	nc, err := dialer.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := nc.(*net.TCPConn)
	defer c.Close()
	c.SetDeadline(time.Now().Add(defaultTestTimeout))
	input := bytes.Repeat([]byte("0123456789abcdef"), 200000/16)
	io.WriteString(c, "testcat\n")
	c.Write(input)
	c.CloseWrite()
	// The reply is written, and the connection closed, before the client
	// reads: most of it waits in the server's send queue.
	testenv.Recv(t, hangTimeout, "the server's close", el.closed)
	b, err := io.ReadAll(c)
	if want := oracle.Output(t, input, "cat"); string(b) != want || err != nil {
		t.Errorf("%d bytes of the reply, then %v; want all %d, then the end", len(b), err, len(want))
	}
}
