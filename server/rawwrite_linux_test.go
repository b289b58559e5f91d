package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/oracle"
)

// TestRawWriterTakesWatchWhenFull: a raw reply write takes the sendWatch
// of connWriter (what the socket had queued) only when it finds the
// socket full before it wrote anything, which is what a timed-out write
// of nothing is compared with (sendWatch.moved); a write that does not
// wait asks the kernel nothing.
func TestRawWriterTakesWatchWhenFull(t *testing.T) {
	cc, sc := loopbackPair(t) // cc never reads
	// Fixed buffers: no autotuning makes room again after the socket
	// is first full.
	cc.SetReadBuffer(64 << 10)
	sc.SetWriteBuffer(64 << 10)
	w := newRawWriter(sc).(rawWriter)

	var small sendWatch
	if n, err := w.writeWatched([]byte("reply"), &small, false); n != 5 || err != nil {
		t.Fatalf("small write: %d, %v", n, err)
	}
	if small.ok {
		t.Fatal("a write that did not wait took the watch")
	}

	big := make([]byte, 64<<20)
	sc.SetWriteDeadline(time.Now().Add(shortTimeout))
	var filling sendWatch
	n, err := w.writeWatched(big, &filling, false)
	if n == 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("filling write: %d, %v; want some bytes, then the deadline", n, err)
	}
	if filling.ok {
		t.Fatal("a write that had written bytes before the socket was full took the watch")
	}

	var full sendWatch
	for try := 0; ; try++ {
		sc.SetWriteDeadline(time.Now().Add(shortTimeout))
		full = sendWatch{c: sc}
		n, err = w.writeWatched(big, &full, false)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("write on a full socket: %d, %v; want the deadline", n, err)
		}
		if n == 0 {
			break
		}
		if full.ok {
			t.Fatal("a write that had written bytes before the socket was full took the watch")
		}
		if try == 20 {
			t.Fatalf("the socket still takes bytes after %d writes", try)
		}
	}
	q, ok := queuedOf(sc)
	if !full.ok || !ok || full.queued != q || q == 0 {
		t.Fatalf("watch %+v, queued now %d (%v): want what was queued, nothing acknowledged since", full, q, ok)
	}
	if full.moved() {
		t.Fatal("moved, with a client that reads nothing")
	}
}

