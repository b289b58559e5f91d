package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/halfclose/halfclose/compute"
)

// PeerCap caps what one peer IP address holds at once, so that no single
// address can take every slot of a shared limit: the jobs it runs
// (--max-jobs-per-peer) or its open requests (--max-requests-per-peer:
// raw-TCP connections and gRPC ComputeService streams, from their first
// byte to their end, header or not). Both adapters share one PeerCap per
// limit, since a peer may use both.
//
// Memory is bounded by what is held: a peer's entry exists only while it
// holds or waits for something (and up to maxSpare entries wait for the
// next new peers).
type PeerCap struct {
	limit int

	mu    sync.Mutex // protects peers and spare
	peers map[string]*peerHold
	// spare holds entries of peers that held and awaited nothing any
	// more, for the next new peer: most jobs come from a peer that holds
	// nothing else at the time, and its entry was an allocation a cap a
	// job (issue 14). A released entry is no longer reachable but from
	// its release funcs, each of which has run its one effect by then.
	spare []*peerHold
}

// maxSpare bounds PeerCap.spare.
const maxSpare = 64

type peerHold struct {
	n       int           // held
	waiters int           // in Acquire, waiting for one of n to end
	freed   chan struct{} // closed (and replaced) when one of n ends while waiters wait
}

// NewPeerCap returns a cap of limit per peer IP; limit <= 0 returns nil,
// which is valid and caps nothing.
func NewPeerCap(limit int) *PeerCap {
	if limit <= 0 {
		return nil
	}
	return &PeerCap{limit: limit, peers: map[string]*peerHold{}}
}

// Limit returns the cap (0 for a nil PeerCap: none).
func (c *PeerCap) Limit() int {
	if c == nil {
		return 0
	}
	return c.limit
}

// TryAcquire takes one of ip's places at once, or reports that ip holds
// them all. release must be called exactly once (extra calls are ignored).
func (c *PeerCap) TryAcquire(ip string) (release func(), ok bool) {
	if c == nil {
		return func() {}, true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.hold(ip)
	if h.n >= c.limit {
		c.dropIfIdle(ip, h)
		return nil, false
	}
	h.n++
	return c.releaser(ip, h), true
}

// Acquire takes one of ip's places, waiting at most wait for one to be
// freed; it reports false when none was, and ctx's error when ctx ended
// first.
func (c *PeerCap) Acquire(ctx context.Context, ip string, wait time.Duration) (release func(), ok bool, err error) {
	if c == nil {
		return func() {}, true, nil
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	c.mu.Lock()
	h := c.hold(ip)
	for h.n >= c.limit {
		if timer == nil {
			timer = time.NewTimer(wait)
		}
		if h.freed == nil {
			h.freed = make(chan struct{})
		}
		freed := h.freed
		h.waiters++
		c.mu.Unlock()
		var done bool
		select {
		case <-freed:
		case <-timer.C:
			done = true
		case <-ctx.Done():
			err = ctx.Err()
			done = true
		}
		c.mu.Lock()
		h.waiters--
		if done && h.n >= c.limit {
			c.dropIfIdle(ip, h)
			c.mu.Unlock()
			return nil, false, err
		}
	}
	h.n++
	c.mu.Unlock()
	return c.releaser(ip, h), true, nil
}

func (c *PeerCap) releaser(ip string, h *peerHold) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.give(ip, h)
		})
	}
}

// give gives back one of h's places, ip's. c.mu is held.
func (c *PeerCap) give(ip string, h *peerHold) {
	h.n--
	if h.freed != nil {
		close(h.freed)
		h.freed = nil
	}
	c.dropIfIdle(ip, h)
}

// TryTake takes one of ip's places at once, as TryAcquire, but with no
// release func: Give(ip) gives it back, once for each TryTake that
// returned true. For a caller that keeps ip anyway (a stream's guard),
// it saves TryAcquire's allocations on every call.
func (c *PeerCap) TryTake(ip string) bool {
	if c == nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.hold(ip)
	if h.n >= c.limit {
		c.dropIfIdle(ip, h)
		return false
	}
	h.n++
	return true
}

