package server

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/halfclose/halfclose/internal/loopcc"
)

// GRPCReadBufSize is the read buffer of a gRPC connection the listener of
// NewGRPCListener hands out: grpc-go's frames are copied out of it. The
// server then gives grpc-go no read buffer of its own
// (grpc.ReadBufferSize(0)), or every byte would be copied twice.
const GRPCReadBufSize = 256 << 10

// NewGRPCListener wraps the gRPC listener l so that the connections it
// hands out are read and written with raw system calls. grpc-go reads
// and writes its connection through the runtime's syscall path
// (entersyscall), and such calls keep Go's sysmon thread polling every
// 20 µs (and let it take back the processor of a call that lasts): on an
// upload, sysmon was an eighth of the server's CPU samples (perf, 1 GiB
// of `head -c 0` over gRPC; 6 % with `b3sum`, where only the writes of
// WINDOW_UPDATE frames were left to wake it). A read or write of a
// non-blocking socket never blocks (an empty or full socket parks the
// goroutine in the netpoller, under the connection's deadlines, as
// before), so both are issued with syscall.RawSyscall instead, as the
// raw-TCP adapter reads (rawReader).
//
// bufSize > 0 buffers the reads: a read of bufSize at most fills a pooled
// buffer that goes back to the pool once read out, so an idle connection
// holds none (as grpc-go's own reader does); serve such a listener with
// grpc.ReadBufferSize(0). bufSize 0 reads through (for TLS: the TLS layer
// reads records and grpc-go buffers what it decrypts).
//
// grpc-go sets TCP_USER_TIMEOUT to its keepalive timeout only on a
// *net.TCPConn; the listener sets userTimeout itself (0: not set).
//
// When l is a GentleListener, each connection Accept hands out counts as
// unused there until grpc-go first uses it (GentleListener.hold), so that
// StopAccepting, and the GracefulStop after it, waits for grpc-go to have
// begun serving every connection accepted before the stop; see hold.
//
// limits, when given (at most one), caps the connections it hands out
// (GRPCConnLimits).
func NewGRPCListener(l net.Listener, bufSize int, userTimeout time.Duration, limits ...GRPCConnLimits) net.Listener {
	var cl *connLimits
	if len(limits) > 0 {
		cl = newConnLimits(limits[0])
	}
	return newGRPCListener(l, bufSize, userTimeout, cl)
}

// NewGRPCListeners is NewGRPCListener for the sockets of one listen
// address (one on each address of a host name): their connections
// count against one GRPCConnLimits, as those of one socket do, so a
// name of two addresses does not double --grpc-max-conns.
func NewGRPCListeners[L net.Listener](ls []L, bufSize int, userTimeout time.Duration, limits GRPCConnLimits) []net.Listener {
	cl := newConnLimits(limits)
	out := make([]net.Listener, len(ls))
	for i, l := range ls {
		out[i] = newGRPCListener(l, bufSize, userTimeout, cl)
	}
	return out
}

func newGRPCListener(l net.Listener, bufSize int, userTimeout time.Duration, limits *connLimits) *grpcListener {
	gl := &grpcListener{Listener: l, bufSize: bufSize, userTimeout: userTimeout, limits: limits}
	limits.use()
	gl.gentle, _ = l.(*GentleListener)
	if gl.gentle != nil {
		gl.gentle.setAfterStop(gl.cutHandshakes)
	}
	if bufSize > 0 {
		gl.pool = &sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}
	}
	return gl
}

type grpcListener struct {
	net.Listener
	gentle      *GentleListener // l when it is one; nil otherwise
	bufSize     int
	userTimeout time.Duration
	pool        *sync.Pool  // of *[]byte of len bufSize; nil when bufSize is 0
	limits      *connLimits // nil: no cap; shared by NewGRPCListeners' listeners
	closeOnce   sync.Once   // the listener's stop of limits

	hsMu sync.Mutex // protects the fields below, and orders the deadlines of the connections in handshake
	// handshaking holds the connections whose handshake grpc-go has
	// begun and not ended (see setDeadline).
	handshaking map[*grpcConn]struct{}
	// cutAt, once the listener's stop is over, is the deadline of every
	// handshake still under way; zero before.
	cutAt time.Time
	// onHandshake, when set (tests), is called as grpc-go begins a
	// connection's handshake.
	onHandshake func()
}

// Handshake phases of a grpcConn (grpcConn.hs).
const (
	hsNone  = iota // grpc-go has not begun its handshake
	hsUnder        // grpc-go is reading the client's TLS handshake or preface
	hsDone         // the transport is up, or the connection closed
)

