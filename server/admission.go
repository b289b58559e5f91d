package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/halfclose/halfclose/compute"
)

// Reasons a request is refused before its job runs: the values of the
// "reason" label of halfclose_refused_total.
const (
	ReasonMaxJobs      = "max_jobs"      // --max-jobs, after --job-wait
	ReasonPeerJobs     = "peer_jobs"     // --max-jobs-per-peer, after --job-wait
	ReasonMaxConns     = "max_conns"     // --max-conns (raw TCP), --grpc-max-conns (gRPC)
	ReasonPeerConns    = "peer_conns"    // --grpc-max-conns-per-peer (gRPC)
	ReasonPeerRequests = "peer_requests" // --max-requests-per-peer; a peer's share of --grpc-max-requests
	ReasonMaxRequests  = "max_requests"  // --grpc-max-requests (gRPC)
	ReasonRateLimit    = "rate_limit"    // --rate-limit (raw TCP; gRPC's is an interceptor)
	ReasonMetadata     = "metadata"      // --max-metadata-bytes (gRPC)
)

// Reasons lists every refusal reason, for metrics.
var Reasons = []string{ReasonMaxJobs, ReasonPeerJobs, ReasonMaxConns, ReasonPeerConns, ReasonPeerRequests, ReasonMaxRequests, ReasonRateLimit, ReasonMetadata}

// AdmissionObserver is told how jobs are admitted, for metrics; an
// Observer may implement it too.
type AdmissionObserver interface {
	// Refused counts a request refused before its job ran.
	Refused(adapter, reason string)
	// Waited records how long a job waited for its slots (its peer's and
	// the engine's) before it got them (admitted) or was refused.
	Waited(adapter string, d time.Duration, admitted bool)
	// Waiting counts jobs waiting for a slot now: +1 as one starts to
	// wait, -1 as it stops.
	Waiting(delta int)
}

// refusal is an error that refused a job before it ran, with its reason.
type refusal struct {
	reason string
	err    error
}

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

func refuse(reason string, err error) error { return &refusal{reason: reason, err: err} }

// refusalReason returns the reason of a refusal error, "" for others.
func refusalReason(err error) string {
	if err == nil {
		return ""
	}
	var r *refusal
	if errors.As(err, &r) {
		return r.reason
	}
	return ""
}

func errPeerRequests(limit int) error {
	return refuse(ReasonPeerRequests, compute.Exhaustedf("too many open requests from this address: limit %d", limit))
}

func errPeerJobs(limit int) error {
	return refuse(ReasonPeerJobs, compute.Exhaustedf("too many jobs from this address: limit %d", limit))
}

// refusalLog writes the refusals that come before a request is read (a
// connection over --max-conns, --max-requests-per-peer or the rate limit;
// a gRPC stream over --max-requests-per-peer) as one line per reason and
// interval, with a count, instead of a line each: a flood of refused
// connections must not become a flood of log lines. The first line of a
// quiet period names its refusal's peer, method and code, as a job's or
// a call's line does; a summary names the last one it counts
// (last_peer, last_method). It also counts them in the
// AdmissionObserver.
type refusalLog struct {
	log   *slog.Logger
	obs   AdmissionObserver // nil: not counted
	every time.Duration

	mu      sync.Mutex // protects pending and timer
	pending map[refusalKey]*refusalCount
	timer   *time.Timer // runs while pending is not empty
}

type refusalKey struct{ adapter, reason string }

// refusedReq is one refused connection or stream.
type refusedReq struct {
	adapter, reason string
	// peer is the client's address (with its port, as the job and call
	// lines have it); nil when unknown.
	peer net.Addr
	// method is the gRPC call's full method; "" for a connection.
	method string
	// code is the status the client was sent; "" for a connection
	// closed unread (no status).
	code string
}

// refusalCount is the refusals of one key in an interval: how many, and
// the last one's peer and method.
type refusalCount struct {
	n            int
	peer         net.Addr
	method, code string
}

// refusalLogInterval is how often refusals are logged, at most, per reason.
const refusalLogInterval = 10 * time.Second

func newRefusalLog(log *slog.Logger, obs Observer) *refusalLog {
	ao, _ := obs.(AdmissionObserver)
	return &refusalLog{log: log, obs: ao, every: refusalLogInterval, pending: map[refusalKey]*refusalCount{}}
}

// add counts one refusal. The first refusal of a quiet period is logged at
// once; the next ones in the interval are summed into one line at its end.
func (r *refusalLog) add(f refusedReq) {
	if r == nil {
		return
	}
	if r.obs != nil {
		r.obs.Refused(f.adapter, f.reason)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer == nil {
		r.timer = time.AfterFunc(r.every, r.flush)
		attrs := []slog.Attr{slog.String("adapter", f.adapter), slog.String("reason", f.reason), slog.String("peer", peerString(f.peer))}
		if f.method != "" {
			attrs = append(attrs, slog.String("method", f.method))
		}
		if f.code != "" {
			attrs = append(attrs, slog.String("code", f.code))
		}
		r.log.LogAttrs(context.Background(), slog.LevelWarn, "requests refused", append(attrs, slog.Int("count", 1))...)
		return
	}
	k := refusalKey{f.adapter, f.reason}
	c := r.pending[k]
	if c == nil {
		c = &refusalCount{}
		r.pending[k] = c
	}
	c.n++
	// Formatted when the summary is written: a flood's refusals are
	// counted, and the line names only the last.
	c.peer, c.method, c.code = f.peer, f.method, f.code
}

// peerString is a refusal's peer as the lines name it; "" when unknown.
func peerString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return addrString(a)
}

