package server

import (
	"context"
	"net"
	"testing"
	"time"
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
