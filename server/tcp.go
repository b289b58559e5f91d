package server

import (
	"bufio"
	"bytes"
	"container/list"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/loopcc"
	"github.com/halfclose/halfclose/internal/sockerr"
)

// ErrServerClosed is returned by TCPServer.Serve after Shutdown or Close.
var ErrServerClosed = errors.New("halfclose: server closed")

// TCP adapter defaults.
const (
	DefaultHeaderTimeout  = 10 * time.Second
	DefaultIdleTimeout    = 60 * time.Second
	DefaultMaxHeaderBytes = 4 << 10
	DefaultMaxConns       = 1024
	DefaultRecvLowat      = 64 << 10
	MaxRecvLowat          = 16 << 20 // the highest RecvLowat
	// DefaultFinWait bounds how long a connection still reads, after its
	// reply or error line, to see the client's FIN: closing with unread
	// input would make the kernel send an RST that can destroy the reply
	// in flight (FinWait).
	DefaultFinWait = 5 * time.Second
	// drainBytes bounds what answerHTTP2 reads after its GOAWAY.
	drainBytes = 4 << 20
	// cutDrainWait is how long a connection whose job a shutdown cut (the
	// grace over, or a second signal) still reads its client's input
	// after the error line, for the same reason: the cut must not turn
	// the line into a reset. It matches the second the daemon gives cut
	// gRPC calls to send their status.
	cutDrainWait = time.Second
)

// TCPServer is the raw-TCP adapter: the socket's half-close is the end of
// input. A connection on a command port sends a header line with the
// pipeline, then the input; one on a route port sends only input. The reply
// is the pipeline's output, then the server's FIN. It is shaped like
// net/http.Server: Serve, Shutdown, Close, tracked connections.
type TCPServer struct {
	Engine         *engine.Engine
	HeaderTimeout  time.Duration // time to receive the header line
	IdleTimeout    time.Duration // no input (or no reply progress) for this long aborts
	MaxHeaderBytes int           // longest header line, "\n" included
	MaxConns       int           // open connections across all listeners
	TLSConfig      *tls.Config   // when set, every listener speaks TLS
	Logger         *slog.Logger
	Observer       Observer
	// ConnHook, when set, is called as each connection opens and closes,
	// with +1 and -1, for metrics.
	ConnHook func(delta int)
	// Allow, when set, is asked whether a connection from this IP may
	// start; a refusal gets a RESOURCE_EXHAUSTED error line.
	Allow func(ip string) bool
	// RequireEnd refuses a command-port header line without @size or
	// @chunked: every input must prove its end (--require-end).
	RequireEnd bool
	// Auth checks the @token=TOKEN option of a command-port header line;
	// RequireToken refuses a header line without one (UNAUTHENTICATED).
	// Without Auth, @token is ignored.
	Auth         *TokenAuth
	RequireToken bool
	// PeerJobs caps the jobs of one peer IP (shared with gRPC); nil caps
	// nothing.
	PeerJobs *PeerCap
	// PeerRequests caps the open connections of one peer IP (shared with
	// gRPC's streams); nil caps nothing.
	PeerRequests *PeerCap
	// PeerKeys says which addresses are one peer for PeerJobs,
	// PeerRequests and Allow.
	PeerKeys PeerKeys
	// NoSendFile reads the spilled part of a reply into the process to
	// write it, instead of sending it from the spill file with
	// sendfile(2), as plain TCP connections do (--tcp-sendfile=false).
	NoSendFile bool
	// RawAccept says which plain listeners accept with raw system calls
	// and serve rawTCPConns (rawaccept_linux.go; --tcp-raw-accept):
	// RawAcceptInline (or ""), RawAcceptOff, RawAcceptAll. Linux amd64
	// and arm64 only; elsewhere, and with TLS, net's accept serves all.
	RawAccept string
	// RecvLowat is the SO_RCVLOWAT a job's connection gets once its input
	// is past 1 MiB (--tcp-recv-lowat; 0: DefaultRecvLowat; < 0: never).
	RecvLowat int
	// FinWait is how long a connection, its reply or error line sent
	// and half-closed, reads and drops what its client still sends,
	// waiting for the client's FIN, before it closes (--tcp-fin-wait; 0:
	// DefaultFinWait). It is bounded in time only, not in bytes: a client
	// that is still uploading when the server decided its error goes on
	// until its FIN, and a close with its input unread would reset the
	// line away (see finish).
	FinWait time.Duration

	initOnce   sync.Once
	connSlots  chan struct{}
	ctx        context.Context // cancelled to abort every job (forced stop)
	cancel     context.CancelFunc
	live       liveConns // the connections handle serves, which the end of ctx stops
	inShutdown atomic.Bool
	quit       chan struct{} // closed when the shutdown starts: ends accept backoffs and idle connection goroutines
	idle       chan idleConn // to a connection goroutine waiting for another connection (serveConns)
	idleConns  atomic.Int32  // connection goroutines waiting, or about to, on idle
	life       lifecycle
	refused    *refusalLog
	// drainTimeout is how long a connection waits for the client's FIN
	// after its reply (FinWait; tests set it).
	drainTimeout time.Duration
	// cutDrain is cutDrainWait (tests set it).
	cutDrain time.Duration
	// closed is set by Close before it aborts the jobs: a connection
	// whose job it cut does not wait cutDrain for its client.
	closed atomic.Bool
	// drains are the connections waiting for their client's FIN
	// (finish), oldest first, at most maxDrains: such a connection holds
	// no place of MaxConns, and they were bounded by nothing else.
	// maxDrains is max(MaxConns, DefaultMaxConns), so that a burst
	// refused by a small MaxConns still gets its error lines whole (tests
	// set it).
	// One address holds at most PeerRequests' limit of them (its
	// oldest stops waiting past that), so that it cannot evict every
	// other address's with its own: refused connections wait too, and
	// cost it no more than a handshake each.
	drainMu    sync.Mutex
	drains     list.List             // of *drainingConn; protected by drainMu
	peerDrains map[string]*list.List // drains by address key, of *drainingConn; protected by drainMu
	maxDrains  int
	// buffersHeld counts the connections holding a reader and a writer
	// of connReaders and connWriters (tests read it).
	buffersHeld atomic.Int64
	// accepted, when set (tests), is called with each connection serve
	// accepts, before it is served.
	accepted func(net.Conn)
	// onHeaderRead, when set (tests), is called by readHeader once it has
	// read and checked a header, before it clears the header's deadline.
	onHeaderRead func()

	mu        sync.Mutex // protects listeners and inShutdown's transitions
	listeners map[*GentleListener]struct{}
	wg        sync.WaitGroup // every Serve loop and connection goroutine
}

func (s *TCPServer) init() {
	s.initOnce.Do(func() {
		if s.HeaderTimeout <= 0 {
			s.HeaderTimeout = DefaultHeaderTimeout
		}
		if s.MaxHeaderBytes <= 0 {
			s.MaxHeaderBytes = DefaultMaxHeaderBytes
		}
		if s.MaxConns <= 0 {
			s.MaxConns = DefaultMaxConns
		}
		if s.RecvLowat == 0 {
			s.RecvLowat = DefaultRecvLowat
		}
		if s.Logger == nil {
			s.Logger = slog.New(slog.DiscardHandler)
		}
		if s.drainTimeout <= 0 {
			s.drainTimeout = s.FinWait
		}
		if s.drainTimeout <= 0 {
			s.drainTimeout = DefaultFinWait
		}
		if s.cutDrain <= 0 {
			s.cutDrain = cutDrainWait
		}
		if s.maxDrains <= 0 {
			s.maxDrains = max(s.MaxConns, DefaultMaxConns)
		}
		s.connSlots = make(chan struct{}, s.MaxConns)
		s.ctx, s.cancel = context.WithCancel(context.Background())
		context.AfterFunc(s.ctx, s.live.stopAll)
		s.listeners = map[*GentleListener]struct{}{}
		s.quit = make(chan struct{})
		s.idle = make(chan idleConn)
		// A connection's job record is emitted by handle, which knows the
		// peer; see recorder.
		s.life = lifecycle{engine: s.Engine, obs: s.Observer, adapter: "tcp", peerJobs: s.PeerJobs, stopping: s.ctx}
		s.refused = newRefusalLog(s.Logger, s.Observer)
	})
}

// Serve accepts command-port connections on l until Shutdown or Close: each
// sends its pipeline as the first line. It returns ErrServerClosed then.
func (s *TCPServer) Serve(l net.Listener) error { return s.serve(l, nil) }

// ServeRoute accepts route-port connections on l: the whole stream is the
// input of p, compiled once (by Engine.Compile) for every connection.
func (s *TCPServer) ServeRoute(l net.Listener, p *engine.Pipeline) error {
	return s.serve(l, p)
}