// TestCloseWriteHalfCloses: closeWrite sends the FIN after what was
// written (the client reads the reply, then io.EOF) and leaves the read
// side open (the server still reads what the client sends after it), and
// fails on a closed connection. It once named syscall.SYS_SHUTDOWN, which
// linux/386 has not: the server did not build there (GOARCH=386 go vet
// ./server/, which make cross runs; this test runs there as it is).
func TestCloseWriteHalfCloses(t *testing.T) {
	cc, sc := loopbackPair(t)
	cc.SetDeadline(time.Now().Add(defaultTestTimeout))
	sc.SetDeadline(time.Now().Add(defaultTestTimeout))
	if _, err := newRawWriter(sc).Write([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	if err := closeWrite(sc); err != nil {
		t.Fatalf("closeWrite: %v", err)
	}
	if got, err := io.ReadAll(cc); string(got) != "reply" || err != nil {
		t.Fatalf("the client read %q, %v; want the reply, then the FIN", got, err)
	}
	if _, err := cc.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	cc.CloseWrite()
	if got, err := io.ReadAll(sc); string(got) != "late" || err != nil {
		t.Fatalf("the server read %q, %v after its FIN; want what the client sent", got, err)
	}
	sc.Close()
	if err := closeWrite(sc); err == nil {
		t.Fatal("closeWrite of a closed connection succeeded")
	}
}

// TestRawWriterLastWaitsForFIN: the reply's last raw write (more) leaves
// its short tail unsent until closeWrite, whose FIN then goes with it in
// one segment; the client reads the whole reply, then io.EOF. A write
// without more sends at once.
//
// The kernel sends a held tail on its own at its probe timer (at least
// tcp_rto_min, 200 ms), and at once when an acknowledgement of earlier
// data comes: the tail is written once the head is acknowledged, and a
// try that took longer than corkHeld is inconclusive and tried again, so
// that a loaded machine cannot fail the test.
func TestRawWriterLastWaitsForFIN(t *testing.T) {
	held := corkHeld()
	for try := 0; ; try++ {
		if try == 100 {
			t.Skipf("no try checked the tail within %v of its write", held)
		}
		cc, sc := loopbackPair(t)
		cc.SetDeadline(time.Now().Add(defaultTestTimeout))
		w := newRawWriter(sc).(rawWriter)
		if n, err := w.writeWatched([]byte("head "), nil, false); n != 5 || err != nil {
			t.Fatalf("write: %d, %v", n, err)
		}
		if q := unsent(t, sc); q != 0 {
			t.Fatalf("%d bytes unsent after a write without more, want 0", q)
		}
		waitAcked(t, sc)
		t0 := time.Now()
		if n, err := w.writeWatched([]byte("tail"), nil, true); n != 4 || err != nil {
			t.Fatalf("last write: %d, %v", n, err)
		}
		q := unsent(t, sc)
		conclusive := time.Since(t0) < held
		if err := closeWrite(sc); err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(cc); string(got) != "head tail" || err != nil {
			t.Fatalf("the client read %q, %v; want the reply, then the FIN", got, err)
		}
		if !conclusive {
			continue
		}
		if q != 4 {
			t.Fatalf("%d bytes unsent after the last write, want its 4: they wait for the FIN", q)
		}
		return
	}
}

// corkHeld is how long after a write with MSG_MORE the kernel surely
// still holds its short tail (nothing else in flight): half the minimum
// RTO, after which its probe timer sends the tail alone.
func corkHeld() time.Duration {
	rto := 200 * time.Millisecond
	if b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_rto_min_us"); err == nil {
		if us, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && us > 0 {
			rto = time.Duration(us) * time.Microsecond
		}
	}
	return rto / 2
}

// waitAcked waits until c's peer has acknowledged all c sent (SIOCOUTQ
// is 0): loopback acknowledges a new connection's first data at once,
// though not always before the write returns.
func waitAcked(t *testing.T, c *net.TCPConn) {
	t.Helper()
	for end := time.Now().Add(defaultTestTimeout); ; runtime.Gosched() {
		if q, ok := sendQueued(c); ok && q == 0 {
			return
		}
		if time.Now().After(end) {
			t.Fatal("the peer did not acknowledge")
		}
	}
}

// unsent is what c holds written and not sent yet (SIOCOUTQNSD).
func unsent(t *testing.T, c *net.TCPConn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ierr error
	rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQNSD) })
	if ierr != nil {
		t.Fatal(ierr)
	}
	return n
}

// TestTCPReplyCarriesFIN: a route job's reply and the server's FIN come
// in one segment: while the server is between its reply's last write and
// its FIN (its observer's done, a hook here), nothing of the reply has
// reached the client; then reply and FIN arrive together (a peek after
// the reply finds the end of stream, not EAGAIN). Sent apart, the reply
// was there before the FIN, and the FIN a segment of its own.
//
// A try whose check came later than corkHeld after the client's FIN (and
// so after the reply's write) is inconclusive: the kernel's probe timer
// may have sent the tail alone.
func TestTCPReplyCarriesFIN(t *testing.T) {
	hook := &finHook{ended: make(chan chan struct{}), stop: make(chan struct{})}
	eng := engine.New(engine.Config{Registry: testRegistry()})
	s := &TCPServer{Engine: eng, Observer: hook}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p, err := eng.Compile("sha256sum")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.ServeRoute(l, p); close(done) }()
	t.Cleanup(func() { s.Close(); <-done })
	t.Cleanup(func() { close(hook.stop) }) // first: a failed try left its job waiting

	input := bytes.Repeat([]byte("0123456789abcdef"), 64)
	want := oracle.Output(t, input, "sha256sum")
	held := corkHeld()
	checked := 0
	for try := 0; checked < 20; try++ {
		if try == 200 {
			t.Skipf("%d of 200 tries checked within %v of the client's FIN", checked, held)
		}
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(defaultTestTimeout))
		c.Write(input)
		t0 := time.Now()
		c.(*net.TCPConn).CloseWrite()
		var resume chan struct{}
		select {
		case resume = <-hook.ended:
		case <-time.After(defaultTestTimeout):
			t.Fatal("the job did not end")
		}
		early := peek(t, c.(*net.TCPConn))
		conclusive := time.Since(t0) < held
		close(resume)
		buf := make([]byte, 4096)
		n, err := c.Read(buf)
		if string(buf[:n]) != want || err != nil {
			t.Fatalf("try %d: read %q, %v; want %q", try, buf[:n], err, want)
		}
		after := peek(t, c.(*net.TCPConn))
		c.Close()
		if !conclusive {
			continue
		}
		checked++
		if early != -1 {
			t.Fatalf("try %d: before the server's FIN, a peek found %d bytes; want none: the reply waits for the FIN", try, early)
		}
		if after != 0 {
			t.Fatalf("try %d: after the reply, a peek found %d; want the FIN (0), with the reply", try, after)
		}
	}
}