// setDeadline follows grpc-go's handshake on c: handleRawConn sets the
// connection's deadline to grpc.ConnectionTimeout (--header-timeout)
// before its TLS handshake and the client's HTTP/2 preface and SETTINGS
// (NewServerTransport), and clears it after; nothing else in grpc-go or
// halfclose calls SetDeadline on it (grpc-go v1.85.0, server.go,
// handleRawConn). Once the stop is over (cutAt), a handshake's deadline
// is cutAt at the latest.
func (l *grpcListener) setDeadline(c *grpcConn, t time.Time) error {
	l.hsMu.Lock()
	defer l.hsMu.Unlock()
	switch {
	case c.hs == hsNone && !t.IsZero():
		c.hs = hsUnder
		if l.handshaking == nil {
			l.handshaking = make(map[*grpcConn]struct{})
		}
		l.handshaking[c] = struct{}{}
		if l.onHandshake != nil {
			l.onHandshake()
		}
	case c.hs == hsUnder && t.IsZero():
		c.hs = hsDone
		delete(l.handshaking, c)
	}
	if c.hs == hsUnder && !l.cutAt.IsZero() && l.cutAt.Before(t) {
		t = l.cutAt
	}
	return c.Conn.SetDeadline(t)
}

// closed forgets c's handshake.
func (l *grpcListener) closed(c *grpcConn) {
	l.hsMu.Lock()
	defer l.hsMu.Unlock()
	if c.hs == hsUnder {
		delete(l.handshaking, c)
	}
	c.hs = hsDone
}

// cutHandshakes runs when the listener's stop is over (GentleListener's
// afterStop), before GracefulStop: every handshake grpc-go has begun and
// not ended, and every one it begins later, must end within wait. grpc-go's
// GracefulStop (and Stop) first waits for the goroutine of every
// connection still in its handshake (Serve's serveWG), and only then sends
// GOAWAY to the others: one connection that sent nothing (a port scanner,
// an L4 health check that holds its connection, a client stalled in its
// TLS handshake) kept a stopping server up, and its other connections
// taking new streams, for --header-timeout (9.8 s of 10 s measured).
// wait (useWait, 1 s) lets a client accepted just before the stop, whose
// preface is a round trip away, be served and get GOAWAY rather than a
// closed connection; the handshake of a client that sends nothing in it
// fails on its deadline, and grpc-go closes the connection, unread, so
// with a FIN. Connections past their handshake are untouched.
func (l *grpcListener) cutHandshakes(wait time.Duration) {
	l.hsMu.Lock()
	defer l.hsMu.Unlock()
	l.cutAt = time.Now().Add(wait)
	for c := range l.handshaking {
		c.Conn.SetDeadline(l.cutAt)
	}
}

// Close stops accepting, and logs the refusals not logged yet once the
// last listener sharing its limits is closed.
func (l *grpcListener) Close() error {
	l.closeOnce.Do(l.limits.stop)
	return l.Listener.Close()
}

func (l *grpcListener) Accept() (net.Conn, error) {
	var (
		c       net.Conn
		release func()
	)
	for {
		var err error
		if c, err = l.Listener.Accept(); err != nil {
			return nil, err
		}
		if release = l.limits.admit(c); release != nil {
			break
		}
	}
	gc := newGRPCConn(c, l.bufSize, l.pool, l.userTimeout)
	gc.owner = l
	gc.release = release
	// A queued connection of the stop's drain counts as unused already
	// (queuedConn); one taken before the stop is held until its use.
	if _, queued := c.(*queuedConn); !queued && l.gentle != nil && l.gentle.hold() {
		gc.gentle = l.gentle
		gc.held.Store(true)
	}
	return gc, nil
}

// grpcConn is a server connection whose reads and writes are raw system
// calls, its reads buffered or not (NewGRPCListener). Only grpc-go's
// reader goroutine reads it, and only its writer writes it.
type grpcConn struct {
	net.Conn
	rd   io.Reader  // raw reads of the socket, or Conn itself
	wr   io.Writer  // raw writes of the socket, or Conn itself
	pool *sync.Pool // nil: unbuffered
	size int        // the pool's buffers' size
	buf  *[]byte    // the pooled buffer holding buf[r:w] unread; nil when empty
	r, w int
	err  error  // the error of the read that filled buf, returned once it is empty
	scan h2Scan // counts the DATA bytes read (scan.t nil: not counted)
	// unregister removes the connection's traffic from conns, on Close.
	unregister func()
	// held is true until the connection's first use (a method grpc-go
	// calls: SetDeadline first, or Close when it is stopping), which
	// releases gentle's hold on it.
	held   atomic.Bool
	gentle *GentleListener
	// owner follows the connection's handshake (setDeadline); nil in
	// tests that make a grpcConn alone.
	owner *grpcListener
	hs    int // handshake phase (hsNone...); owner.hsMu protects it
	// release gives back the connection's places of the listener's
	// limits, once, on Close; nil when none.
	release func()
}