func (s *TCPServer) serve(ln net.Listener, route *engine.Pipeline) error {
	s.init()
	// On a loopback address every peer is on this machine: the listener
	// has Reno, and its connections inherit it.
	perConnCC := !loopcc.Listening(ln)
	armed, early := armCrashReset(ln)
	l := NewGentleListener(ln)
	if s.acceptsRaw(route) {
		// Set before track: Close and Shutdown reach l through it. (A
		// GentleListener handed to serve is no *net.TCPListener: its
		// Accept is net's.)
		if a := newRawAccepter(ln); a != nil {
			l.rawAccept = a
			defer a.close() // serve is its only user
		}
	}
	if !s.track(l, true) {
		l.Close()
		return ErrServerClosed
	}
	s.wg.Add(1)
	defer s.wg.Done()
	defer s.track(l, false)
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.inShutdown.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || acceptShortage(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.Logger.Warn("tcp accept error; retrying", "err", err, "backoff", backoff)
				t := time.NewTimer(backoff)
				select {
				case <-t.C:
				case <-s.quit:
					t.Stop()
					return ErrServerClosed
				}
				continue
			}
			return err
		}
		backoff = 0
		// Every connection accepted is served, during a shutdown too:
		// the client has connected, and may have sent its whole input.
		// So a queued one counts as used at once: the listener's stop
		// need not wait for its first read, which a route-port job
		// waiting for a slot (--job-wait) puts off.
		if qc, ok := c.(*queuedConn); ok {
			qc.used()
		}
		if perConnCC {
			loopcc.Accepted(c) // a client or proxy on this machine: Reno
		}
		if s.accepted != nil {
			s.accepted(c)
		}
		if s.TLSConfig != nil {
			c = tls.Server(&rawConn{Conn: c}, s.TLSConfig)
		}
		ic := idleConn{c, route, armed}
		if early > 0 {
			early-- // queued before the listener was armed
			ic.armed = false
		}
		s.connHook(1)
		select {
		case s.idle <- ic: // a goroutine that served one before
		default:
			s.wg.Add(1)
			go s.serveConns(ic)
		}
	}
}

// acceptShortage reports an accept that failed for want of descriptors
// or memory, the process's (EMFILE) or the system's (ENFILE, ENOBUFS,
// ENOMEM: accept4(2)): serve backs off and accepts again, as net/http's
// Serve does. Returned, such an error ended the port's serving for good
// (TestServeAcceptOutOfResources).
func acceptShortage(err error) bool {
	return sockerr.TooManyFiles(err) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

// tcpConn is a plain TCP connection as the adapter serves it: a
// *net.TCPConn, or a rawTCPConn of the raw accept (rawaccept_linux.go),
// served alike (plainOf).
type tcpConn interface {
	net.Conn
	syscall.Conn
	CloseWrite() error
	SetLinger(sec int) error
}

// plainOf returns c as a tcpConn when it is a plain TCP connection: a
// *net.TCPConn, or a rawTCPConn. (A queuedConn, of a listener's stop, is
// served as any other net.Conn.)
func plainOf(c net.Conn) (tcpConn, bool) {
	if tc, ok := c.(*net.TCPConn); ok {
		return tc, true
	}
	return rawTCPOf(c)
}

// RawAccept's values: which plain listeners accept raw (acceptsRaw).
const (
	// RawAcceptInline: the route ports whose pipeline runs inline (the
	// default).
	RawAcceptInline = "inline"
	// RawAcceptOff: none; net's accept serves every listener.
	RawAcceptOff = "off"
	// RawAcceptAll: every plain listener, the command port's too, whose
	// spilled replies then go without sendfile (a test setting: the
	// suites exercise the raw connections on every path with it).
	RawAcceptAll = "all"
)

// rawAcceptDefault is the RawAccept of a server whose RawAccept is ""
// (RawAcceptInline; this package's tests set it from
// HALFCLOSE_TCP_RAW_ACCEPT, to run every test with a setting).
var rawAcceptDefault = RawAcceptInline

// acceptsRaw reports whether a listener serving route (nil: the command
// port) accepts with raw system calls (rawAccepter): on Linux, on amd64
// and arm64, a plain route port whose pipeline runs inline (a digest:
// Engine.Inline, a bounded reply, never spilled to be sent with
// sendfile, and no reset watch), unless RawAccept says otherwise.
// Those are the small jobs whose accept, TCP_NODELAY and close through
// net woke the runtime's sysmon thread (issue 14); other connections
// keep net's.
func (s *TCPServer) acceptsRaw(route *engine.Pipeline) bool {
	if !rawAcceptSupported || s.TLSConfig != nil {
		return false
	}
	mode := s.RawAccept
	if mode == "" {
		mode = rawAcceptDefault
	}
	switch mode {
	case RawAcceptOff:
		return false
	case RawAcceptAll:
		return true
	}
	return route != nil && s.Engine.Inline(route)
}

// idleConn is an accepted connection handed to a connection goroutine.
type idleConn struct {
	c     net.Conn
	route *engine.Pipeline
	armed bool // c has SO_LINGER 0 from its listener (armCrashReset)
}

// maxIdleConnGoroutines caps the connection goroutines that wait for the
// next connection after serving one.
const maxIdleConnGoroutines = 64

// serveConns serves c, then, while fewer than maxIdleConnGoroutines wait,
// waits for another connection from the accept loops until the shutdown
// begins. A new goroutine starts with a small stack that a job grows by
// copying it several times; reused, it has the grown stack already: that
// copying was a tenth of the server's CPU on small jobs (issue 14).
func (s *TCPServer) serveConns(ic idleConn) {
	defer s.wg.Done()
	for {
		s.handle(ic.c, ic.route, ic.armed)
		s.connHook(-1)
		if s.idleConns.Add(1) > maxIdleConnGoroutines {
			s.idleConns.Add(-1)
			return
		}
		select {
		case ic = <-s.idle:
			s.idleConns.Add(-1)
		case <-s.quit:
			s.idleConns.Add(-1)
			return
		}
	}
}

func (s *TCPServer) track(l *GentleListener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.inShutdown.Load() {
			return false
		}
		s.listeners[l] = struct{}{}
	} else {
		delete(s.listeners, l)
	}
	return true
}

// connHook counts a connection in or out, for metrics. (A forced stop
// reaches the connections through s.live, not through this.)
func (s *TCPServer) connHook(delta int) {
	if s.ConnHook != nil {
		s.ConnHook(delta)
	}
}

// Shutdown stops accepting, as gently as the kernel allows (see
// GentleListener: the connections already queued are accepted and served,
// not reset), lets every connection finish, and returns when they have or
// when ctx is done; then it aborts what is left (those jobs get
// UNAVAILABLE, never a partial result) and returns ctx's error.
func (s *TCPServer) Shutdown(ctx context.Context) error {
	s.init()
	var stopping sync.WaitGroup
	for _, l := range s.beginShutdown() {
		stopping.Go(func() { l.StopAccepting(ctx) })
	}
	stopping.Wait()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	defer s.refused.stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.cancel()
		<-done
		return ctx.Err()
	}
}

// Close stops at once: listeners close and every job is aborted; a
// connection waiting for its client's FIN closes without waiting more.
func (s *TCPServer) Close() error {
	s.init()
	s.closed.Store(true)
	for _, l := range s.beginShutdown() {
		l.Close()
	}
	s.cancel()
	// A wait that a shutdown's cut shortened already is woken too: the
	// cut cancelled the context, and the cancel above woke nothing (it
	// waited the rest of cutDrainWait). closed is stored first, and
	// finish looks at it after setting its deadline.
	s.drainMu.Lock()
	for e := s.drains.Front(); e != nil; e = e.Next() {
		e.Value.(*drainingConn).c.SetReadDeadline(time.Now())
	}
	s.drainMu.Unlock()
	s.wg.Wait()
	s.refused.stop()
	return nil
}

// beginShutdown makes later Serve calls return at once, ends accept
// backoffs, and returns the listeners to close.
func (s *TCPServer) beginShutdown() []*GentleListener {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.inShutdown.Swap(true) {
		close(s.quit)
	}
	var ls []*GentleListener
	for l := range s.listeners {
		ls = append(ls, l)
	}
	return ls
}

// connReader reads a job's input from the connection. A read that waits
// for the idle timeout without a byte fails the job (a slow but moving
// client is fine): the read's deadline is at least the idle timeout after
// the read began. Setting a deadline costs a lock and a timer update, so
// it is renewed only once a quarter of the timeout has passed since it was
// last set (not before every read: a job reads its input in some 10,000
// reads per GiB); a read that hits a deadline set earlier than the idle
// timeout after it began extends it to that and goes on. So a read is
// failed as idle exactly when it has waited the idle timeout.
//
// Once a job's input proves bulky (lowatAfter bytes), the socket's
// SO_RCVLOWAT is set to lowat: a read that waits then wakes once per
// lowat bytes instead of once per few segments, which halves the wake-ups
// and scheduler work per GiB. Reads still return what waits. A client
// slower than lowat per idle timeout would look idle to the read's
// deadline while its bytes wait under the mark: when the deadline comes
// and bytes wait, the mark goes back to 1 and the read goes on (so a
// client that sent anything within the idle timeout is never aborted as
// idle; one that then stops is aborted at most twice the timeout after
// its last byte).
type connReader struct {
	ctx    context.Context // the job's: once it is done, a deadline is not extended
	c      net.Conn
	r      io.Reader
	idle   time.Duration
	closed atomic.Bool
	// deadline is the read deadline last set by Read (zero: none yet).
	deadline time.Time

	tc      tcpConn // c, when SO_RCVLOWAT is to be set
	lowat   int     // the mark to set past lowatAfter (0: none, or set)
	base    int     // the mark set then
	mark    int     // SO_RCVLOWAT now, when lowatOn
	lowatOn bool    // SO_RCVLOWAT is set (to mark)
	n       int64   // bytes read
	// plain is set for a plain TCP connection, and fin once a read of it
	// returned io.EOF: the client's FIN came, and nothing can follow it.
	plain, fin bool
	// onFIN, when not nil, is called once, by the read that found the FIN;
	// no later Read touches the connection (watchReset then owns it).
	onFIN func()
	// lazy is set when r reads the connection with raw reads that call
	// armWait before they wait: the first read deadline is then set only
	// by a read that waits (start is when it began), not before every
	// job's first read. Setting one and clearing it at the close cost a
	// small job two updates of the runtime's timer heap (issue 14).
	lazy  bool
	start time.Time
	// tls is the connection under c when c is TLS: its reads count the
	// bytes that came (ciphertext), which a read of c returns only once
	// their record is whole. rawSeen is its count when last looked at.
	tls     *rawConn
	rawSeen int64
}