// Give gives back a place TryTake took for ip.
func (c *PeerCap) Give(ip string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if h := c.peers[ip]; h != nil && h.n > 0 {
		c.give(ip, h)
	}
}

// hold returns ip's entry, made (or taken from spare) if it has none.
// c.mu is held.
func (c *PeerCap) hold(ip string) *peerHold {
	h := c.peers[ip]
	if h == nil {
		if n := len(c.spare); n > 0 {
			h = c.spare[n-1]
			c.spare = c.spare[:n-1]
		} else {
			h = &peerHold{}
		}
		c.peers[ip] = h
	}
	return h
}

// dropIfIdle forgets ip when it holds and awaits nothing. c.mu is held.
func (c *PeerCap) dropIfIdle(ip string, h *peerHold) {
	if h.n == 0 && h.waiters == 0 {
		delete(c.peers, ip)
		if len(c.spare) < maxSpare {
			*h = peerHold{}
			c.spare = append(c.spare, h)
		}
	}
}

// Held returns how many places ip holds, for tests.
func (c *PeerCap) Held(ip string) int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if h := c.peers[ip]; h != nil {
		return h.n
	}
	return 0
}

// Peers returns how many peers hold or await a place, for tests.
func (c *PeerCap) Peers() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.peers)
}

// StreamCap caps the gRPC Digest and Run streams open on the server
// (--grpc-max-requests), and gives each peer a share of them at most, so
// that one address cannot take them all. Each open stream may hold its
// flow-control window of data its client sent, read by a job or not:
// 200 streams from one address waiting for a job slot (--max-jobs 2) held
// 1.77 GB before the cap.
type StreamCap struct {
	limit int64
	open  atomic.Int64 // streams holding a place of limit
	peers *PeerCap     // nil: no share per peer
}

// NewStreamCap returns a cap of limit streams, and of peerShare a peer
// (0: no share, as behind a proxy, where every client is the proxy's
// address); limit <= 0 returns nil, which is valid and caps nothing.
// cmd/halfclosed sizes the share so that a peer's calls over its jobs
// still wait for a slot.
func NewStreamCap(limit, peerShare int) *StreamCap {
	if limit <= 0 {
		return nil
	}
	c := &StreamCap{limit: int64(limit)}
	if peerShare > 0 {
		c.peers = NewPeerCap(min(peerShare, limit))
	}
	return c
}

// Limit returns the cap (0 for a nil StreamCap: none).
func (c *StreamCap) Limit() int {
	if c == nil {
		return 0
	}
	return int(c.limit)
}

// PeerLimit returns a peer's share of the cap (0: none, or no cap).
func (c *StreamCap) PeerLimit() int {
	if c == nil {
		return 0
	}
	return c.peers.Limit()
}

// TryTake takes a place for a stream of ip at once, or returns the
// refusal: the peer's share is full (ReasonPeerRequests) or the server's
// (ReasonMaxRequests). Give(ip) gives it back, once; a refusal takes
// nothing. Neither allocates: it runs on every call.
func (c *StreamCap) TryTake(ip string) error {
	if c == nil {
		return nil
	}
	if !c.peers.TryTake(ip) {
		if int64(c.peers.Limit()) >= c.limit {
			// A share of the whole cap is full only when the server's
			// is: the address's refusal is the server's limit, as a lone
			// client's at a small --grpc-max-requests is.
			return c.errFull()
		}
		return errPeerRequests(c.peers.Limit())
	}
	if c.open.Add(1) > c.limit {
		c.open.Add(-1)
		c.peers.Give(ip)
		return c.errFull()
	}
	return nil
}

// errFull is the refusal of a stream over the server's cap.
func (c *StreamCap) errFull() error {
	return refuse(ReasonMaxRequests, compute.Exhaustedf("too many open requests: limit %d", c.limit))
}

// Give gives back the place TryTake took for a stream of ip.
func (c *StreamCap) Give(ip string) {
	if c == nil {
		return
	}
	c.open.Add(-1)
	c.peers.Give(ip)
}

// Open returns how many streams hold a place, for tests.
func (c *StreamCap) Open() int { return int(c.open.Load()) }
