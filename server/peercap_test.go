package server

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestPeerCapReusesEntries: a peer that holds nothing else takes a place
// with the allocations of its release only; the entry of a peer whose
// places are all free is kept for the next new peer (was 3 a place).
func TestPeerCapReusesEntries(t *testing.T) {
	c := NewPeerCap(2)
	ips := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}
	i := 0
	n := testing.AllocsPerRun(200, func() {
		release, ok := c.TryAcquire(ips[i%len(ips)])
		i++
		if !ok {
			t.Fatal("refused")
		}
		release()
	})
	if n > 2 {
		t.Errorf("TryAcquire and release of a new peer: %v allocations, want at most 2", n)
	}
	if c.Peers() != 0 {
		t.Errorf("%d peers after every place was released", c.Peers())
	}
}

// TestPeerCapStaleReleaseOfReusedEntry: a release called again after its
// entry went to another peer changes nothing of that peer's.
func TestPeerCapStaleReleaseOfReusedEntry(t *testing.T) {
	c := NewPeerCap(1)
	ra, ok := c.TryAcquire("a")
	if !ok {
		t.Fatal("a refused")
	}
	ra() // a's entry is spare now
	rb, ok := c.TryAcquire("b")
	if !ok {
		t.Fatal("b refused")
	}
	ra() // stale: ignored
	if got := c.Held("b"); got != 1 {
		t.Fatalf("b holds %d after a's second release, want 1", got)
	}
	if _, ok := c.TryAcquire("b"); ok {
		t.Fatal("b got a second place past its cap of 1")
	}
	// A waiter on b's entry keeps it b's while it waits.
	done := make(chan bool)
	go func() {
		r, ok, _ := c.Acquire(context.Background(), "b", time.Hour)
		if ok {
			r()
		}
		done <- ok
	}()
	for c.waiting("b") == 0 {
		runtime.Gosched() // until the waiter counts itself
	}
	rb()
	if !<-done {
		t.Fatal("the waiter got no place once b's was released")
	}
	if c.Peers() != 0 || c.Held("a") != 0 || c.Held("b") != 0 {
		t.Fatalf("peers %d, a %d, b %d after all released", c.Peers(), c.Held("a"), c.Held("b"))
	}
}

// waiting returns how many wait for one of ip's places, for tests.
func (c *PeerCap) waiting(ip string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h := c.peers[ip]; h != nil {
		return h.waiters
	}
	return 0
}