// waitArmer is told by a raw read or write of a connection that it is
// about to wait in the netpoller: it sets the deadline that wait needs,
// or returns the error that ends the read or write instead.
type waitArmer interface {
	armWait() error
}

// armWait sets the read deadline of a read that is to wait, when none
// was set before (lazy): the idle timeout after the read began. With no
// idle timeout there is none to set: a stop's deadline (Close, the forced
// stop's) is then the only one, and ends the wait as it is.
func (r *connReader) armWait() error {
	if r.idle <= 0 || !r.deadline.IsZero() {
		return nil
	}
	return r.setDeadline(r.start.Add(r.idle))
}

// bigMarkFactor is how much higher the mark of a job that keeps up with
// its client is (connInput raises it): such a job only waits for its
// client, and a higher mark wakes it less often for the same bytes.
const bigMarkFactor = 4

// setMark sets SO_RCVLOWAT to the base mark or, big, bigMarkFactor times
// it, once the mark is on (and not given up for a slow client). Only the
// reader of the connection calls it.
func (r *connReader) setMark(big bool) {
	if !r.lowatOn {
		return
	}
	m := r.base
	if big {
		m = min(r.base*bigMarkFactor, MaxRecvLowat)
	}
	if m != r.mark && setRecvLowat(r.tc, m) {
		r.mark = m
	}
}

// lowatAfter is how much input a job reads before its SO_RCVLOWAT is set:
// small jobs never pay the system calls.
const lowatAfter = 1 << 20

// endLowat puts SO_RCVLOWAT back to 1, if it was set: the connection is
// read after the job (for the client's FIN) as any other.
func (r *connReader) endLowat() {
	if r.lowatOn {
		setRecvLowat(r.tc, 1)
		r.lowatOn = false
	}
}

// Close makes a pending Read return; the engine calls it when a job fails
// before its input has ended.
func (r *connReader) Close() error {
	r.closed.Store(true)
	return r.c.SetReadDeadline(time.Now())
}

// setDeadline sets the read deadline to t and returns nil, or the error
// to return when r is closed or the job's context done: Close stores
// closed before it sets its deadline, and a forced stop sets its deadline
// after the context is done, so if neither is seen after ours is set,
// theirs comes after ours.
func (r *connReader) setDeadline(t time.Time) error {
	r.c.SetReadDeadline(t)
	r.deadline = t
	if r.closed.Load() {
		return errReaderClosed
	}
	if err := r.ctx.Err(); err != nil {
		return &connReadError{err}
	}
	return nil
}

func (r *connReader) Read(p []byte) (int, error) {
	var start time.Time // when this read began to wait
	if r.idle > 0 {
		start = time.Now()
	}
	if r.fin {
		return 0, io.EOF
	}
	if r.tls != nil {
		r.rawSeen = r.tls.got.Load()
	}
	for {
		if r.closed.Load() {
			return 0, errReaderClosed
		}
		if r.idle > 0 && r.lazy && r.deadline.IsZero() {
			// No deadline yet: the read sets one if it is to wait
			// (armWait). What setDeadline checks after setting it is
			// checked here.
			if err := r.ctx.Err(); err != nil {
				return 0, &connReadError{err}
			}
			r.start = start
		} else if r.idle > 0 && r.deadline.Sub(start) < r.idle-r.idle/4 {
			if err := r.setDeadline(start.Add(r.idle)); err != nil {
				return 0, err
			}
		}
		n, err := r.r.Read(p)
		r.n += int64(n)
		if err == io.EOF && r.plain {
			r.fin = true
			if r.onFIN != nil {
				r.onFIN()
			}
		}
		if err != nil && r.closed.Load() {
			return n, errReaderClosed
		}
		if err != nil && err != io.EOF {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && n == 0 {
				now := time.Now()
				if r.ctx.Err() == nil && r.lowatOn && recvQueued(r.tc) > 0 {
					// Bytes came, under the mark: a slow client, not an
					// idle one. Read what comes from now on.
					r.endLowat()
					start = now
					if err := r.setDeadline(start.Add(r.idle)); err != nil {
						return 0, err
					}
					continue
				}
				if r.ctx.Err() == nil && r.tls != nil {
					if got := r.tls.got.Load(); got != r.rawSeen {
						// Bytes of a TLS record came, but not all of
						// it: a slow client, not an idle one (a record
						// holds up to 16 KiB). Wait the idle timeout
						// from now.
						r.rawSeen = got
						start = now
						if err := r.setDeadline(start.Add(r.idle)); err != nil {
							return 0, err
						}
						continue
					}
				}
				if r.ctx.Err() == nil && now.Sub(start) < r.idle {
					// The deadline was set for an earlier read: this one
					// has not waited the idle timeout yet.
					if err := r.setDeadline(start.Add(r.idle)); err != nil {
						return 0, err
					}
					continue
				}
			}
			if errors.As(err, &ne) && ne.Timeout() {
				return n, &connReadError{errIdle(r.idle)}
			}
			return n, &connReadError{err}
		}
		if r.lowat > 0 && r.n >= lowatAfter {
			r.lowatOn = setRecvLowat(r.tc, r.lowat)
			r.base, r.mark = r.lowat, r.lowat
			r.lowat = 0 // once
		}
		return n, err
	}
}

// connWriter writes the reply, with the idle timeout renewed before every
// write, so a client that stops reading cannot hold a job forever.
type connWriter struct {
	c    net.Conn
	idle time.Duration
	n    int64
	// last is set for the reply's last write: the FIN (closeWrite)
	// follows it at once, and a raw write leaves its last short segment
	// to go with that FIN (rawWriter.writeWatched).
	last bool
	// raw writes c with raw system calls where it can (a plain TCP
	// connection on Linux: rawWriter), or is nil: a Syscall's
	// entersyscall lets the runtime hand the connection's P to another
	// thread while a loopback write runs the peer's receive path, and
	// keeps its sysmon thread waking every 20 µs.
	raw io.Writer
	// rc is the connection's RawConn (nil: none), for its raw reads and
	// its half-close as well: made once a connection (rawConnOf).
	rc syscall.RawConn

	// armed is set once a write deadline has been set by this writer
	// (begin, armWait): until then a raw write (a watchedWriter) sets
	// none unless it has to wait for room (armWait), so that a small
	// reply, which a socket takes at once, costs no timer. Only the
	// writing goroutine reads or sets it.
	armed bool

	mu      sync.Mutex // protects stopped, ending and the write deadline
	stopped bool
	// ending: the connection's last words are going out (fail's error
	// line and FIN), under their own deadline, which a stop leaves.
	ending bool

	prev, next *connWriter // in liveConns' list, under its mu
}

// liveConns is the set of connections handle serves, in a list through
// their writers, so that a forced stop (the end of the server's context)
// unblocks each one's read and write: a context.AfterFunc a connection
// cost three allocations and its registration and removal in the
// context's map (issue 14); a place in this list costs neither.
type liveConns struct {
	mu      sync.Mutex // protects head, stopped and the writers' prev and next
	head    *connWriter
	stopped bool
}

// add puts w in the set; once the set is stopped, it stops w at once.
func (l *liveConns) add(w *connWriter) {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		w.stopConn()
		return
	}
	w.next = l.head
	if l.head != nil {
		l.head.prev = w
	}
	l.head = w
	l.mu.Unlock()
}

// remove takes w out of the set, if it is in it.
func (l *liveConns) remove(w *connWriter) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.prev != nil {
		w.prev.next = w.next
	} else if l.head == w {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	}
	w.prev, w.next = nil, nil
}

// stopAll stops every connection of the set, and those added later.
func (l *liveConns) stopAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
	for w := l.head; w != nil; w = w.next {
		w.stopConn()
	}
}

// stopConn unblocks a read that waits on the client, and fails the
// reply's write in progress and every later one.
func (w *connWriter) stopConn() {
	w.c.SetReadDeadline(time.Now())
	w.stop()
}

// stop fails the write in progress, if any, and every later one: a forced
// stop must not wait for a client that does not read its reply. Once the
// connection is ending (end), the write deadline is left as it is: the
// error line goes out under DefaultFinWait, which bounds it.
func (w *connWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if !w.ending {
		w.c.SetWriteDeadline(time.Now())
	}
}

// watchWait implements slotWaiter: while the connection's job waits for a
// slot (--max-jobs, --max-jobs-per-peer) nothing reads the connection, so
// a client that reset it was found only when the wait ended, having held
// its goroutine, descriptor and --max-conns place for up to --job-wait,
// and was then recorded as refused for the limit (outcome limit). The
// socket's error is watched instead (watchReset, which reads nothing: the
// bytes the client sent wait in the kernel for the job, in order), and a
// reset refuses the job at once, as the reset it is (connReadError:
// outcome reset, and the connection is reset). A FIN is no abort: the
// input ended, and the job runs when a slot frees. On a TLS connection
// the TCP connection under it is watched. Where watchesReset is false
// (not Linux) nothing is watched: stop is nil.
func (w *connWriter) watchWait(ctx context.Context, abort func(error)) (stop func() (gone error)) {
	c := w.c
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
		if rc, ok := c.(*rawConn); ok {
			c = rc.Conn
		}
	}
	tc, ok := plainOf(c)
	if !watchesReset || !ok {
		return nil
	}
	stopWatch := watchReset(tc, func(err error) { abort(&connReadError{err}) })
	return func() error {
		reset := stopWatch()
		// The watch's stop ends its wait with a read deadline of now;
		// the job's reads set their own (a raw read only once it has to
		// wait, none with --idle-timeout 0), so it is cleared. Looked at
		// after that, as readHeader does: a forced stop ends ctx before
		// it sets its deadline of now (liveConns), so either it is seen
		// here or its deadline comes after this one.
		tc.SetReadDeadline(time.Time{})
		if ctx.Err() != nil {
			tc.SetReadDeadline(time.Now())
		}
		if reset != nil {
			return &connReadError{reset}
		}
		return nil
	}
}

