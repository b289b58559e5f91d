package server

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
)

// GRPCConnLimits caps the connections of a gRPC listener
// (NewGRPCListener): an HTTP/2 connection that has sent its preface and
// opens no stream holds a file descriptor, three goroutines and about
// 26 KiB for as long as its client answers the server's pings, and no
// other limit counted it: one client opening 20,000 of them took every
// descriptor of the process (RLIMIT_NOFILE 20000), 527 MiB and 54,503
// goroutines, and the raw-TCP port, the metrics port and the spill files
// could open nothing more.
type GRPCConnLimits struct {
	// Max caps the open connections (--grpc-max-conns); 0: no cap.
	Max int
	// PerPeer caps one peer's (--grpc-max-conns-per-peer); nil: no cap.
	PerPeer *PeerCap
	// Keys says which addresses are one peer.
	Keys PeerKeys
	// Logger and Observer hear of the connections refused, as of the
	// raw-TCP adapter's (refusalLog: one line per reason and interval).
	Logger   *slog.Logger
	Observer Observer
	// Conns, when set, is told of each connection admitted (+1) and
	// closed (-1): halfclose_grpc_connections.
	Conns func(delta int)
}

// connLimits is GRPCConnLimits in force.
type connLimits struct {
	GRPCConnLimits
	open    atomic.Int64 // connections holding a place of Max
	refused *refusalLog
	users   atomic.Int32 // the listeners not closed that share these limits
}

func newConnLimits(g GRPCConnLimits) *connLimits {
	if g.Logger == nil {
		g.Logger = slog.New(slog.DiscardHandler)
	}
	return &connLimits{GRPCConnLimits: g, refused: newRefusalLog(g.Logger, g.Observer)}
}

// admit takes c's places, or closes c, unread, and returns nil: a
// connection over a cap is refused before grpc-go sees it (its client
// gets UNAVAILABLE, as for a server that is not there, and may retry).
// release must be called once c is closed.
func (l *connLimits) admit(c net.Conn) (release func()) {
	if l == nil {
		return func() {}
	}
	if l.Max > 0 && l.open.Add(1) > int64(l.Max) {
		l.open.Add(-1)
		// Counted before its client sees the close; closed unread, with
		// no status: no code.
		l.refused.add(refusedReq{adapter: "grpc", reason: ReasonMaxConns, peer: c.RemoteAddr()})
		c.Close()
		return nil
	}
	peer, ok := l.PerPeer.TryAcquire(l.Keys.Key(c.RemoteAddr()))
	if !ok {
		if l.Max > 0 {
			l.open.Add(-1)
		}
		l.refused.add(refusedReq{adapter: "grpc", reason: ReasonPeerConns, peer: c.RemoteAddr()})
		c.Close()
		return nil
	}
	if l.Conns != nil {
		l.Conns(1)
	}
	return sync.OnceFunc(func() {
		peer()
		if l.Max > 0 {
			l.open.Add(-1)
		}
		if l.Conns != nil {
			l.Conns(-1)
		}
	})
}

// Open returns how many connections hold a place, for tests.
func (l *connLimits) Open() int64 { return l.open.Load() }

// use counts a listener in; its stop counts it out.
func (l *connLimits) use() {
	if l != nil {
		l.users.Add(1)
	}
}

// stop logs the refusals not logged yet once the last listener sharing
// the limits has stopped: until then another may still refuse.
func (l *connLimits) stop() {
	if l != nil && l.users.Add(-1) <= 0 {
		l.refused.stop()
	}
}
