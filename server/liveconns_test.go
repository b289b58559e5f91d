package server

import (
	"net"
	"testing"
)

// TestLiveConns: a forced stop stops every connection in the set and each
// one added after it, none removed before it; a connection's place costs
// no allocation (a context.AfterFunc was three).
func TestLiveConns(t *testing.T) {
	var l liveConns
	ws := make([]*connWriter, 5)
	for i := range ws {
		c, peer := net.Pipe()
		t.Cleanup(func() { c.Close(); peer.Close() })
		ws[i] = &connWriter{c: c}
	}
	for _, w := range ws {
		l.add(w)
	}
	// Out of the middle, the head and the tail, and twice.
	for _, i := range []int{2, 4, 0, 2} {
		l.remove(ws[i])
	}
	if n := testing.AllocsPerRun(100, func() { l.add(ws[0]); l.remove(ws[0]) }); n != 0 {
		t.Errorf("add and remove: %v allocations, want 0", n)
	}
	l.stopAll()
	for i, w := range ws {
		want := i == 1 || i == 3
		if w.stopped != want {
			t.Errorf("writer %d stopped %v, want %v", i, w.stopped, want)
		}
	}
	l.add(ws[0])
	if !ws[0].stopped {
		t.Error("a connection added after the stop is not stopped")
	}
}