// end marks the reply over before fail writes the error line: a forced
// stop that comes after it (its stopAll runs on a goroutine of its own,
// and a job cut by it may reach fail first) no longer sets the write
// deadline to now under the line's. It did, and the line's write failed
// (i/o timeout) and the connection was reset: a TLS job cut by a
// shutdown, 2 runs in 300 of TestTCPTLSStopCutsJob.
func (w *connWriter) end() {
	w.mu.Lock()
	w.ending = true
	w.mu.Unlock()
}

// begin starts a write: it fails once the writer is stopped, and else
// gives the write the idle timeout to make progress in.
func (w *connWriter) begin() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return errShuttingDown
	}
	if w.idle > 0 {
		w.armed = true
		w.c.SetWriteDeadline(time.Now().Add(w.idle))
	}
	return nil
}

// check is begin for a write that sets its deadline only when it is to
// wait (armWait).
func (w *connWriter) check() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return errShuttingDown
	}
	return nil
}

// armWait is begin for a raw write that found the socket full and is to
// wait for room: the idle timeout from now. Write's next round sets it
// again before each try (armed).
func (w *connWriter) armWait() error {
	return w.begin()
}

// Write writes p, the idle timeout renewed each time it runs out after
// the client read some of the reply: the timeout drops a client that
// stops reading, not one that reads slowly. A deadline on the whole write
// (256 KiB, or a spill file's megabytes by sendfile) dropped a client
// that read steadily but less than that per timeout, and so did one
// whose write took nothing in a timeout while the client read (sendWatch).
// A TLS connection's writes cannot go on after a timeout: its raw
// connection renews the deadline itself (rawConn.Write), so its writes
// time out only when the client read nothing.
func (w *connWriter) Write(p []byte) (int, error) {
	var done int
	for {
		ww, watched := w.raw.(watchedWriter)
		lazy := watched && !w.armed
		var err error
		if lazy {
			err = w.check()
		} else {
			err = w.begin()
		}
		if err != nil {
			return done, err
		}
		var (
			n     int
			watch sendWatch
		)
		if watched {
			watch.c = w.c
			var arm waitArmer
			if lazy {
				arm = w
			}
			n, err = ww.writeArmed(p[done:], &watch, w.last, arm)
		} else if w.raw != nil {
			watch = watchSend(w.c)
			n, err = w.raw.Write(p[done:])
		} else {
			watch = watchSend(w.c)
			n, err = w.c.Write(p[done:])
		}
		done += n
		w.n += int64(n)
		if !errors.Is(err, os.ErrDeadlineExceeded) || n == 0 && !watch.moved() {
			return done, w.why(err)
		}
		if _, ok := w.c.(*tls.Conn); ok {
			return done, w.why(err)
		}
	}
}

// why is the job's error for a write of the reply that failed with err.
// One that ran out of time, unless stop ended it (the lifecycle then
// makes the job's error errShuttingDown), took nothing of the reply for
// the idle timeout: the job's log line says so, as a gRPC reply's does
// (errReplyIdle), not "readfrom tcp A->B: i/o timeout"; err stays its
// cause.
func (w *connWriter) why(err error) error {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return err
	}
	return &compute.Error{Code: compute.CodeDeadline, Msg: errReplyIdle(w.idle).Error(), Err: err}
}

// sendWatch tells whether a write that timed out with nothing written
// still waited on a client that was reading. Linux wakes a writer blocked
// on a full socket only once a good part of the send buffer is free
// (megabytes when autotuned), so a client that reads steadily, but less
// than that per idle timeout, leaves a write that took nothing: the bytes
// it acknowledged meanwhile (SIOCOUTQ fell) show it read. A client that
// stops reading acknowledges nothing once its window is shut.
type sendWatch struct {
	c      net.Conn
	queued int
	ok     bool
}

func watchSend(c net.Conn) sendWatch {
	q, ok := queuedOf(c)
	return sendWatch{c: c, queued: q, ok: ok}
}

// moved reports whether the peer acknowledged bytes since watchSend.
func (s sendWatch) moved() bool {
	if !s.ok {
		return false
	}
	q, ok := queuedOf(s.c)
	return ok && q < s.queued
}

// watchedWriter writes p to a connection, and takes watch itself the
// first time it finds the socket full with nothing of p written yet
// (rawWriter): what the connection had queued then is what it had when
// the write began, and a write that does not wait (a small reply) asks
// nothing of the kernel.
type watchedWriter interface {
	writeArmed(p []byte, watch *sendWatch, more bool, arm waitArmer) (int, error)
}

// sendQueuer is a connection that can tell its unacknowledged bytes
// itself (a test's).
type sendQueuer interface {
	SendQueued() (int, bool)
}

func queuedOf(c net.Conn) (int, bool) {
	if tc, ok := plainOf(c); ok {
		return sendQueued(tc)
	}
	if q, ok := c.(sendQueuer); ok {
		return q.SendQueued()
	}
	return 0, false
}

// sendFile sends the n bytes of f at off to the connection with
// sendfile(2) (spool.FileSender), under Write's rules: the idle timeout
// for progress, and a stop fails it. A failure of the file (spillFault)
// is the spool's, not the connection's.
func (w *connWriter) sendFile(tc *net.TCPConn, f *os.File, off, n int64) (int64, error) {
	var sent int64
	f = sendFrom(f)
	src := &spillSource{File: f}
	for {
		if err := w.begin(); err != nil {
			return sent, err
		}
		// Linux's sendfile sends from the file's offset, which nothing
		// else uses (the spool reads and writes at explicit offsets).
		if _, err := f.Seek(off+sent, io.SeekStart); err != nil {
			return sent, compute.Internal("reply: seek of the spill file", err)
		}
		watch := watchSend(tc)
		k, err := tc.ReadFrom(&io.LimitedReader{R: src, N: n - sent})
		sent += k
		w.n += k
		if err == nil && sent < n {
			err = compute.Internal("reply: the spill file is shorter than it holds", io.ErrUnexpectedEOF)
		}
		if ferr := spillFault(err, src.err, tc); ferr != nil {
			return sent, ferr
		}
		// As Write: the timeout ran out while the client was reading.
		if !errors.Is(err, os.ErrDeadlineExceeded) || k == 0 && !watch.moved() {
			return sent, w.why(err)
		}
	}
}

// sendFrom is the file sendFile sends a spill file's bytes from: the
// file itself (tests give one whose reads fail).
var sendFrom = func(f *os.File) *os.File { return f }

// spillSource is a spill file as the source of a TCPConn.ReadFrom: it
// takes sendfile's way (the file's SyscallConn), and where Go copies
// instead (a file sendfile cannot send from), its reads record their
// failure, which is the file's and not the connection's.
type spillSource struct {
	*os.File
	err error // the last read's failure, but io.EOF
}

