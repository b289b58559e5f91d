package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/testenv"
)

// hookArmer runs before, then the armer it wraps: what happens to the
// connection just before a raw read or write that is to wait sets its
// deadline (armWait) happens there, in the reader's or writer's own
// goroutine, with no sleep.
type hookArmer struct {
	before func()
	next   waitArmer
}

func (h hookArmer) armWait() error {
	if h.before != nil {
		h.before()
	}
	return h.next.armWait()
}

// hookedReader is lazyReader with before run ahead of its armWait.
func hookedReader(ctx context.Context, c net.Conn, sc *net.TCPConn, idle time.Duration, before func()) *connReader {
	cr := &connReader{ctx: ctx, c: c, idle: idle, plain: true, lazy: true}
	cr.r = rawReaderArmed(rawConnOf(sc), hookArmer{before, cr})
	return cr
}

// within runs f on a goroutine and fails the test if it has not returned
// within defaultTestTimeout (a read that waits on a client that sends
// nothing for an hour: the stop below did not reach it).
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(defaultTestTimeout):
		t.Fatalf("%s: still waiting after %v", what, defaultTestTimeout)
	}
}

// With no idle timeout (--idle-timeout 0) a read that waits sets no read
// deadline: there is none to set. armWait set the zero one (a call into
// the runtime's poller) before every wait of such a job's reads.
func TestConnReaderNoIdleTimeoutSetsNoDeadline(t *testing.T) {
	cc, sc := loopbackPair(t)
	dc := &deadlineConn{Conn: sc}
	armed := 0
	cr := hookedReader(context.Background(), dc, sc, 0, func() {
		// The read found nothing and is to wait: the client's byte
		// comes now, and the netpoller wakes the read for it.
		if armed++; armed == 1 {
			if _, err := cc.Write([]byte("x")); err != nil {
				t.Error(err)
			}
		}
	})
	if n, err := cr.Read(make([]byte, 16)); n != 1 || err != nil {
		t.Fatalf("Read: %d, %v; want the client's byte", n, err)
	}
	if armed == 0 {
		t.Fatal("the read did not wait: the test tested nothing")
	}
	if n := dc.set.Load(); n != 0 {
		t.Errorf("%d read deadlines set with no idle timeout, want 0", n)
	}
}

// A stop that comes just before a read that is to wait sets its deadline
// (armWait) still ends that read at once: the forced stop's (the
// context's end, then the read deadline set to now, as handle's AfterFunc
// does), and the engine's Close. armWait's deadline overwrites theirs, so
// it must see them. With and without an idle timeout.
func TestConnReaderStopBeforeArm(t *testing.T) {
	for _, idle := range []time.Duration{0, time.Hour} {
		for _, stop := range []string{"cut", "close"} {
			t.Run(fmt.Sprintf("%s/idle=%v", stop, idle), func(t *testing.T) {
				_, sc := loopbackPair(t) // a client that sends nothing
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var cr *connReader
				var once sync.Once
				cr = hookedReader(ctx, sc, sc, idle, func() {
					once.Do(func() {
						if stop == "cut" {
							cancel()
							sc.SetReadDeadline(time.Now())
						} else {
							cr.Close()
						}
					})
				})
				var err error
				within(t, "read stopped before it armed its wait", func() {
					_, err = cr.Read(make([]byte, 16))
				})
				switch {
				case stop == "cut" && !(isConnReadError(err) || errors.Is(err, errReaderClosed)):
					t.Errorf("Read after the cut: %v; want an abort", err)
				case stop == "close" && !errors.Is(err, errReaderClosed):
					t.Errorf("Read after Close: %v; want errReaderClosed", err)
				}
			})
		}
	}
}

// A forced stop (connWriter.stop) that comes just before a raw write that
// is to wait for room sets its deadline (armWait) fails that write: it
// must not wait an idle timeout for a client that does not read.
func TestConnWriterStopBeforeArm(t *testing.T) {
	cc, sc := loopbackPair(t) // cc never reads
	cc.SetReadBuffer(64 << 10)
	sc.SetWriteBuffer(64 << 10)
	w := &connWriter{c: sc, idle: time.Hour, rc: rawConnOf(sc)}
	w.raw = rawWriterOf(w.rc)
	ww := w.raw.(watchedWriter)
	var n int
	var err error
	within(t, "write stopped before it armed its wait", func() {
		n, err = ww.writeArmed(make([]byte, 64<<20), nil, false, hookArmer{w.stop, w})
	})
	if !errors.Is(err, errShuttingDown) || n == 64<<20 {
		t.Fatalf("write stopped as it was to wait: %d bytes, %v; want errShuttingDown", n, err)
	}
}

// A route job run inline (a digest), whose input source is not closed by
// the engine when the server's context ends (engine.SelfEnding), still
// ends at the forced stop with UNAVAILABLE and no digest, with and
// without an idle timeout, while its client neither sends more nor ends.
func TestTCPCutInlineRouteJob(t *testing.T) {
	for _, idle := range []time.Duration{0, time.Hour} {
		t.Run(fmt.Sprintf("idle=%v", idle), func(t *testing.T) {
			env := startEnv(t, envConfig{idle: idle, routes: []string{"sha256sum"}})
			conn, err := net.Dial("tcp", env.routes["sha256sum"])
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write([]byte("never finished")); err != nil {
				t.Fatal(err)
			}
			env.obs.waitStarted(t)
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // no grace: the stop is forced at once
			shut := make(chan error, 1)
			go func() { shut <- env.tcp.Shutdown(ctx) }()
			conn.SetReadDeadline(time.Now().Add(defaultTestTimeout))
			line := make([]byte, 256)
			n, err := io.ReadAtLeast(conn, line, len("halfclose: error: UNAVAILABLE: server is shutting down\n"))
			if got := string(line[:n]); got != "halfclose: error: UNAVAILABLE: server is shutting down\n" {
				t.Fatalf("cut job replied %q (%v)", got, err)
			}
			conn.(*net.TCPConn).CloseWrite() // ends the server's wait for it
			if err := testenv.Recv(t, hangTimeout, "Shutdown's return after the client's FIN", shut); !errors.Is(err, context.Canceled) {
				t.Errorf("Shutdown: %v", err)
			}
		})
	}
}