// flush logs the refusals counted since the last line, and stops the timer
// when there were none: the next refusal is logged at once again.
func (r *refusalLog) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer == nil { // stopped
		return
	}
	if len(r.pending) == 0 {
		r.timer = nil
		return
	}
	r.logPending()
	r.timer.Reset(r.every)
}

// logPending writes a line per reason counted. r.mu is held.
func (r *refusalLog) logPending() {
	for k, c := range r.pending {
		attrs := []slog.Attr{slog.String("adapter", k.adapter), slog.String("reason", k.reason), slog.String("last_peer", peerString(c.peer))}
		if c.method != "" {
			attrs = append(attrs, slog.String("last_method", c.method))
		}
		if c.code != "" {
			attrs = append(attrs, slog.String("code", c.code))
		}
		r.log.LogAttrs(context.Background(), slog.LevelWarn, "requests refused", append(attrs, slog.Int("count", c.n), slog.Duration("interval", r.every))...)
		delete(r.pending, k)
	}
}

// stop logs what is pending and stops the timer.
func (r *refusalLog) stop() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	r.logPending()
}

// admit takes a job's slots: one of its peer's (--max-jobs-per-peer) and
// one of the engine's (--max-jobs), each waited for at most --job-wait.
func (l *lifecycle) admit(ctx context.Context, peerIP string) (release func(), err error) {
	start := time.Now()
	ao, _ := l.obs.(AdmissionObserver)
	if ao != nil {
		ao.Waiting(1)
		defer func() {
			ao.Waiting(-1)
			ao.Waited(l.adapter, time.Since(start), err == nil)
			if r := refusalReason(err); r != "" {
				ao.Refused(l.adapter, r)
			}
		}()
	}
	if l.waiter != nil {
		return l.acquireWatched(ctx, peerIP)
	}
	return l.acquire(ctx, peerIP)
}

// slotWaiter is what a job's client gives to watch while the job waits
// for its slots (lifecycle.waiter): its connection, for a reset.
type slotWaiter interface {
	// watchWait watches the client until stop is called, and calls abort
	// with the error of a client that is gone, to end the wait at once
	// (seldom, as stop begins: the wait has then ended, and the cancel
	// does nothing). stop returns that error whether or not abort was
	// called for it (the watch may find it as stop begins, and having
	// found it the job's reads may not: watchReset), and the job is then
	// refused with it, even when its slots were taken meanwhile or ctx
	// has ended. stop is nil when there is nothing to watch. ctx is the
	// job's: stop leaves the connection ready for the job's reads, unless
	// ctx has ended.
	watchWait(ctx context.Context, abort func(error)) (stop func() (gone error))
}

// acquireWatched is acquire for a job whose client is watched while it
// waits: only when a slot is not free at once (a watch is a goroutine and
// a context), and the client's end found meanwhile refuses the job with
// its error at once, rather than when a slot frees or --job-wait ends.
func (l *lifecycle) acquireWatched(ctx context.Context, peerIP string) (release func(), err error) {
	if peerRelease, ok := l.peerJobs.TryAcquire(peerIP); ok {
		if engineRelease, ok := l.engine.TryAcquire(); ok {
			return func() { engineRelease(); peerRelease() }, nil
		}
		peerRelease()
	}
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := l.waiter.watchWait(ctx, cancel)
	release, err = l.acquire(wctx, peerIP)
	if stop == nil {
		return release, err
	}
	if gone := stop(); gone != nil {
		// The client left: refused with its error, the slots given back
		// if the wait took them as the client's end was found. Also when
		// ctx has ended meanwhile (the server's forced stop, recorded as
		// such: lifecycle.stopped): the end may have come after stop
		// looked at it, which then left the connection's read deadline
		// cleared for the job's reads, and those would take the reset
		// the watch cleared for the client's FIN.
		if release != nil {
			release()
		}
		return nil, gone
	}
	return release, err
}

// acquire takes the job's slots, each waited for at most --job-wait.
func (l *lifecycle) acquire(ctx context.Context, peerIP string) (release func(), err error) {
	peerRelease, ok, err := l.peerJobs.Acquire(ctx, peerIP, l.engine.Config().QueueWait)
	if err != nil {
		return nil, err
	}
	if !ok {
		if limit := l.engine.Config().MaxJobs; l.peerJobs.Limit() >= limit {
			// A cap of all the slots or more is full only when the
			// address's jobs hold (or wait for) every slot: the server's
			// limit is what it reached, as a lone client's at a
			// --max-jobs of 16, where the derived cap is 16 too.
			return nil, refuse(ReasonMaxJobs, compute.Exhaustedf("too many jobs: %d running, limit %d", l.engine.Running(), limit))
		}
		return nil, errPeerJobs(l.peerJobs.Limit())
	}
	engineRelease, err := l.engine.Acquire(ctx)
	if err != nil {
		peerRelease()
		if compute.CodeOf(err) == compute.CodeResourceExhausted {
			err = refuse(ReasonMaxJobs, err)
		}
		return nil, err
	}
	return func() { engineRelease(); peerRelease() }, nil
}