func (s *spillSource) Read(p []byte) (int, error) {
	n, err := s.File.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// spillFault is the spool's error (compute.SpoolError: UNAVAILABLE, a
// server fault, outcome internal) for err, a ReadFrom of a spill file to
// tc that failed, when the failure was the file's: readErr, a read of
// Go's copy that failed; or an errno of sendfile(2) that no send on a
// socket gives (sockerr.Peer): EIO, EBADF, EINVAL, EOVERFLOW, ESPIPE
// (its man page's in_fd errors), a file system's own (ESTALE). Else it is
// nil, and err the connection's: a reset, a broken pipe, a timeout (the
// client gone: outcome reset), the idle timeout or a stop. sendfile gave
// both kinds as one error, and the file's EIO was told as the
// connection's ("readfrom tcp A->B: sendfile: input/output error", and
// no error line in the log), where the spill file's read by the spool
// (no sendfile: TLS, --tcp-sendfile=false) was the spool's failure.
//
// Two errnos either end gives (ambiguous) are told by asking the socket
// (socketBroken): ETIMEDOUT, a socket's retransmission or keepalive
// timeout but also a read's on an NFS soft mount, and ENOMEM, the
// kernel's memory for either. They are the connection's when its socket
// is broken, else the file's; where the socket cannot tell (not Linux),
// ETIMEDOUT stays the connection's and ENOMEM the file's. An NFS spool's
// read timeout was a reset, the client blamed (outcome reset).
func spillFault(err, readErr error, tc *net.TCPConn) error {
	if readErr != nil {
		return compute.SpoolError("read failed", readErr)
	}
	var se *os.SyscallError
	if !errors.As(err, &se) || se.Syscall != "sendfile" {
		return nil
	}
	peer := sockerr.Peer(se)
	if errors.Is(se, syscall.ETIMEDOUT) || errors.Is(se, syscall.ENOMEM) {
		if broken, known := socketBroken(tc); known {
			peer = broken
		}
	}
	if !peer {
		return compute.SpoolError("read failed", se)
	}
	return nil
}

// sendingWriter is a TCP connection's reply: buffered writes, and the
// spilled part of the reply sent from the spill file by sendfile(2) after
// what is buffered.
type sendingWriter struct {
	*bufio.Writer
	w  *connWriter
	tc *net.TCPConn
}

func (r *sendingWriter) SendFile(f *os.File, off, n int64) (int64, error) {
	if err := r.Flush(); err != nil {
		return 0, err
	}
	return r.w.sendFile(r.tc, f, off, n)
}

func (s *TCPServer) handle(c net.Conn, route *engine.Pipeline, armed bool) {
	defer c.Close()
	if !armed {
		armConnReset(c)
	}
	defer func() {
		// A panic in this connection's goroutine (a digest is hashed
		// here) is a server fault, as grpc's recovery interceptor makes
		// a handler's: logged with its stack, and the connection reset,
		// since what it wrote may be the start of a reply, which a FIN
		// would make look complete. The server and its other
		// connections go on.
		if v := recover(); v != nil {
			s.Logger.Error("tcp connection panic", "peer", c.RemoteAddr(), "panic", v, "stack", string(debug.Stack()))
			resetConn(c)
		}
	}()
	// The connection's context is the server's: what the connection
	// starts with it (the job's context, lifecycle.do) ends itself.
	ctx := s.ctx
	// A forced stop unblocks a read that waits on the client, and a write
	// of the reply that waits on it.
	w := &connWriter{c: c, idle: s.IdleTimeout}
	if tc, ok := plainOf(c); ok {
		w.rc = rawConnOf(tc)
		w.raw = rawWriterOf(w.rc)
	}
	s.live.add(w)
	defer s.live.remove(w)
	life := s.lifecycle(c)
	life.waiter = w

	ip := s.PeerKeys.Key(c.RemoteAddr())
	select {
	case s.connSlots <- struct{}{}:
	default:
		s.refuseConn(ctx, c, w, ip, ReasonMaxConns, compute.Exhaustedf("too many connections: limit %d", s.MaxConns))
		return
	}
	release, ok := s.PeerRequests.TryAcquire(ip)
	if !ok {
		// A refused connection holds no place while its error line goes
		// out and its client's FIN is awaited (finish: up to 5 s), as
		// one refused for --max-conns: else one address past its own cap
		// filled --max-conns for every other.
		<-s.connSlots
		s.refuseConn(ctx, c, w, ip, ReasonPeerRequests, errPeerRequests(s.PeerRequests.Limit()))
		return
	}
	// free gives the connection's places back (--max-conns, its
	// address's --max-requests-per-peer), once: when its job is over,
	// before its error line or FIN tells the client so, not after the
	// wait for the client's FIN, so that a client that has read its reply
	// to the end finds them free for its next connection.
	freed := false
	free := func() {
		if !freed {
			freed = true
			release()
			<-s.connSlots
		}
	}
	defer free()
	if s.Allow != nil && !s.Allow(ip) {
		free()
		s.refuseConn(ctx, c, w, ip, ReasonRateLimit, compute.Exhaustedf("rate limit exceeded for peer"))
		return
	}
	if tc, ok := c.(*tls.Conn); ok {
		tc.SetDeadline(time.Now().Add(s.HeaderTimeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			var re tls.RecordHeaderError
			rc, _ := tc.NetConn().(*rawConn)
			if errors.As(err, &re) && re.Conn != nil || rc != nil && rc.plaintext(err) {
				// A plaintext client (nc, socat without OPENSSL:): tell
				// it in plaintext, as net/http tells an HTTP client of an
				// HTTPS port, rather than closing on it with no word.
				plain := tc.NetConn()
				if rc != nil {
					plain = rc.Conn
				}
				err := life.reject(ctx, "", errPlaintextOnTLS)
				free()
				w.end()
				s.fail(ctx, plain, ip, err)
				return
			}
			s.Logger.Debug("tls handshake failed", "peer", c.RemoteAddr(), "err", err)
			keepOnClose(c) // crypto/tls's alert, if it sent one, is read
			return
		}
		tc.SetDeadline(time.Time{})
		if rc, ok := tc.NetConn().(*rawConn); ok {
			renew := w.begin
			rc.renew.Store(&renew)
		}
	}

	// A connection's buffers are recycled: a small job would otherwise
	// allocate (and the runtime zero) 320 KiB for them. They go back as
	// the job is over, with the connection's places (free), not after
	// the wait for the client's FIN: a connection that waits holds no
	// place, so buffers held through it were bounded by nothing (3,000
	// connections sent a bad header line and no FIN: 1 GB of heap in
	// use, 37 MB when they held places).
	br := connReaders.Get().(*bufio.Reader)
	br.Reset(c)
	bw := connWriters.Get().(*bufio.Writer)
	bw.Reset(w)
	s.buffersHeld.Add(1)
	put := false
	putBuffers := func() {
		if !put {
			put = true
			br.Reset(nil)
			connReaders.Put(br)
			bw.Reset(nil)
			connWriters.Put(bw)
			s.buffersHeld.Add(-1)
		}
	}
	defer putBuffers()
	var fin bool // the job's input ended with the client's FIN
	err := life.do(ctx, ip, func() (string, jobFunc, error) {
		p, opts := route, tcpOptions{size: -1, file: -1}
		if p == nil {
			var err error
			if p, opts, err = s.readHeader(c, br); err != nil {
				return "", nil, err
			}
		}
		return strings.Join(p.Names, "|"), func(ctx context.Context) (engine.Stats, error) {
			return s.run(ctx, p, opts, c, br, w, bw, &fin)
		}, nil
	})
	switch {
	case err == nil:
		free()
		putBuffers()
		s.finish(ctx, c, ip, w.rc, fin)
	case isConnReadError(err):
		// An abort: the client is gone or idle. Nothing is written, and
		// the connection is reset: a FIN would let a client that sent all
		// its input but not yet its own FIN (idle, or slow to send the
		// header) half-close afterwards and read an empty reply that ends
		// cleanly, as a filter with no output does: a result for an input
		// the job never finished.
		resetConn(c)
	case errors.Is(err, errGRPCClient):
		s.refuseHTTP2(ctx, c, br)
	case w.n == 0:
		// Nothing of the reply reached the connection: what the buffer
		// holds (the output a stage wrote before it failed, after the
		// input had ended) is dropped with it (putBuffers), and the
		// client gets the error line. A reset here left nc an empty
		// reply, exit 0, and halfclose --tcp "reset ... before any of
		// the reply": gunzip -c of a 300 KB gzip stream cut short
		// named its reason to no TCP client.
		free()
		putBuffers()
		w.end()
		s.fail(ctx, c, ip, err)
	default:
		// Output started and then the job failed: reset, so a truncated
		// reply never looks complete. A server fault (the spill file's
		// read failed) is logged with its cause, as an error line's is.
		if classify(err).internal {
			s.Logger.Error("tcp job failed", "peer", c.RemoteAddr(), "err", logDetail(err))
		}
		resetConn(c)
	}
}

// connReaders and connWriters hold the buffered reader and writer of
// connections that have ended (no goroutine of theirs is left).
var (
	connReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}
	connWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 256<<10) }}
)

// errPlaintextOnTLS answers a client that does not speak TLS on a TLS
// port, in plaintext.
var errPlaintextOnTLS = compute.Invalidf("this port speaks TLS: connect with TLS (socat OPENSSL:, halfclose --tls or --cacert)")

// http2PrefaceLine is the first line of the HTTP/2 client preface
// ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") as readHeader returns it: what a
// gRPC client sends first when pointed at the command port.
const http2PrefaceLine = "PRI * HTTP/2.0"

// errGRPCClient is the job's error when the header line is that: the job
// is logged as invalid, and the client gets an HTTP/2 answer, not an error
// line.
var errGRPCClient = compute.Invalidf("a gRPC (HTTP/2) client on the raw-TCP command port")

// http2PrefaceRest is the rest of the preface after that line.
const http2PrefaceRest = "\r\nSM\r\n\r\n"

// wrongPortMessage is the status message a gRPC client gets from the
// command port; the halfclose CLI recognizes it.
const wrongPortMessage = "halfclose raw-TCP port: this port speaks the raw-TCP protocol, not gRPC; use the gRPC port"

// refuseHTTP2 answers a gRPC client in its own protocol, so that it reports
// why instead of failing to parse an error line: the server preface, then
// each call it starts gets a trailers-only reply, UNAVAILABLE with
// wrongPortMessage, and the connection ends with GOAWAY. It reads at most
// a few frames, within the header timeout.
//
// The reply carries grpc-retry-pushback-ms -1, gRPC's "do not retry"
// (gRFC A6): asking this port again cannot help. Without it, clients with a
// retry policy (halfclose's own) asked 4 times, and grpc-go (v1.85) loses
// the status of a call whose retries all ended while it was sending: the
// client saw "max retries exhausted: failed after 4 attempts: EOF"
// instead of this message.
func (s *TCPServer) refuseHTTP2(ctx context.Context, c net.Conn, br *bufio.Reader) {
	keepOnClose(c) // no job's reply: its close, and a crash, end with a FIN
	c.SetDeadline(time.Now().Add(s.HeaderTimeout))
	// Looked at after that, as readHeader does: a forced stop cancels ctx
	// (the server's) before it sets its deadlines of now (liveConns), so
	// either it is seen here or its deadlines come after these. A stop
	// between readHeader's return and the line above had its deadlines
	// overwritten, and the wait for the rest of the preface lasted
	// --header-timeout.
	if ctx.Err() != nil {
		return
	}
	rest := make([]byte, len(http2PrefaceRest))
	if _, err := io.ReadFull(br, rest); err != nil || string(rest) != http2PrefaceRest {
		return
	}
	answerHTTP2(c, br, wrongPortMessage)
}

