package server

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc/peer"
)

// DefaultMaxPeers bounds how many peers a PeerLimiter tracks at once.
const DefaultMaxPeers = 10000

// errRateLimited is what Limit returns; the ratelimit interceptor turns any
// error into RESOURCE_EXHAUSTED and appends this message to its own.
var errRateLimited = errors.New("rate limit exceeded for peer")

// PeerLimiter is a token bucket per peer IP address. It implements the
// go-grpc-middleware ratelimit.Limiter interface for gRPC calls, and Allow
// for the raw-TCP adapter's per-connection check.
//
// Memory is bounded: at most maxPeers buckets are kept in LRU order. An
// entry idle long enough to have refilled completely is the same as a new
// one, so dropping it loses nothing; when the table is full of busy peers
// the least recently seen is dropped (it gets a fresh, full bucket next
// time).
type PeerLimiter struct {
	limit    rate.Limit
	burst    int
	refill   time.Duration // time for an empty bucket to fill up
	maxPeers int
	now      func() time.Time // for tests
	// Keys says which addresses are one peer; set before use.
	Keys PeerKeys

	mu    sync.Mutex               // protects peers and lru
	peers map[string]*list.Element // value: *peerEntry
	lru   *list.List               // front = most recently seen
}

type peerEntry struct {
	ip   string
	lim  *rate.Limiter
	seen time.Time
}

// NewPeerLimiter returns a limiter allowing each peer IP r calls a second
// on average and bursts of up to burst calls. r must be > 0 and burst >= 1
// (the caller validates its flags); it panics otherwise.
func NewPeerLimiter(r float64, burst int) *PeerLimiter {
	if !(r > 0) || burst < 1 {
		panic(fmt.Sprintf("server: NewPeerLimiter(%v, %d): rate must be > 0 and burst >= 1", r, burst))
	}
	secs := min(float64(burst)/r, 1e9) // cap: time.Duration overflows near 292 years
	refill := time.Duration(secs * float64(time.Second))
	return &PeerLimiter{
		limit:    rate.Limit(r),
		burst:    burst,
		refill:   refill,
		maxPeers: DefaultMaxPeers,
		now:      time.Now,
		peers:    make(map[string]*list.Element),
		lru:      list.New(),
	}
}

// Limit implements ratelimit.Limiter: it takes one token from the bucket of
// the call's peer IP, or returns a RESOURCE_EXHAUSTED error.
func (l *PeerLimiter) Limit(ctx context.Context) error {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return errors.New("rate limit: no peer address")
	}
	if !l.Allow(l.Keys.Key(p.Addr)) {
		return errRateLimited
	}
	return nil
}

// Allow takes one token from ip's bucket and reports whether there was one.
func (l *PeerLimiter) Allow(ip string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var e *peerEntry
	if el, ok := l.peers[ip]; ok {
		e = el.Value.(*peerEntry)
		l.lru.MoveToFront(el)
	} else {
		l.evict(now)
		e = &peerEntry{ip: ip, lim: rate.NewLimiter(l.limit, l.burst)}
		l.peers[ip] = l.lru.PushFront(e)
	}
	e.seen = now
	return e.lim.AllowN(now, 1)
}

// Len returns how many peers are tracked.
func (l *PeerLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.peers)
}

// evict drops, from the LRU end, entries idle long enough to be full again,
// then the oldest entries until there is room for one more. l.mu is held.
func (l *PeerLimiter) evict(now time.Time) {
	for el := l.lru.Back(); el != nil; el = l.lru.Back() {
		e := el.Value.(*peerEntry)
		if len(l.peers) < l.maxPeers && now.Sub(e.seen) < l.refill {
			return
		}
		l.lru.Remove(el)
		delete(l.peers, e.ip)
	}
}

// PeerIP returns the host part of a network address ("127.0.0.1" for
// "127.0.0.1:5000"), or the whole string when it has no port (Unix sockets,
// in-memory listeners).
func PeerIP(a net.Addr) string {
	switch a := a.(type) {
	case *net.TCPAddr:
		_, ip := tcpAddrStrings(a)
		return ip
	case *net.UDPAddr:
		return a.IP.String()
	}
	s := a.String()
	if host, _, err := net.SplitHostPort(s); err == nil {
		return host
	}
	return s
}
