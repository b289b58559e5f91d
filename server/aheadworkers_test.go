package server

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/halfclose/halfclose/internal/leakcheck"
	"github.com/halfclose/halfclose/internal/testenv"
)

// endedAhead is a recvAhead whose loop returns at once (it was closed).
func endedAhead() *recvAhead {
	r := &recvAhead{ctx: context.Background(), closed: make(chan struct{}), done: make(chan struct{})}
	close(r.closed)
	return r
}

// aheadWorkerGoroutines counts the goroutines running or parked in an
// aheadWorkers' work.
func aheadWorkerGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), ").work(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// waitAheadParked waits until n workers of p have parked, and fails t when
// more have (a pool that starts a goroutine where it had one parked spun
// here for ever) or none came within the test timeout.
func waitAheadParked(t *testing.T, p *aheadWorkers, n int32) {
	t.Helper()
	deadline := time.Now().Add(defaultTestTimeout)
	for p.parked.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d workers parked after %v, want %d", p.parked.Load(), defaultTestTimeout, n)
		}
		runtime.Gosched()
	}
	if got := p.parked.Load(); got != n {
		t.Fatalf("%d workers parked, want %d", got, n)
	}
}

// TestAheadWorkersReuse: a receive-ahead loop that finds a worker parked
// runs on it, and no goroutine is started; one that finds none gets a new
// goroutine; a nil handed over ends a parked worker.
func TestAheadWorkersReuse(t *testing.T) {
	p := &aheadWorkers{next: make(chan *recvAhead)}
	base := aheadWorkerGoroutines()
	r1 := endedAhead()
	p.run(r1)
	testenv.Recv(t, hangTimeout, "the first reader's end", r1.done)
	waitAheadParked(t, p, 1)
	if got := aheadWorkerGoroutines() - base; got != 1 {
		t.Fatalf("%d workers after the first loop, want 1", got)
	}
	r2 := endedAhead()
	p.run(r2) // taken by the parked worker: the send blocks until it is
	testenv.Recv(t, hangTimeout, "the second reader's end", r2.done)
	waitAheadParked(t, p, 1)
	if got := aheadWorkerGoroutines() - base; got != 1 {
		t.Fatalf("%d workers after the second loop, want 1 (reused)", got)
	}
	p.next <- nil
	for aheadWorkerGoroutines() != base {
		runtime.Gosched()
	}
}

// TestAheadWorkersCap: no more than maxIdleAheadWorkers park; the others
// end once their loop has.
func TestAheadWorkersCap(t *testing.T) {
	p := &aheadWorkers{next: make(chan *recvAhead)}
	base := aheadWorkerGoroutines()
	// Loops that wait until released, so that each gets a goroutine of
	// its own.
	release := make(chan struct{})
	var rs []*recvAhead
	for range maxIdleAheadWorkers + 5 {
		r := &recvAhead{ctx: context.Background(), closed: release, done: make(chan struct{})}
		rs = append(rs, r)
		p.run(r)
	}
	close(release)
	for _, r := range rs {
		testenv.Recv(t, hangTimeout, "a reader's end", r.done)
	}
	waitAheadParked(t, p, maxIdleAheadWorkers)
	for aheadWorkerGoroutines()-base != maxIdleAheadWorkers {
		runtime.Gosched() // the ones past the cap end
	}
	for range maxIdleAheadWorkers {
		p.next <- nil
	}
	for aheadWorkerGoroutines() != base {
		runtime.Gosched()
	}
}

// TestAheadWorkersParkedIgnored: a parked worker is what
// leakcheck.ParkedAheadWorker names, which the test packages' goleak
// checks ignore (and only that: it is a leak to goleak otherwise).
func TestAheadWorkersParkedIgnored(t *testing.T) {
	before := goleak.IgnoreCurrent()
	p := &aheadWorkers{next: make(chan *recvAhead)}
	r := endedAhead()
	p.run(r)
	testenv.Recv(t, hangTimeout, "the reader's end", r.done)
	waitAheadParked(t, p, 1)
	if err := goleak.Find(before); err == nil {
		t.Fatal("goleak sees no parked worker: the test checks nothing")
	}
	if err := goleak.Find(before, goleak.IgnoreTopFunction(leakcheck.ParkedAheadWorker)); err != nil {
		t.Fatalf("a parked worker is a leak to the test packages' goleak: %v", err)
	}
	p.next <- nil
}
