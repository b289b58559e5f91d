package server

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/tap"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/engine"
)

// A stream's guard whose handler is done gives back the stream's places
// and leaves no timer armed at once, and the watch of the stream's
// context's end is stopped (its goroutine, started as the context ends,
// was one a call).
func TestStreamGuardEnd(t *testing.T) {
	peers, streams := NewPeerCap(4), NewStreamCap(8, 4)
	svc := NewComputeService(engine.New(engine.Config{Registry: testRegistry()}), Options{
		PeerRequests: peers, Streams: streams, HeaderTimeout: time.Hour,
	}).(*computeService)
	const ip = "192.0.2.1"
	tapped := func() (*streamGuard, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		ctx = peer.NewContext(ctx, &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: 4242}})
		gctx, err := svc.TapHandle(ctx, &tap.Info{FullMethodName: apiv1.ComputeService_Digest_FullMethodName})
		if err != nil {
			t.Fatal(err)
		}
		g := gctx.(*streamGuard)
		if peers.Held(ip) != 1 || streams.Open() != 1 {
			t.Fatalf("tapped: %d held, %d open; want 1, 1", peers.Held(ip), streams.Open())
		}
		return g, cancel
	}
	armed := func(g *streamGuard) bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return !g.due.IsZero()
	}

	g, cancel := tapped()
	if !armed(g) {
		t.Fatal("the header timeout is not armed")
	}
	g.done()
	if peers.Held(ip) != 0 || streams.Open() != 0 {
		t.Errorf("after done: %d held, %d open; want 0, 0", peers.Held(ip), streams.Open())
	}
	if armed(g) {
		t.Error("after done: a timer is still armed")
	}
	if g.unwatch() {
		t.Error("after done: the stream's end is still watched")
	}
	cancel()
	g.done() // a second time: nothing to give back
	if peers.Held(ip) != 0 || streams.Open() != 0 {
		t.Errorf("after the end: %d held, %d open; want 0, 0", peers.Held(ip), streams.Open())
	}

	// The end of the context first (a client's reset): the watch runs,
	// on a goroutine of its own, and the handler's done after it finds
	// the watch started; the places are given back once, by either.
	g, cancel = tapped()
	cancel()
	<-g.Done()
	g.done() // returns once the places are back, whoever gave them
	if peers.Held(ip) != 0 || streams.Open() != 0 {
		t.Errorf("done after the end: %d held, %d open; want 0, 0", peers.Held(ip), streams.Open())
	}
}

// A guarded stream's job reads the end of its context from the guard's
// clock, which the guard's watch of that end records: no AfterFunc of the
// job's own (it was 7 allocations a call). Before the end the clock says
// now; after it, the time of the end.
func TestStreamGuardClock(t *testing.T) {
	peers := NewPeerCap(4)
	svc := NewComputeService(engine.New(engine.Config{Registry: testRegistry()}), Options{PeerRequests: peers}).(*computeService)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour) // a deadline, as ghz's calls have
	defer cancel()
	ctx = peer.NewContext(ctx, &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 4242}})
	gctx, err := svc.TapHandle(ctx, &tap.Info{FullMethodName: apiv1.ComputeService_Run_FullMethodName})
	if err != nil {
		t.Fatal(err)
	}
	g := gctx.(*streamGuard)
	if n := testing.AllocsPerRun(100, func() { newCancelClock(g, g).done() }); n != 0 {
		t.Errorf("a guarded job's clock: %v allocations, want 0", n)
	}
	clk := newCancelClock(g, g)
	now := time.Now()
	if got := clk.when(now); !got.Equal(now) {
		t.Errorf("before the end: when %v, want now %v", got, now)
	}
	before := time.Now()
	cancel()
	<-g.Done()
	// The watch runs on a goroutine of its own, at some time after the
	// end: run here, it records the end now unless the watch did first.
	g.ended()
	after := time.Now()
	later := after.Add(time.Minute)
	if got := clk.when(later); got.Before(before) || got.After(after) {
		t.Errorf("after the end: when %v, want between %v and %v", got, before, after)
	}
	clk.done()
	g.done()
}