// answerHTTP2 answers an HTTP/2 client whose preface has been read (under
// the caller's deadline) with msg: see refuseHTTP2.
func answerHTTP2(c net.Conn, br *bufio.Reader, msg string) {
	fr := http2.NewFramer(c, br)
	fr.SetMaxReadFrameSize(16 << 10)
	if fr.WriteSettings() != nil {
		return
	}
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	for _, hf := range [][2]string{
		{":status", "200"}, {"content-type", "application/grpc"},
		{"grpc-status", strconv.Itoa(int(codes.Unavailable))}, {"grpc-message", msg},
		{"grpc-retry-pushback-ms", "-1"},
	} {
		enc.WriteField(hpack.HeaderField{Name: hf[0], Value: hf[1]})
	}
	for range 64 {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() && fr.WriteSettingsAck() != nil {
				return
			}
		case *http2.PingFrame:
			if !f.IsAck() && fr.WritePing(true, f.Data) != nil {
				return
			}
		case *http2.HeadersFrame, *http2.ContinuationFrame:
			if !f.Header().Flags.Has(http2.FlagHeadersEndHeaders) {
				continue
			}
			id := f.Header().StreamID
			if fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hbuf.Bytes(), EndStream: true, EndHeaders: true}) != nil {
				return
			}
			fr.WriteGoAway(id, http2.ErrCodeNo, nil)
			// No FIN yet: the client may still be writing the call it
			// opened (grpcio's streaming calls send their messages after
			// the HEADERS), and a FIN then failed those writes first:
			// grpcio reported "Socket closed", not the status above.
			// A client that read the GOAWAY closes the connection; wait
			// for that (within the header timeout set above, and
			// drainBytes), then close.
			io.CopyN(io.Discard, br, drainBytes)
			return
		}
	}
}

// readHeader reads and compiles a command-port header line: its @options
// and pipeline.
func (s *TCPServer) readHeader(c net.Conn, br *bufio.Reader) (*engine.Pipeline, tcpOptions, error) {
	c.SetReadDeadline(time.Now().Add(s.HeaderTimeout))
	// Looked at after that: a forced stop cancels s.ctx before it sets
	// its deadline of now (liveConns), so either it is seen here or its
	// deadline comes after this one. A connection served after the stop
	// (accepted just before Close, or the end of Shutdown's grace) had
	// its stop's deadline, set as handle added it, overwritten by this
	// one, and waited --header-timeout for a header.
	if s.ctx.Err() != nil {
		c.SetReadDeadline(time.Now())
	}
	line, err := readHeader(br, s.MaxHeaderBytes)
	if err != nil {
		if _, ok := c.(*tls.Conn); ok && err == errTLSOnPlaintext {
			// This port speaks TLS: the ClientHello came inside it.
			err = errTLSInTLS
		}
		return nil, tcpOptions{}, err
	}
	if line == http2PrefaceLine {
		return nil, tcpOptions{}, errGRPCClient
	}
	opts, text, err := parseHeaderOptions(line)
	if err == nil {
		err = s.checkToken(opts)
	}
	if err == nil && s.RequireEnd && !opts.proven() {
		err = errProofRequired
	}
	if err == nil && opts.size >= 0 {
		err = s.Engine.CheckDeclaredSize(opts.size)
	}
	if err != nil {
		return nil, opts, err
	}
	if s.onHeaderRead != nil {
		s.onHeaderRead()
	}
	c.SetReadDeadline(time.Time{})
	// Looked at after that, as above: a stop since the look above had its
	// deadline of now cleared, and a plain connection's inline job (a
	// digest), whose input relies on that deadline to end (connInput's
	// ends: the engine does not close it), waited with --idle-timeout 0
	// on its silent client until its FIN.
	if s.ctx.Err() != nil {
		c.SetReadDeadline(time.Now())
	}
	p, err := s.Engine.Compile(text)
	if err == nil && opts.file >= 0 {
		p.SetInputFile(opts.file)
		if opts.hasMtime {
			p.SetInputFileTime(opts.mtime)
		}
	}
	return p, opts, err
}

// run runs a connection's job: its input (through the proof of its end,
// when the header asked for one), its reply buffered in bw, and the
// @trailer line.
func (s *TCPServer) run(ctx context.Context, p *engine.Pipeline, opts tcpOptions, c net.Conn, br *bufio.Reader, w *connWriter, bw *bufio.Writer, fin *bool) (engine.Stats, error) {
	cr := &connReader{ctx: ctx, c: c, r: br, idle: s.IdleTimeout}
	if tc, ok := c.(*tls.Conn); ok {
		cr.tls, _ = tc.NetConn().(*rawConn)
	}
	defer func() { *fin = cr.fin }() // after the input's last read (Run, the TLS Wait)
	plain, isPlain := plainOf(c)
	if tc, ok := plain, isPlain; ok {
		cr.plain = true
		if raw := rawReaderArmed(w.rc, cr); raw != nil {
			cr.r = &bufferedThen{br: br, raw: raw}
			cr.lazy = true
		}
		if s.RecvLowat > 0 {
			cr.tc, cr.lowat = tc, s.RecvLowat
		}
	}
	defer cr.endLowat() // after the input's last read (Run, the TLS Wait)
	// After the FIN, a reset of the connection aborts the job (watchReset):
	// its cause replaces the context error the engine returns. Only a job
	// of resetWatchMinInput bytes or more is watched, and not one the
	// engine runs inline (a digest: it is done when its input is, and a
	// 1 KiB route job's cancel context and closure were 7 of its ~100
	// allocations).
	var stopWatch func() error // set by the read that found the FIN
	defer func() {
		if stopWatch != nil {
			stopWatch() // after the input's last read: the read that set it is over
		}
	}()
	if tc, ok := plain, isPlain; ok && watchesReset && !s.Engine.Inline(p) {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		cr.onFIN = func() {
			if cr.n < resetWatchMinInput {
				return
			}
			stopWatch = watchReset(tc, func(err error) { cancel(&connReadError{err}) })
		}
	}
	var in io.ReadCloser = cr
	if tc, ok := c.(*tls.Conn); ok && !opts.proven() {
		// Over TLS the end is close_notify, unless the header's proof
		// (@size, @chunked) says where the input ends.
		if raw, ok := tc.NetConn().(*rawConn); ok {
			in = &tlsEnd{ReadCloser: in, raw: raw}
		}
	}
	if opts.proven() {
		in = newTCPProof(in, opts)
	}
	// A plain connection is read by the job itself (connInput); a TLS
	// connection, whose reads decrypt, ahead by a goroutine, so that the
	// decryption overlaps with the job.
	var src io.Reader
	if tc, ok := plain, isPlain; ok {
		ci := newConnInput(in, tc)
		ci.setMark = cr.setMark
		if ctx == s.ctx {
			// The end of s.ctx sets c's read deadline (handle's
			// liveConns), which fails cr's read once its context, the
			// same, has ended: the engine need not close ci for it.
			ci.ends = ctx
		}
		src = ci
	} else {
		ra := newRecvAhead(ctx, readerSource{in}, connBufSize, 0)
		defer ra.Wait() // before the connection is read again
		src = ra
	}
	var out io.Writer = bw
	if tc, ok := c.(*net.TCPConn); ok && !s.NoSendFile {
		out = &sendingWriter{Writer: bw, w: w, tc: tc}
	}
	st, err := s.Engine.Run(ctx, p, src, out)
	if cause := context.Cause(ctx); err != nil && isConnReadError(cause) {
		err = cause
	}
	if err == nil && opts.trailer {
		// The output is complete: say so, and how long it was, so a
		// client can tell this reply from one cut by a crash (whose FIN
		// looks the same).
		fmt.Fprintf(bw, "%s%d in=%d", trailerPrefix, st.OutputBytes, st.InputBytes)
		if opts.status {
			fmt.Fprintf(bw, " status=%d", st.ExitStatus)
		}
		bw.WriteByte('\n')
	}
	if err == nil {
		// The reply is complete: its FIN (finish) follows this write
		// with nothing between them that waits for the client (the
		// job's record and the release of its slots come between).
		// Were the FIN late, the kernel sends the held tail alone at
		// its probe timer (tcp_rto_min, 200 ms), or with the next
		// acknowledgement of the reply's earlier segments.
		w.last = true
		err = bw.Flush()
		w.last = false
	}
	if err == nil {
		return st, nil // the trailer is not output
	}
	// The reply failed: what the buffer holds never goes out (the
	// connection is reset, or gets the error line if nothing was
	// written), and the job counts what reached the connection. Of that,
	// what the client has not acknowledged yet goes with the reset too
	// (the kernel drops its send queue): a client that read nothing of a
	// base64 reply until the idle timeout got 128000 bytes, and the job
	// counted the 4 MB the kernel had taken.
	st.OutputBytes = w.n
	if tc, ok := plain, isPlain; ok && w.n > 0 {
		if q, ok := sendQueued(tc); ok {
			st.OutputBytes = max(0, w.n-int64(q))
		}
	}
	return st, err
}

// checkToken checks a command-port header line's @token, before anything
// else is done for the client (the pipeline is not even compiled).
func (s *TCPServer) checkToken(opts tcpOptions) error {
	if s.Auth == nil {
		return nil
	}
	if opts.token == "" {
		if s.RequireToken {
			return errTokenMissing
		}
		return nil
	}
	if !s.Auth.valid(opts.token) {
		return errTokenInvalid
	}
	return nil
}

var (
	errTokenMissing = status.Error(codes.Unauthenticated, "missing token: start the header line with @token=TOKEN")
	errTokenInvalid = status.Error(codes.PermissionDenied, "invalid token")
)

// trailerPrefix starts the @trailer line: "halfclose: ok out=N in=M\n",
// the output's length in bytes and the input's, and with @status the
// pipeline's exit status, "halfclose: ok out=N in=M status=S\n".
const trailerPrefix = "halfclose: ok out="

var errProofRequired = compute.Invalidf("this server requires a proof of the end of input: start the header line with @size=N or @chunked")

