package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/halfclose/halfclose/compute"
)

// arrived waits (poll(2), no sleep) until the client's FIN, and so every
// byte it sent before it, is in sc's receive queue.
func arrived(t *testing.T, sc *net.TCPConn) {
	t.Helper()
	rc := rawConnOf(sc)
	var err error
	rc.Control(func(fd uintptr) {
		for {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
			_, err = unix.Poll(fds, int(defaultTestTimeout/time.Millisecond))
			if err != unix.EINTR {
				if err == nil && fds[0].Revents&unix.POLLRDHUP == 0 {
					err = errors.New("no FIN within the test's timeout")
				}
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// lazyReader is the connReader of a plain TCP job on Linux (run): raw
// reads that set the read deadline only before they wait.
func lazyReader(c net.Conn, sc *net.TCPConn, idle time.Duration) *connReader {
	cr := &connReader{ctx: context.Background(), c: c, idle: idle, plain: true, lazy: true}
	cr.r = rawReaderArmed(rawConnOf(sc), cr)
	return cr
}

// A job whose input and FIN are there when it reads them sets no read
// deadline (a timer the runtime adds and, at the close, removes); one
// whose read waits sets it once, and is aborted as idle once that read
// has waited the idle timeout.
func TestConnReaderDeadlineOnlyToWait(t *testing.T) {
	cc, sc := loopbackPair(t)
	data := randBytes(11, 1024)
	if _, err := cc.Write(data); err != nil {
		t.Fatal(err)
	}
	cc.CloseWrite()
	arrived(t, sc)
	dc := &deadlineConn{Conn: sc}
	got, err := io.ReadAll(lazyReader(dc, sc, time.Hour))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v; want the input, then its end", len(got), err)
	}
	if n := dc.set.Load(); n != 0 {
		t.Errorf("%d read deadlines set by reads that did not wait, want 0", n)
	}

	_, sc = loopbackPair(t) // a client that sends nothing
	dc = &deadlineConn{Conn: sc}
	start := time.Now()
	_, err = lazyReader(dc, sc, shortTimeout).Read(make([]byte, 1))
	if waited := time.Since(start); !isConnReadError(err) || err.Error() != errIdle(shortTimeout).Error() || waited < shortTimeout {
		t.Fatalf("Read: %v after %v, want the idle timeout (%v)", err, waited, shortTimeout)
	}
	if n := dc.set.Load(); n != 1 {
		t.Errorf("%d read deadlines set by a read that waited, want 1", n)
	}
}

// A read of a job whose context is done fails, as when the deadline is
// set before it, though its input is there.
func TestConnReaderLazyContextDone(t *testing.T) {
	cc, sc := loopbackPair(t)
	cc.Write([]byte("input"))
	cc.CloseWrite()
	arrived(t, sc)
	cr := lazyReader(sc, sc, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cr.ctx = ctx
	if n, err := cr.Read(make([]byte, 16)); n != 0 || !isConnReadError(err) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Read: %d, %v; want the context's error", n, err)
	}
}

// writeDeadlineConn counts the write deadlines set on it.
type writeDeadlineConn struct {
	net.Conn
	set atomic.Int64
}

func (d *writeDeadlineConn) SetWriteDeadline(t time.Time) error {
	d.set.Add(1)
	return d.Conn.SetWriteDeadline(t)
}

// A reply the socket takes at once sets no write deadline; a write that
// waits for room sets one, and a client that stops reading still has its
// reply fail once a write has taken nothing for the idle timeout; a
// stopped writer writes nothing.
func TestConnWriterDeadlineOnlyToWait(t *testing.T) {
	cc, sc := loopbackPair(t) // cc never reads
	cc.SetReadBuffer(64 << 10)
	sc.SetWriteBuffer(64 << 10)
	dc := &writeDeadlineConn{Conn: sc}
	w := &connWriter{c: dc, idle: shortTimeout, raw: rawWriterOf(rawConnOf(sc))}
	if n, err := w.Write([]byte("digest line\n")); n != 12 || err != nil {
		t.Fatalf("small write: %d, %v", n, err)
	}
	if n := dc.set.Load(); n != 0 {
		t.Fatalf("%d write deadlines set by a write that did not wait, want 0", n)
	}
	start := time.Now()
	_, err := w.Write(make([]byte, 64<<20))
	var ce *compute.Error
	if waited := time.Since(start); !errors.As(err, &ce) || ce.Msg != errReplyIdle(shortTimeout).Error() || waited < shortTimeout {
		t.Fatalf("write to a client that does not read: %v after %v; want the reply's idle timeout", err, waited)
	}
	if dc.set.Load() == 0 {
		t.Fatal("no write deadline set by writes that waited")
	}

	_, sc = loopbackPair(t)
	w = &connWriter{c: sc, idle: time.Hour, raw: rawWriterOf(rawConnOf(sc))}
	w.stop()
	if n, err := w.Write([]byte("reply")); n != 0 || !errors.Is(err, errShuttingDown) {
		t.Fatalf("write after stop: %d, %v; want errShuttingDown", n, err)
	}
}