// finHook is an Observer whose jobs' done waits: it sends a channel on
// ended, and returns once that is closed, or stop is.
type finHook struct {
	ended chan chan struct{}
	stop  chan struct{}
}

func (h *finHook) JobStarted(string) func(string, int64, int64) {
	return func(string, int64, int64) {
		resume := make(chan struct{})
		select {
		case h.ended <- resume:
		case <-h.stop:
			return
		}
		select {
		case <-resume:
		case <-h.stop:
		}
	}
}

// peek returns what a non-blocking peek of c finds: the bytes waiting, 0
// at the end of stream, or -1 when nothing has come.
func peek(t *testing.T, c *net.TCPConn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var perr error
	rc.Control(func(fd uintptr) {
		n, _, perr = unix.Recvfrom(int(fd), make([]byte, 4096), unix.MSG_PEEK|unix.MSG_DONTWAIT)
	})
	if perr == unix.EAGAIN {
		return -1
	}
	if perr != nil {
		t.Fatal(perr)
	}
	return n
}

// TestRawConnShared: a connection's raw reads, writes and half-close go
// through the one RawConn it was given (rawConnOf), making none of their
// own (SyscallConn allocates one at each call), and do what the calls
// that make their own do.
func TestRawConnShared(t *testing.T) {
	cc, sc := loopbackPair(t)
	cc.SetDeadline(time.Now().Add(defaultTestTimeout))
	sc.SetDeadline(time.Now().Add(defaultTestTimeout))
	rc := rawConnOf(sc)
	if rc == nil {
		t.Fatal("no RawConn")
	}
	r, w := rawReaderOf(rc), rawWriterOf(rc)
	if _, err := w.Write([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	// shutdown(SHUT_WR) again, before the client's FIN, is no error.
	allocs := func(f func(*net.TCPConn) error) float64 {
		return testing.AllocsPerRun(10, func() {
			if err := f(sc); err != nil {
				t.Fatal(err)
			}
		})
	}
	shared := allocs(func(c *net.TCPConn) error { return closeWriteRaw(c, rc) })
	own := allocs(func(c *net.TCPConn) error { return closeWrite(c) })
	t.Logf("shared %v own %v", shared, own)
	if shared >= own {
		t.Errorf("closeWriteRaw made %v allocations, closeWrite %v: a RawConn of its own", shared, own)
	}
	if got, err := io.ReadAll(cc); string(got) != "reply" || err != nil {
		t.Fatalf("the client read %q, %v; want the reply, then the FIN", got, err)
	}
	if _, err := cc.Write([]byte("input")); err != nil {
		t.Fatal(err)
	}
	cc.CloseWrite()
	if got, err := io.ReadAll(r); string(got) != "input" || err != nil {
		t.Fatalf("read %q, %v; want the input, then io.EOF", got, err)
	}
	sc.Close()
	if err := closeWriteRaw(sc, rc); err == nil {
		t.Fatal("closeWriteRaw of a closed connection succeeded")
	}
	if rawReaderOf(nil) != nil || rawWriterOf(nil) != nil {
		t.Fatal("a raw reader or writer of no RawConn")
	}
}