// readHeader reads the header line: at most max bytes including "\n", a
// trailing "\r" dropped. A line is too long as soon as more than max
// bytes without a newline have arrived: the client gets its error line
// then, not only once it sends more (ReadSlice waits to fill the reader's
// 64 KiB) or its FIN, and not a silent abort at the header timeout.
func readHeader(br *bufio.Reader, max int) (string, error) {
	var line []byte
	for {
		var (
			frag []byte
			err  error
		)
		if _, err = br.Peek(1); err == nil {
			frag, _ = br.Peek(br.Buffered())
			if i := bytes.IndexByte(frag, '\n'); i >= 0 {
				frag = frag[:i+1]
			} else {
				err = bufio.ErrBufferFull // a fragment: read on
			}
			br.Discard(len(frag))
		}
		first := len(line) < 3
		line = append(line, frag...)
		if first && clientHello(line) {
			return "", errTLSOnPlaintext
		}
		if len(line) > max {
			return "", compute.Invalidf("header line longer than %d bytes", max)
		}
		if err == nil {
			break
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			if len(line) == 0 {
				return "", compute.Invalidf("missing header line: the first line must be the pipeline")
			}
			return "", compute.Invalidf("header line must end with a newline")
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "", &connReadError{compute.Errorf(compute.CodeDeadline, "header timeout")}
		}
		return "", &connReadError{err}
	}
	line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
	return string(line), nil
}

// errTLSOnPlaintext answers a TLS client on a plaintext command port. The
// client cannot read it (it wants a ServerHello), but it fails at once,
// not after --header-timeout (a ClientHello holds a newline only by
// chance), and the log says what happened, not "a NUL byte at offset 6".
var errTLSOnPlaintext = compute.Invalidf("this port does not speak TLS: connect without it (nc -N, socat TCP:, halfclose without --tls or --cacert)")

// errTLSInTLS answers a ClientHello that came inside a TLS command port's
// TLS (a client that wraps its TLS connection in TLS again): "connect
// without it" would be wrong there.
var errTLSInTLS = compute.Invalidf("the header line is a TLS ClientHello inside this port's TLS: connect with TLS once, then send the pipeline")

// clientHello reports whether b starts as a TLS ClientHello record does:
// type handshake (0x16), protocol version 3.x (SSL 3.0 to TLS 1.3). No
// pipeline starts with a control character.
func clientHello(b []byte) bool {
	return len(b) >= 3 && b[0] == tlsHandshakeRecord && b[1] == 3 && b[2] <= 4
}

// lifecycle is the jobs' lifecycle for connection c: its records are log
// lines of their own, with the peer, and the code of the job's verdict
// (the error line's CODE, as a gRPC client would get it) at the level
// gRPC's call line has for that code: a refused or failed raw-TCP job was
// logged at info level with no code, where the same job on gRPC was a
// warning (ResourceExhausted, DeadlineExceeded) or an error (DataLoss,
// Internal) naming its code.
func (s *TCPServer) lifecycle(c net.Conn) *lifecycle {
	l := s.life
	l.emit = func(ctx context.Context, job slog.Attr, err error) {
		// The record is made here rather than by Logger.Info, which would
		// read the caller's frames for a source no line shows, and box and
		// parse its arguments; the peer's string is the one PeerIP made.
		code := codeOf(err)
		level := slog.Level(logging.DefaultServerCodeToLevel(code))
		h := s.Logger.Handler()
		if !h.Enabled(ctx, level) {
			return
		}
		r := slog.NewRecord(time.Now(), level, "job", 0)
		r.AddAttrs(job, slog.String("adapter", "tcp"), slog.String("peer", addrString(c.RemoteAddr())), slog.String("code", code.String()))
		_ = h.Handle(ctx, r)
	}
	return &l
}

// refuseConn refuses a connection before anything is read from it: the
// error line, a job counted in the metrics (outcome limit), and one log
// line per reason and interval rather than one per connection. w is c's
// writer.
func (s *TCPServer) refuseConn(ctx context.Context, c net.Conn, w *connWriter, peer, reason string, err error) {
	s.refused.add(refusedReq{adapter: "tcp", reason: reason, peer: c.RemoteAddr(), code: codeOf(err).String()})
	w.end() // the error line is its last words, which a stop leaves
	if tc, ok := c.(*tls.Conn); ok {
		// The error line's write (fail) runs the TLS handshake first, and
		// its reads of the client had no deadline: a refused client that
		// sent nothing, or half a ClientHello, held its goroutine and
		// descriptor, outside --max-conns, until it left or a forced stop
		// (TestTCPTLSRefusedHandshakeTimeout). It gets --header-timeout,
		// as every other handshake. Looked at after that, as readHeader
		// does: a forced stop cancels ctx before it sets its deadline of
		// now (liveConns), so either it is seen here or it comes after.
		tc.SetReadDeadline(time.Now().Add(s.HeaderTimeout))
		if ctx.Err() != nil {
			tc.SetReadDeadline(time.Now())
		}
	}
	s.fail(ctx, c, peer, s.life.refuse(ctx, err))
}

// fail writes err's verdict as the error line, then ends the connection
// politely; if the line cannot be written, it resets it. peer is c's
// address key.
func (s *TCPServer) fail(ctx context.Context, c net.Conn, peer string, err error) {
	v := classify(err)
	if v.internal {
		s.Logger.Error("tcp job failed", "peer", c.RemoteAddr(), "err", logDetail(err))
	}
	if tc, ok := c.(*tls.Conn); ok {
		if rc, ok := tc.NetConn().(*rawConn); ok {
			// The line and the close_notify go under the deadline
			// below, as on a plain connection, not the reply's
			// renewal (connWriter.begin), which a stop fails: a TLS
			// job cut by a shutdown sent neither, and its client read
			// an empty reply ended by a FIN, which crypto/tls reads
			// as a clean end (TestTCPTLSStopCutsJob).
			rc.renew.Store(nil)
		}
	}
	c.SetWriteDeadline(time.Now().Add(DefaultFinWait))
	if _, err := io.WriteString(c, v.errorLine()); err != nil {
		// The line did not go out (a TLS connection whose reply's
		// write failed takes no more): a FIN would end the reply as
		// a job with no output ends, so the connection is reset.
		resetConn(c)
		return
	}
	s.finish(ctx, c, peer, nil, false)
}

// finish sends FIN and reads what the client still sends until its FIN,
// for at most drainTimeout (--tcp-fin-wait), so that closing does not
// reset the reply. It is bounded in time, not in bytes: it used to stop
// after 4 MiB, which a client still uploading when its error was decided
// (a limit hit early in a large upload, a refused connection, a job that
// waited for a slot while the kernels' buffers filled) sent within
// milliseconds, often from those buffers alone, and the close then reset
// the connection right behind the error line. netcat-openbsd stops
// reading a socket that reports an error, the line still unread in it:
// nc printed nothing and exited 0, directly (1 run in 10 of a gzip job
// over its limit) and most often through a proxy, whose buffers add to
// the kernels' (14 runs in 20 through nginx, 12 through HAProxy, nc
// descheduled now and then). Read to the client's FIN, the upload ends
// and nc exits 0 with the line; a client that sends for longer than the
// wait has been reading (nc polls the socket between its writes) for
// that long when the reset comes. Once
// a shutdown's grace is over (--shutdown-grace, or a second signal: ctx is
// the connection's, handle's, whose end sets c's read deadline to now) the
// wait is cut short to cutDrainWait, not to nothing: a job cut while its
// client was still sending had its error line reset away, and HAProxy
// passed the reset on, so nc printed nothing and exited 0. fin says the
// client's FIN has been read already: there is nothing to wait for. peer
// is c's address key.
func (s *TCPServer) finish(ctx context.Context, c net.Conn, peer string, rc syscall.RawConn, fin bool) {
	var deadline time.Time
	var dc *drainingConn
	if !fin {
		// Counted among the waiting before the FIN tells the client
		// that its reply is complete: the waiting are then in the order
		// their clients learnt it, and a client's next connection is
		// newer.
		deadline = time.Now().Add(s.drainTimeout)
		c.SetReadDeadline(deadline)
		var done func()
		dc, done = s.draining(c, peer)
		defer done()
	}
	if tc, ok := plainOf(c); ok {
		if err := closeWriteRaw(tc, rc); err != nil {
			return
		}
	} else if cw, ok := c.(interface {
		net.Conn
		CloseWrite() error
	}); ok {
		if err := endReply(cw); err != nil {
			return
		}
	} else {
		keepOnClose(c)
	}
	if fin {
		return
	}
	var cutEnd time.Time // when the wait ends, once the shutdown cut it
	end := deadline      // when the wait ends
	for {
		if ctx.Err() != nil {
			if s.closed.Load() {
				return // Close: at once (stored before ctx was cancelled)
			}
			// The cut sets the deadline to now: before the deadline
			// above was set (which then hid it), during the wait, or
			// after the deadline below is set (which is then set
			// again).
			if cutEnd.IsZero() {
				cutEnd = time.Now().Add(s.cutDrain)
				if deadline.Before(cutEnd) {
					cutEnd = deadline
				}
			}
			end = cutEnd
		}
		if !time.Now().Before(end) {
			return
		}
		// Set again after any other deadline: the cut's, and the one
		// the job's reader sets when the engine closes it (connReader's
		// Close, which a job that failed before its input ended may run
		// on a goroutine of the engine after the job has returned): that
		// one ended the wait at once, and the close reset the line away
		// (1 run in 3 of a route job over --max-input-bytes).
		c.SetReadDeadline(end)
		// Looked at after that: the eviction stores evicted, and a
		// shutdown's cut and Close cancel ctx, before they set their
		// deadline of now, so either they are seen here or their
		// deadline comes after this one. Looked at only before it, a
		// stop in between had its deadline overwritten by this one,
		// and Close or the end of a shutdown waited the whole
		// --tcp-fin-wait on a client that sent no FIN.
		if dc.evicted.Load() {
			return
		}
		if ctx.Err() != nil && (cutEnd.IsZero() || s.closed.Load()) {
			continue // the stop came since the look above
		}
		err := discard(c, rc)
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return // the client's FIN, or its reset
		}
	}
}

