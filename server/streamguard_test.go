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