// used releases the listener's hold at the connection's first use.
// grpc-go's Serve hands an accepted connection to a goroutine
// (handleRawConn) that first looks whether the server is stopping, and
// closes the connection if so; else it sets the deadline of the
// handshake (SetDeadline) before any read or write, then reads the
// client's preface and settings (NewServerTransport), while
// GracefulStop waits for that goroutine, and a transport added after
// the drain began is drained (GOAWAY) at once (grpc-go v1.85.0,
// server.go: Serve, handleRawConn, stop, addConn).
func (c *grpcConn) used() {
	if c.held.Load() && c.held.Swap(false) {
		c.gentle.release()
	}
}

func (c *grpcConn) SetDeadline(t time.Time) error {
	c.used()
	if c.owner != nil {
		return c.owner.setDeadline(c, t)
	}
	return c.Conn.SetDeadline(t)
}

func (c *grpcConn) SetReadDeadline(t time.Time) error {
	c.used()
	return c.Conn.SetReadDeadline(t)
}

func (c *grpcConn) SetWriteDeadline(t time.Time) error {
	c.used()
	return c.Conn.SetWriteDeadline(t)
}

func newGRPCConn(c net.Conn, bufSize int, pool *sync.Pool, userTimeout time.Duration) *grpcConn {
	tc := tcpConnOf(c)
	if tc != nil && userTimeout > 0 {
		setUserTimeout(tc, userTimeout)
	}
	if tc != nil {
		loopcc.Accepted(tc) // a client or proxy on this machine: Reno
	}
	gc := &grpcConn{Conn: c, rd: c, wr: c, pool: pool, size: bufSize, unregister: func() {}}
	if tc != nil {
		// Its streams' idle timeouts see the bytes of messages still
		// arriving (inputWatch).
		gc.scan.t, gc.unregister = registerTraffic(c)
	}
	// A connection StopAccepting's drain hands out (queuedConn) must see
	// its reads: only an accepted *net.TCPConn is read raw.
	if tc, ok := c.(*net.TCPConn); ok {
		if raw := newRawReader(tc); raw != nil {
			gc.rd = raw
		}
		if raw := newRawWriter(tc); raw != nil {
			gc.wr = raw
		}
	}
	return gc
}

// tcpConnOf returns c's socket, if it is a TCP connection of ours.
func tcpConnOf(c net.Conn) *net.TCPConn {
	switch c := c.(type) {
	case *net.TCPConn:
		return c
	case *queuedConn:
		return c.TCPConn
	}
	return nil
}

func (c *grpcConn) Write(p []byte) (int, error) {
	c.used()
	return c.wr.Write(p)
}

// Close removes the connection's traffic from conns.
func (c *grpcConn) Close() error {
	c.used()
	c.unregister()
	if c.release != nil {
		c.release()
	}
	if c.owner != nil {
		c.owner.closed(c)
	}
	return c.Conn.Close()
}

func (c *grpcConn) Read(p []byte) (int, error) {
	c.used()
	n, err := c.read(p)
	if n > 0 && c.scan.t != nil {
		c.scan.scan(p[:n])
	}
	return n, err
}

func (c *grpcConn) read(p []byte) (int, error) {
	if c.pool == nil {
		return c.rd.Read(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if c.buf == nil {
		if err := c.err; err != nil {
			c.err = nil
			return 0, err
		}
		if len(p) >= c.size {
			// As large as the buffer: read straight into p.
			return c.rd.Read(p)
		}
		b := c.pool.Get().(*[]byte)
		n, err := c.rd.Read(*b)
		if n <= 0 {
			c.pool.Put(b)
			return 0, err
		}
		c.buf, c.r, c.w, c.err = b, 0, n, err
	}
	n := copy(p, (*c.buf)[c.r:c.w])
	c.r += n
	if c.r == c.w {
		c.pool.Put(c.buf)
		c.buf = nil
	}
	return n, nil
}