// draining counts c, of address key peer, among the connections waiting
// for their client's FIN until the returned func is called. Past
// maxDrains of them the one that has waited longest stops waiting: its
// reply went out first, so a close is least likely to reset it before
// it is read. Without a bound, connections that never send their FIN
// held a descriptor and a goroutine each for the whole wait, however
// many came (3,000 at --max-conns 8 held 3,012 descriptors). Past
// PeerRequests' limit of them from peer, peer's own oldest stops waiting
// instead: one address sending no FIN on connections refused for its
// own cap (a handshake each) evicted every other address's wait, and
// reset their error lines behind them. The returned drainingConn says
// whether c was so evicted, which finish's read-on after a shutdown's
// cut must not undo.
func (s *TCPServer) draining(c net.Conn, peer string) (*drainingConn, func()) {
	dc := &drainingConn{c: c}
	s.drainMu.Lock()
	if s.peerDrains == nil {
		s.peerDrains = map[string]*list.List{}
	}
	own := s.peerDrains[peer]
	switch limit := s.PeerRequests.Limit(); {
	case limit > 0 && own != nil && own.Len() >= limit:
		s.evictDrain(own.Front().Value.(*drainingConn))
	case s.drains.Len() >= s.maxDrains:
		s.evictDrain(s.drains.Front().Value.(*drainingConn))
	}
	// (An eviction may have emptied and dropped peer's list.)
	if own = s.peerDrains[peer]; own == nil {
		own = list.New()
		s.peerDrains[peer] = own
	}
	dc.peer = peer
	dc.all = s.drains.PushBack(dc)
	dc.own = own.PushBack(dc)
	s.drainMu.Unlock()
	return dc, func() {
		s.drainMu.Lock()
		s.dropDrain(dc) // a no-op once it has been cut
		s.drainMu.Unlock()
	}
}

// evictDrain makes o stop waiting for its client's FIN. s.drainMu is held.
func (s *TCPServer) evictDrain(o *drainingConn) {
	s.dropDrain(o)
	o.evicted.Store(true)
	o.c.SetReadDeadline(time.Now())
}

// dropDrain takes o off the lists of waiting connections, if it is on
// them. s.drainMu is held.
func (s *TCPServer) dropDrain(o *drainingConn) {
	if o.all == nil {
		return
	}
	s.drains.Remove(o.all)
	own := s.peerDrains[o.peer]
	own.Remove(o.own)
	if own.Len() == 0 {
		delete(s.peerDrains, o.peer)
	}
	o.all, o.own = nil, nil
}

// drainingConn is a connection waiting for its client's FIN (draining).
type drainingConn struct {
	c       net.Conn
	peer    string        // c's address key
	all     *list.Element // in drains; nil once off it (protected by drainMu)
	own     *list.Element // in peerDrains[peer] (protected by drainMu)
	evicted atomic.Bool   // past maxDrains: it stops waiting
}

// A crashed server's connections end with a reset, not a FIN, until their
// reply is whole. The kernel closes a dead process's sockets as close(2)
// does: with a FIN after what was written, which looked like the end of a
// complete reply (a reply cut short, or an empty one from a server killed
// while it read the input: the output of a filter that matched nothing).
// With SO_LINGER 0 it resets them instead, so a connection has it from
// its accept (armCrashReset, on the listener) or its handler's start
// (armConnReset, where the listener could not be armed) until the
// FIN that says its reply is whole (endReply, closeWriteRaw) or another
// polite end (keepOnClose): from then on a crash leaves what was written
// to be read, as it is whole.

// armCrashReset gives the connections ln accepts SO_LINGER 0 from their
// accept, where the kernel lets them inherit it from the listening socket
// (Linux): no system call per connection. It reports whether it did, and
// how many of the first connections accepted may have been made before
// and need armConnReset: those queued at the time, and one more for each
// CPU, which may have been making a connection from the listener (its
// handshake's last ACK) as the option was set, to queue it just after the
// count was read (a handful of system calls, once).
//
// Only net's own listener is armed: its connections are *net.TCPConns
// (rawTCPConns, queuedConns), whose SO_LINGER endReply and keepOnClose
// clear. A library user's listener that embeds one, and so has its
// SyscallConn, may hand out connections of its own type that hide
// SetLinger: armed through its socket, each closed with a reset, the
// whole reply still queued for a slow reader thrown away
// (TestTCPWrappedListenerReplyWhole). Its connections are armed one by
// one, those that can be disarmed (armConnReset).
func armCrashReset(ln net.Listener) (armed bool, early int) {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return false, 0
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return false, 0
	}
	armed, early = listenLinger(rc)
	if armed {
		early += runtime.NumCPU()
	}
	return armed, early
}

// setLinger sets SO_LINGER on c's socket (under TLS, the connection's
// own), where its type lets it: sec 0 resets at close, -1 is the
// default (a FIN after what was written).
func setLinger(c net.Conn, sec int) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if l, ok := c.(interface{ SetLinger(int) error }); ok {
		l.SetLinger(sec)
	}
}

// armConnReset gives c SO_LINGER 0, where its listener did not
// (armCrashReset).
func armConnReset(c net.Conn) { setLinger(c, 0) }

// keepOnClose clears c's SO_LINGER 0 (armCrashReset): its close, and a
// crash, end it with a FIN after what was written, which is whole.
func keepOnClose(c net.Conn) { setLinger(c, -1) }

// endReply sends c's FIN, its reply whole, after keepOnClose.
func endReply(c interface {
	net.Conn
	CloseWrite() error
}) error {
	keepOnClose(c)
	return c.CloseWrite()
}

// resetConn closes c with an RST.
func resetConn(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		// The socket itself: closing the tls.Conn would send a
		// close_notify first, which says the reply is whole.
		c = tc.NetConn()
	}
	setLinger(c, 0)
	c.Close()
}

// rawConn is the connection under a TLS one: it notes whether a read of
// it found the client's FIN, which crypto/tls then reports as io.EOF
// like a close_notify (when the FIN falls between records).
type rawConn struct {
	net.Conn
	fin   atomic.Bool
	renew atomic.Pointer[func() error] // the reply's deadline renewal; nil before it
	first atomic.Int32                 // the first byte read, plus 1; 0 before it
	got   atomic.Int64                 // the bytes read (connReader's idle timeout)
}

// tlsHandshakeRecord is the first byte of every TLS ClientHello: the
// record type "handshake".
const tlsHandshakeRecord = 0x16

// plaintext reports whether the handshake failed with err because the
// client sent fewer bytes than a record header (5) and then its FIN, the
// first of them not a TLS record's: crypto/tls says only "unexpected
// EOF" then, not a tls.RecordHeaderError (echo | nc -N to a route port).
func (c *rawConn) plaintext(err error) bool {
	first := c.first.Load()
	return errors.Is(err, io.ErrUnexpectedEOF) && first != 0 && first-1 != tlsHandshakeRecord
}

func (c *rawConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.got.Add(int64(n))
		if c.first.Load() == 0 {
			c.first.Store(int32(p[0]) + 1)
		}
	}
	if err == io.EOF {
		c.fin.Store(true)
	}
	return n, err
}

// Write writes p, the write deadline renewed by renew (once set: the
// reply's connWriter.begin) before it and each time it runs out after
// some of p went. crypto/tls cannot go on with a write that timed out,
// and writes a reply as records, several to one connWriter.Write: so a
// TLS reply's deadline is renewed here, under it, and a record times out
// only when the client read nothing of it for the idle timeout (see
// connWriter.Write).
func (c *rawConn) Write(p []byte) (int, error) {
	renew := c.renew.Load()
	if renew == nil {
		return c.Conn.Write(p)
	}
	var done int
	for {
		if err := (*renew)(); err != nil {
			return done, err
		}
		watch := watchSend(c.Conn)
		n, err := c.Conn.Write(p[done:])
		done += n
		if !errors.Is(err, os.ErrDeadlineExceeded) || n == 0 && !watch.moved() {
			return done, err
		}
	}
}

// SetLinger lets resetConn reset the connection.
func (c *rawConn) SetLinger(sec int) error {
	if l, ok := c.Conn.(interface{ SetLinger(int) error }); ok {
		return l.SetLinger(sec)
	}
	return nil
}

// tlsEnd is a TLS connection's input: its end is the client's
// close_notify. A FIN without it (crypto/tls reads it as io.EOF too) is
// what a killed client, a cut connection, an L4 proxy passing on a reset
// as a close (nginx does), or an attacker truncating the stream sends,
// and is an abort: crypto/tls stops reading at the close_notify record,
// so a FIN was read only when no close_notify came.
type tlsEnd struct {
	io.ReadCloser
	raw *rawConn
}

var errNoCloseNotify = unprovenEnd("input ended without TLS close_notify: the connection was closed, not half-closed")

func (t *tlsEnd) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if err == io.EOF && t.raw.fin.Load() {
		err = errNoCloseNotify
	}
	return n, err
}

// bufferedThen reads what the header's reader holds, then the connection
// itself with raw reads.
type bufferedThen struct {
	br  *bufio.Reader
	raw io.Reader
}

func (b *bufferedThen) Read(p []byte) (int, error) {
	if b.br.Buffered() > 0 {
		return b.br.Read(p)
	}
	return b.raw.Read(p)
}
