package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
)

// queueClients connects n clients to addr that nobody accepts yet: the
// kernel completes their handshakes and queues them. Each sends its
// request and half-closes; the returned channel gets each client's reply,
// or the error that ended reading it.
func queueClients(t *testing.T, addr string, n int) <-chan string {
	t.Helper()
	replies := make(chan string, n)
	var conns []*net.TCPConn
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		tc := c.(*net.TCPConn)
		conns = append(conns, tc)
		fmt.Fprintf(tc, "request %d", i)
		tc.CloseWrite()
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(defaultTestTimeout))
			b, err := io.ReadAll(c)
			if err != nil {
				replies <- "error: " + err.Error()
				return
			}
			replies <- string(b)
		})
	}
	t.Cleanup(wg.Wait)
	return replies
}

// echoServe answers every connection l accepts with "reply to " and its
// request, until Accept fails; it returns that error.
func echoServe(l net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		wg.Go(func() {
			defer c.Close()
			req, err := io.ReadAll(c)
			if err == nil {
				io.WriteString(c, "reply to "+string(req))
			}
		})
	}
}

// TestCloseResetsQueued shows what GentleListener avoids: closing a
// listener resets the connections the kernel queued for it, though their
// clients had sent a whole request. (Without it, TestGentleServesQueued
// could pass without a queue.)
func TestCloseResetsQueued(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	replies := queueClients(t, l.Addr().String(), 3)
	l.Close()
	for range 3 {
		if r := testenv.Recv(t, hangTimeout, "a queued client's reply", replies); !strings.HasPrefix(r, "error: ") || !strings.Contains(r, "connection reset by peer") {
			t.Fatalf("a queued client after Close: %q; want a reset", r)
		}
	}
}

// TestGentleServesQueued: StopAccepting hands the queued connections out
// through Accept, each is served, and then the socket is closed: a new
// connection is refused.
func TestGentleServesQueued(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the gentle stop works on Linux only")
	}
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gl := NewGentleListener(ln)
	addr := ln.Addr().String()
	const n = 5
	replies := queueClients(t, addr, n)

	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- gl.StopAccepting(ctx) }()
	served := make(chan error, 1)
	go func() { served <- echoServe(gl) }()

	got := map[string]bool{}
	for range n {
		got[testenv.Recv(t, hangTimeout, "a queued client's reply", replies)] = true
	}
	for i := range n {
		if want := fmt.Sprintf("reply to request %d", i); !got[want] {
			t.Errorf("no %q among the replies: %v", want, got)
		}
	}
	if err := testenv.Recv(t, hangTimeout, "StopAccepting's return", stopped); err != nil {
		t.Fatalf("StopAccepting: %v", err)
	}
	if err := testenv.Recv(t, hangTimeout, "Serve's return after the stop", served); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after the drain: %v; want net.ErrClosed", err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("the listener still accepts after StopAccepting")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial after StopAccepting: %v; want refused", err)
	}
}

// TestGentleWakesAccept: an Accept waiting in the runtime's poller when
// StopAccepting is called returns (net.ErrClosed, the queue being empty).
func TestGentleWakesAccept(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gl := NewGentleListener(ln)
	served := make(chan error, 1)
	go func() { served <- echoServe(gl) }()
	// A served connection: the Accept loop runs.
	if r := testenv.Recv(t, hangTimeout, "the client's reply", queueClients(t, ln.Addr().String(), 1)); r != "reply to request 0" {
		t.Fatalf("reply %q", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	if err := gl.StopAccepting(ctx); err != nil {
		t.Fatalf("StopAccepting: %v", err)
	}
	if err := testenv.Recv(t, hangTimeout, "Serve's return after the stop", served); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept: %v; want net.ErrClosed", err)
	}
}

// TestGentleWaitsForUse: StopAccepting returns only once every queued
// connection it handed out has been used (grpc-go checks whether it is
// stopping before it uses a new connection, and closes it if so); when its
// context ends first it says so.
func TestGentleWaitsForUse(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the gentle stop works on Linux only")
	}
	gl, c, replies := oneQueued(t, 0)
	if _, ok := c.(*queuedConn); !ok {
		t.Fatalf("Accept gave a %T, want a *queuedConn", c)
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := gl.StopAccepting(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("StopAccepting with a connection unused: %v; want context.Canceled", err)
	}
	// Using the connection ends the wait.
	req, err := io.ReadAll(c)
	if err != nil || string(req) != "request 0" {
		t.Fatalf("request %q, %v", req, err)
	}
	io.WriteString(c, "ok")
	c.Close()
	ctx, cancel2 := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel2()
	if err := gl.StopAccepting(ctx); err != nil {
		t.Fatalf("StopAccepting once used: %v", err)
	}
	if r := testenv.Recv(t, hangTimeout, "the client's reply", replies); r != "ok" {
		t.Fatalf("reply %q", r)
	}
}

// oneQueued queues one client's connection on a gentle listener (with
// cutWait, when not 0) and takes it as StopAccepting's drain of the queue
// does, the queue then empty; replies is what the client reads.
func oneQueued(t *testing.T, cutWait time.Duration) (gl *GentleListener, c net.Conn, replies <-chan string) {
	t.Helper()
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gl = NewGentleListener(ln)
	if cutWait != 0 {
		gl.cutWait = cutWait
	}
	replies = queueClients(t, ln.Addr().String(), 1)
	gl.stopping.Store(true) // as StopAccepting starts: Accept drains the queue
	if c, err = gl.Accept(); err != nil {
		t.Fatal(err)
	}
	// Closed before queueClients waits for its client, should the test
	// end without closing it.
	t.Cleanup(func() { c.Close() })
	if _, err := gl.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Accept: %v; want net.ErrClosed (queue empty)", err)
	}
	return gl, c, replies
}

