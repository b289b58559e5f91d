package server

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/ratelimit"
	"google.golang.org/grpc/peer"
)

var _ ratelimit.Limiter = (*PeerLimiter)(nil)

// fakeClock is a settable time source.
type fakeClock struct {
	mu sync.Mutex // protects t
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestLimiter(r float64, burst, maxPeers int) (*PeerLimiter, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	l := NewPeerLimiter(r, burst)
	l.now = clk.now
	l.maxPeers = maxPeers
	return l, clk
}

func allowN(l *PeerLimiter, ip string, n int) int {
	ok := 0
	for range n {
		if l.Allow(ip) {
			ok++
		}
	}
	return ok
}

func TestPeerLimiterBucket(t *testing.T) {
	l, clk := newTestLimiter(2, 3, 100) // 2/s, burst 3
	if got := allowN(l, "10.0.0.1", 5); got != 3 {
		t.Fatalf("burst: %d allowed, want 3", got)
	}
	if got := allowN(l, "10.0.0.2", 5); got != 3 {
		t.Fatalf("other peer has its own bucket: %d allowed, want 3", got)
	}
	clk.advance(500 * time.Millisecond) // one token back
	if got := allowN(l, "10.0.0.1", 3); got != 1 {
		t.Fatalf("after 0.5s: %d allowed, want 1", got)
	}
	clk.advance(time.Hour) // full again, never more than burst
	if got := allowN(l, "10.0.0.1", 10); got != 3 {
		t.Fatalf("after an hour: %d allowed, want 3", got)
	}
}

func TestPeerLimiterBounded(t *testing.T) {
	l, clk := newTestLimiter(1, 2, 4)
	for i := range 100 {
		l.Allow(fmt.Sprintf("10.0.0.%d", i))
		if n := l.Len(); n > 4 {
			t.Fatalf("after %d peers Len = %d > 4", i+1, n)
		}
	}
	// The most recent peers are kept: 10.0.0.99 has spent one of 2 tokens.
	if got := allowN(l, "10.0.0.99", 5); got != 1 {
		t.Fatalf("recent peer: %d allowed, want 1", got)
	}
	// Idle entries (refilled: 2 tokens at 1/s = 2s) are dropped on the
	// next insert even when the table is not full.
	clk.advance(3 * time.Second)
	l.Allow("192.0.2.1")
	if n := l.Len(); n != 1 {
		t.Fatalf("after idle sweep Len = %d, want 1", n)
	}
}

func TestPeerLimiterBusyPeerKept(t *testing.T) {
	l, clk := newTestLimiter(0.001, 1, 3) // no token comes back in the test
	if !l.Allow("busy") {
		t.Fatal("first call refused")
	}
	for i := range 10 {
		clk.advance(100 * time.Millisecond)
		// A recently seen peer stays at the LRU front, so churn by other
		// peers never hands it a fresh bucket.
		if l.Allow("busy") {
			t.Fatalf("round %d: busy peer got a fresh bucket through eviction", i)
		}
		l.Allow(fmt.Sprintf("p%d", i))
	}
}

func TestPeerLimiterLimit(t *testing.T) {
	l, _ := newTestLimiter(1, 1, 10)
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1234}})
	if err := l.Limit(ctx); err != nil {
		t.Fatal(err)
	}
	// Same IP, other port: same bucket.
	ctx2 := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 999}})
	if err := l.Limit(ctx2); err == nil || err.Error() != "rate limit exceeded for peer" {
		t.Fatalf("err = %v", err)
	}
	if err := l.Limit(context.Background()); err == nil || !strings.Contains(err.Error(), "no peer") {
		t.Fatalf("no peer: err = %v", err)
	}
}

func TestPeerIP(t *testing.T) {
	tests := []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 80}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 80}, "2001:db8::1"},
		{&net.UnixAddr{Name: "/run/x.sock", Net: "unix"}, "/run/x.sock"},
		{&net.IPAddr{IP: net.IPv4(192, 0, 2, 8)}, "192.0.2.8"},
	}
	for _, tc := range tests {
		if got := PeerIP(tc.addr); got != tc.want {
			t.Errorf("PeerIP(%v) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestNewPeerLimiterBadArgs(t *testing.T) {
	for _, tc := range []struct {
		r float64
		b int
	}{{0, 1}, {-1, 1}, {1, 0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewPeerLimiter(%v, %d) did not panic", tc.r, tc.b)
				}
			}()
			NewPeerLimiter(tc.r, tc.b)
		}()
	}
	// A tiny rate does not overflow the refill time.
	if l := NewPeerLimiter(1e-300, 1000); l.refill <= 0 {
		t.Fatalf("refill = %v", l.refill)
	}
}

func TestPeerLimiterConcurrent(t *testing.T) {
	l, _ := newTestLimiter(1, 50, 8)
	var wg sync.WaitGroup
	allowed := make([]int, 16)
	for g := range 16 {
		wg.Go(func() {
			allowed[g] = allowN(l, fmt.Sprintf("10.1.0.%d", g%4), 100)
		})
	}
	wg.Wait()
	total := 0
	for _, n := range allowed {
		total += n
	}
	if total != 4*50 { // 4 IPs, burst 50 each, clock stopped, table never full
		t.Fatalf("allowed %d, want 200", total)
	}
}

func BenchmarkPeerLimiterAllow(b *testing.B) {
	l := NewPeerLimiter(1e9, 1<<30)
	ips := make([]string, 1024)
	for i := range ips {
		ips[i] = fmt.Sprintf("10.2.%d.%d", i/256, i%256)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Allow(ips[i&1023])
		i++
	}
}

func BenchmarkPeerLimiterChurn(b *testing.B) {
	l := NewPeerLimiter(1, 1)
	l.maxPeers = 1024
	ips := make([]string, 4096)
	for i := range ips {
		ips[i] = fmt.Sprintf("10.3.%d.%d", i/256, i%256)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Allow(ips[i&4095]) // every call evicts
		i++
	}
}
