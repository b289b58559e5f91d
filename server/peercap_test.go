package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/testenv"
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
	testenv.Until(t, hangTimeout, "the waiter's count", func() bool { return c.waiting("b") != 0 })
	rb()
	if !testenv.Recv(t, hangTimeout, "the waiter's place once b's was released", done) {
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

// TestPeerCapStress: goroutines take and give back places of a few
// peers at once, through TryAcquire and Acquire (some given up), each
// release called twice, the second often after its entry went to another
// peer. No peer ever holds more than its cap (counted apart), and after
// it all no entry is left and each peer can take its cap again, not more.
func TestPeerCapStress(t *testing.T) {
	const limit, peers, workers, rounds = 2, 6, 12, 3000
	c := NewPeerCap(limit)
	var held [peers]atomic.Int32
	ips := make([]string, peers)
	for i := range ips {
		ips[i] = fmt.Sprintf("10.0.0.%d", i)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	var stale []func()
	var staleMu sync.Mutex
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 14))
			for range rounds {
				i := r.IntN(peers)
				var release func()
				var ok bool
				switch r.IntN(3) {
				case 0:
					release, ok = c.TryAcquire(ips[i])
				case 1:
					release, ok, _ = c.Acquire(context.Background(), ips[i], time.Millisecond)
				default:
					release, ok, _ = c.Acquire(cancelled, ips[i], time.Hour)
				}
				if !ok {
					continue
				}
				if n := held[i].Add(1); n > limit {
					t.Errorf("%s holds %d places, cap %d", ips[i], n, limit)
				}
				runtime.Gosched()
				held[i].Add(-1)
				release()
				if r.IntN(2) == 0 {
					release() // at once
				} else {
					staleMu.Lock()
					stale = append(stale, release) // later, from another goroutine
					if len(stale) > 50 {
						for _, f := range stale {
							f()
						}
						stale = stale[:0]
					}
					staleMu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for _, f := range stale {
		f()
	}
	if n := c.Peers(); n != 0 {
		t.Fatalf("%d peers left after every place was released", n)
	}
	if n := len(c.spare); n > maxSpare {
		t.Fatalf("%d spare entries, at most %d", n, maxSpare)
	}
	for _, ip := range ips {
		var rs []func()
		for range limit {
			r, ok := c.TryAcquire(ip)
			if !ok {
				t.Fatalf("%s refused under its cap after the stress", ip)
			}
			rs = append(rs, r)
		}
		if _, ok := c.TryAcquire(ip); ok {
			t.Fatalf("%s got a place past its cap of %d after the stress", ip, limit)
		}
		for _, r := range rs {
			r()
		}
	}
}