// TestGentleCutServesQueued: a StopAccepting whose ctx has ended (the
// shutdown's grace over, a second signal) waits for no handshake and no
// use, but still hands the queued connections to Accept rather than reset
// them: their server answers them (halfclosed with the shutdown's error
// line), where the reset reached a raw-TCP client through nginx as an
// empty reply with a clean close.
func TestGentleCutServesQueued(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the gentle stop works on Linux only")
	}
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gl := NewGentleListener(ln)
	const n = 5
	replies := queueClients(t, ln.Addr().String(), n)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- gl.StopAccepting(ctx) }()
	// Accept only once the stop has begun, as a server busy elsewhere
	// would: the old stop closed the socket at once, queue and all.
	testenv.Until(t, hangTimeout, "StopAccepting's start", func() bool { return gl.stopping.Load() })
	served := make(chan error, 1)
	go func() { served <- echoServe(gl) }()

	for range n {
		if r := testenv.Recv(t, hangTimeout, "a queued client's reply", replies); !strings.HasPrefix(r, "reply to request ") {
			t.Errorf("a queued client after a cut stop: %q; want its reply", r)
		}
	}
	if err := testenv.Recv(t, hangTimeout, "StopAccepting's return", stopped); !errors.Is(err, context.Canceled) {
		t.Fatalf("StopAccepting: %v; want ctx's error", err)
	}
	if err := testenv.Recv(t, hangTimeout, "Serve's return after the stop", served); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after the drain: %v; want net.ErrClosed", err)
	}
}

// TestGentleCutWaitsForUse: a cut StopAccepting (its ctx ended) still
// waits for the queued connections it handed out to be used, as an uncut
// one does: grpc-go closes a new connection it has not begun to serve
// once GracefulStop has begun, which the caller starts when StopAccepting
// returns. Returning once the queue was empty let such a connection be
// closed unread, a reset where its client should have had GOAWAY.
func TestGentleCutWaitsForUse(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the gentle stop works on Linux only")
	}
	gl, c, replies := oneQueued(t, time.Hour) // only the use ends the wait
	// The use must come once the cut stop waits for it: a use before the
	// stop looked left nothing to wait for, nothing cut, and the stop
	// returned nil (1 in 30 runs under load, when the test went on
	// before the stop's goroutine ran).
	cutWaiting := make(chan struct{})
	var once sync.Once
	gl.onWait = func(unused int) {
		if gl.cut.Load() && unused == 1 {
			once.Do(func() { close(cutWaiting) })
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- gl.StopAccepting(ctx) }()
	select {
	case err := <-stopped:
		t.Fatalf("cut StopAccepting returned (%v) with a handed-out connection unused", err)
	case <-cutWaiting:
	}
	io.ReadAll(c) // the use
	io.WriteString(c, "ok")
	c.Close()
	if err := testenv.Recv(t, hangTimeout, "StopAccepting's return", stopped); !errors.Is(err, context.Canceled) {
		t.Fatalf("cut StopAccepting: %v; want ctx's error", err)
	}
	if r := testenv.Recv(t, hangTimeout, "the client's reply", replies); r != "ok" {
		t.Fatalf("reply %q", r)
	}
}

// TestGentleCutTCPNeedsNoUse: the raw-TCP server serves every connection
// it accepts, so a queued one it takes counts as used at once: a cut stop
// does not wait for its first read, which a route-port job put off while
// it waited for a slot (--job-wait), and so put off the cancelling of
// every running TCP job of a second SIGTERM (by up to the cut stop's
// second: 2.1 s to exit where 1.1 s without).
func TestGentleCutTCPNeedsNoUse(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the gentle stop works on Linux only")
	}
	eng := engine.New(engine.Config{Registry: testRegistry(), MaxJobs: 1, QueueWait: time.Hour})
	release, err := eng.Acquire(context.Background()) // every job waits for a slot
	if err != nil {
		t.Fatal(err)
	}
	p, err := eng.Compile("wc -c")
	if err != nil {
		t.Fatal(err)
	}
	s := &TCPServer{Engine: eng}
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gl := NewGentleListener(ln)
	gl.cutWait = time.Hour // only the use (or the server's word) ends the wait
	replies := queueClients(t, ln.Addr().String(), 1)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- gl.StopAccepting(ctx) }()
	testenv.Until(t, hangTimeout, "StopAccepting's start", func() bool { return gl.stopping.Load() })
	served := make(chan error, 1)
	go func() { served <- s.ServeRoute(gl, p) }()
	select {
	case err := <-stopped:
		// nil when ServeRoute took the queued connection before the
		// stop looked: nothing was left to cut (StopAccepting).
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("cut StopAccepting: %v; want ctx's error or nil", err)
		}
	case <-time.After(defaultTestTimeout):
		t.Error("the cut stop waited for the first read of a connection waiting for a job slot")
	}
	release()
	if r := testenv.Recv(t, hangTimeout, "the client's reply", replies); r != "9\n" {
		t.Errorf("the queued job's reply %q; want wc -c's", r)
	}
	// The listener closed under it, outside a shutdown of its own.
	if err := testenv.Recv(t, hangTimeout, "Serve's return after the stop", served); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ServeRoute: %v; want net.ErrClosed", err)
	}
	s.Close()
}
