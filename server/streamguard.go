package server

import (
	"context"
	"encoding/base64"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	"github.com/halfclose/halfclose/compute"
)

// streamGuard is a ComputeService stream's own stop switch. grpc-go gives
// a handler no way to end a stream that is blocked: a Recv waits for the
// client's next message, and a Send waits, without end, for a client that
// reads nothing (HTTP/2 flow control). Both wait on the stream's context,
// which only grpc-go can cancel: the client, its deadline, the
// connection's end. The guard is that context, installed by the service's
// tap handle (Service.TapHandle) before the stream starts, so that the
// service can cancel it too:
//
//   - the header timeout: no first message within --header-timeout;
//   - the idle timeout of a receive (no input) and of a send (the client
//     reads nothing of its reply);
//   - a job that failed while its receive is blocked.
//
// One timer, armed for one wait at a time, serves every timeout: no
// goroutine is needed, so an idle stream costs only its handler's.
//
// Stopped by a timeout, the stream is answered with the timeout's own
// status (DEADLINE_EXCEEDED "no input for 1m0s (idle timeout)") before
// its context ends: a Recv or Send that the end unblocks makes grpc-go
// write a status of its own at once, before the handler can return one
// (bind). The context's Err is context.DeadlineExceeded then, so that
// even that status (a stream whose handler has not bound the guard) says
// DEADLINE_EXCEEDED; the handler learns the real cause from why.
type streamGuard struct {
	context.Context // the stream's context, cancelled by stop
	cancel          context.CancelFunc

	mu       sync.Mutex // protects the fields below
	timer    *time.Timer
	due      time.Time   // when the armed wait expires; zero when none is
	dueCause error       // the cause of the armed wait's expiry
	cause    error       // why the guard stopped the stream; nil while it has not
	fired    bool        // cause is a timeout's (fire), not failed's or shutdown's
	watch    *inputWatch // the armed wait is for input (armInput): what may renew it; nil when not

	// sw writes the stream's status (bind); nil until the handler
	// bound the guard, or when grpc-go offers no WriteStatus.
	sw statusWriter

	// receiving: the handler's own goroutine waits in a receive (the
	// header, or the first data: beginRecv); shut: the server's forced
	// stop has reached the stream (shutdown), and no such receive begins.
	receiving, shut bool

	traffic *connTraffic  // the stream's connection's; nil when not of NewGRPCListener
	msgs    atomic.Uint64 // the messages the stream received (receiver)

	// The stream's places, taken by the tap handle for ip: under
	// --max-requests-per-peer (peerRequests) and --grpc-max-requests
	// (streams), each nil when not taken. placeOnce gives them back once,
	// when the handler returns (done) or the stream's context ends,
	// whichever is first. Fields, not a release func: a func per stream
	// was allocations on every call.
	peerRequests *PeerCap
	streams      *StreamCap
	ip           string
	placeOnce    sync.Once

	// unwatch stops the watch of the stream's context's end (TapHandle):
	// once the handler is done, the guard has nothing left to do there.
	unwatch func() bool
	// clock records when the stream's context ended, for the stream's
	// job (newCancelClock): the watch records it, so that the job needs
	// no watch of its own.
	clock cancelClock
}

// givePlaces gives back the stream's places (see placeOnce).
func (g *streamGuard) givePlaces() {
	g.peerRequests.Give(g.ip)
	g.streams.Give(g.ip)
}

// done frees the stream's place under --max-requests-per-peer. A handler
// calls it as it returns, before grpc-go writes the status: freed only
// when the stream's context ended (as grpc-go queues the status, and on
// a goroutine of its own), a client that called again at once could find
// it still taken. It also does now what the watch of the context's end
// would do then (ended), and stops that watch: the watch's goroutine,
// started as every stream's context ends, was one a call. Safe on a nil
// guard.
func (g *streamGuard) done() {
	if g == nil {
		return
	}
	if g.unwatch != nil && g.unwatch() {
		g.release()
		return
	}
	g.givePlacesOnce()
}

// givePlacesOnce gives back the stream's places, if it took any, once.
func (g *streamGuard) givePlacesOnce() {
	if g.peerRequests != nil || g.streams != nil {
		g.placeOnce.Do(g.givePlaces)
	}
}

// ended is the watch of the end of the stream's context, whatever ended
// it (its handler, the client, the connection): the clock records it,
// then release.
func (g *streamGuard) ended() {
	g.clock.record()
	g.release()
}

// release frees the stream's places, and leaves no timer armed.
func (g *streamGuard) release() {
	g.givePlacesOnce()
	g.disarm()
}

type guardKey struct{}

// newStreamGuard returns the guard of a stream whose context is parent.
func newStreamGuard(parent context.Context) *streamGuard {
	g := &streamGuard{}
	g.Context, g.cancel = context.WithCancel(parent)
	return g
}

// guardOf returns the guard of the stream whose context (or a context
// derived from it) is ctx; nil when the server has no tap handle.
func guardOf(ctx context.Context) *streamGuard {
	g, _ := ctx.Value(guardKey{}).(*streamGuard)
	return g
}

// Value makes the guard findable from the handler's context.
func (g *streamGuard) Value(key any) any {
	if key == (guardKey{}) {
		return g
	}
	return g.Context.Value(key)
}

// Err is context.DeadlineExceeded once a timeout stopped the stream.
func (g *streamGuard) Err() error {
	err := g.Context.Err()
	if err == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cause != nil && compute.CodeOf(g.cause) == compute.CodeDeadline {
		return context.DeadlineExceeded
	}
	return err
}

// bind gives the guard the stream's status writer, from ctx, the
// handler's context: from then on a timeout answers the client itself
// (fire). A handler calls it before its first Recv. A stream that a
// timeout stopped before its handler began (the header timeout, on a
// busy server) is answered now: grpc-go writes nothing before the
// handler's first Recv or Send, which the stream's end fails. Safe on a
// nil guard.
func (g *streamGuard) bind(ctx context.Context) {
	if g == nil {
		return
	}
	sw, ok := grpc.ServerTransportStreamFromContext(ctx).(statusWriter)
	if !ok {
		return
	}
	g.mu.Lock()
	g.sw = sw
	fired, cause := g.fired, g.cause
	g.mu.Unlock()
	if fired {
		writeStatus(sw, cause)
	}
}

// stopped returns the cause with which a timeout stopped the stream
// (fire); nil while none has. A Recv or Send that returned as its wait
// expired has its stream stopped all the same, its client answered with
// the cause: the handler ends with it too (firstHeader, nextWithin,
// sender), so that the job is recorded as its client was told.
func (g *streamGuard) stopped() error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.fired {
		return nil
	}
	return g.cause
}

// writeStatus ends the stream of sw with err's status, as the handler
// would have returned it (toStatus): once, whoever writes first; a later
// status (grpc-go's own, the handler's) is dropped by grpc-go.
func writeStatus(sw statusWriter, err error) {
	v := classify(err)
	sw.WriteStatus(status.New(v.code, v.msg))
}

// failed records cause for a stream that grpc-go ended itself because
// of what the client sent (see recvFailure): grpc-go cancels the stream's
// context as it answers, and the job, which may see that end first, is
// recorded with cause (why) rather than as cancelled by its client.
func (g *streamGuard) failed(cause error) {
	if g == nil {
		return
	}
	g.mu.Lock()
	if g.cause == nil {
		g.cause = cause
	}
	g.mu.Unlock()
}

// arm stops the stream with cause unless disarm is called within d.
func (g *streamGuard) arm(d time.Duration, cause error) {
	if g == nil || d <= 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.due, g.dueCause, g.watch = time.Now().Add(d), cause, nil
	g.set(d)
}

// armInput arms the wait for the stream's next message: as arm, but the
// wait is renewed while the connection receives the bytes of a message
// (inputWatch).
func (g *streamGuard) armInput(d time.Duration, cause error) {
	if g == nil || d <= 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	g.due, g.dueCause, g.watch = now.Add(d), cause, g.newInputWatch()
	if g.watch != nil {
		g.watch.start(now, d)
	}
	g.set(d)
}

// newInputWatch returns a watch of the stream's input; nil when its
// connection's traffic is not known (a stream of another listener).
func (g *streamGuard) newInputWatch() *inputWatch {
	if g == nil || g.traffic == nil {
		return nil
	}
	return &inputWatch{t: g.traffic, msgs: &g.msgs}
}

// set makes the timer fire in d; g.mu is held.
func (g *streamGuard) set(d time.Duration) {
	if g.timer == nil {
		g.timer = time.AfterFunc(d, g.fire)
	} else {
		g.timer.Reset(d)
	}
}

// disarm cancels the armed wait: it ended in time.
func (g *streamGuard) disarm() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.due = time.Time{}
	if g.timer != nil {
		g.timer.Stop()
	}
}

// fire is the timer's: a wait that was disarmed, or re-armed later since,
// is not over.
func (g *streamGuard) fire() {
	g.mu.Lock()
	if g.due.IsZero() {
		g.mu.Unlock()
		return
	}
	now := time.Now()
	if left := g.due.Sub(now); left > 0 {
		g.timer.Reset(left)
		g.mu.Unlock()
		return
	}
	if g.watch != nil {
		if again := g.watch.expired(now); again > 0 {
			g.due = now.Add(again)
			g.timer.Reset(again)
			g.mu.Unlock()
			return
		}
	}
	// The cause is set before the lock is let go: a handler that
	// disarms after this sees it (stopped), and one that disarmed
	// before had made due zero, above; never a status written for a
	// wait already over, after its handler went on.
	// The first cause stays; a stream already ended by grpc-go keeps
	// none, and gets no status from here. The client is answered with
	// the cause's status (when the handler has bound the guard), then
	// the blocked Recv or Send returns.
	// A cause there already is left to its own end: grpc-go's (failed),
	// the stop's (shutdown, answer), an earlier timeout's; the stream is
	// not ended from here then, which would make a Send or Recv still
	// blocked answer the client itself (grpc-go's CANCELLED) before
	// the handler's status (answer).
	cause := g.dueCause
	var sw statusWriter
	claimed := g.cause == nil && g.Context.Err() == nil
	if claimed {
		g.cause, g.fired, sw = cause, true, g.sw
	}
	g.due = time.Time{}
	g.timer.Stop()
	g.mu.Unlock()
	if sw != nil {
		writeStatus(sw, cause)
	}
	if claimed {
		g.cancel()
	}
}

// why returns the cause of err, an error from the stream: the guard's
// reason when it stopped the stream, else err.
func (g *streamGuard) why(err error) error {
	if g == nil || err == nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cause != nil {
		return g.cause
	}
	return err
}

// beginRecv marks a receive of the handler's own goroutine (the header's,
// the first data's), which only the stream's end unblocks, and returns
// errShuttingDown instead when the server's forced stop has reached the
// stream: see shutdown. endRecv ends it. Safe on a nil guard.
func (g *streamGuard) beginRecv() error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut {
		return errShuttingDown
	}
	g.receiving = true
	return nil
}

// endRecv ends what beginRecv began.
func (g *streamGuard) endRecv() {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.receiving = false
	g.mu.Unlock()
}

// statusWriter is the stream grpc-go keeps in a handler's context
// (grpc.ServerTransportStreamFromContext): its WriteStatus ends the
// stream with a status, once, whoever calls it first (grpc-go's own
// receive and send call it from either goroutine). It is a method of
// grpc-go's transport stream (v1.85), not of grpc.ServerTransportStream:
// a grpc-go without it leaves a forced stop's receive to the
// connection's close, as before (TestForcedStopBeforeDataIsUnavailable
// fails then), and a timeout's client to grpc-go's bare "context
// deadline exceeded" (TestTimeoutStatusCarriesServerWords fails).
//
// Written while the handler waits in Recv or Send on another goroutine,
// as grpc-go's own receive and send do (grpc-go v1.85,
// internal/transport/http2_server.go): writeStatus runs under the
// stream's header lock and does nothing on a stream already done;
// finishStream marks it done and cancels its context, which wakes the
// waiting Recv (its reader) and Send (its write quota), and puts the
// trailers on the control buffer behind the data already queued, so the
// client reads its output, then the status. A Send that got past its
// done check puts data that never goes out: the writer (controlbuf.go)
// queues it behind the trailers, and frees it as it ends the stream
// with them, or drops it, the stream gone. The handler's own status
// later finds the stream done. A Send whose message was queued as its
// wait expired has it go out before the status: a Run summary followed
// by DEADLINE_EXCEEDED, no result (docs/protocol.md; client.Run reads
// on to the status).
type statusWriter interface {
	WriteStatus(*status.Status) error
}

// shutdown is the server's forced stop reaching the guard's stream
// (lifecycle.onStop): a job that waits on the stream's
// receive in its handler's goroutine (the header, or the first data
// message: nothing else unblocks it) is stopped with UNAVAILABLE "server
// is shutting down". That status is written first, and the stream's end
// then unblocks the receive: ended the other way, by the guard's context,
// grpc-go's receive answers the client itself, CANCELED "context
// canceled", before the handler could; not ended, the receive waited for
// the connection's close (statusFlushWait, a second later), and the
// client saw a dropped connection. A job that waits anywhere else (its
// slot, input that flows, its reply) ends with its context and returns
// the status itself. Safe on a nil guard.
func (g *streamGuard) shutdown() {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.shut = true
	// A timeout that stopped the stream first (fire) has answered it.
	// The handler bound the guard (bind) before its first receive.
	sw := g.sw
	receiving := g.receiving && sw != nil && g.cause == nil && g.Context.Err() == nil
	if receiving {
		g.cause = errShuttingDown
	}
	g.mu.Unlock()
	if !receiving {
		return
	}
	writeStatus(sw, errShuttingDown)
	g.cancel()
}

// answer returns what the stream's client is answered with, for a job
// that failed once the server's forced stop was on, err being the stop's
// verdict (lifecycle.stopped): the cause of what the guard answered, or
// saw grpc-go answer, first (a timeout: fire; grpc-go's own: failed; the
// stop's: shutdown); else err, which the stream is claimed for: the
// armed wait is cancelled, and one that runs out before the handler
// returns (a Send still blocked) answers nothing and does not end the
// stream (fire), so the client gets err as the handler returns it,
// after the job's record and its places (done), as any job's status.
// The job is then recorded as its client was told. Safe on a nil guard.
func (g *streamGuard) answer(err error) error {
	if g == nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cause != nil {
		return g.cause
	}
	g.cause = err
	g.due = time.Time{}
	if g.timer != nil {
		g.timer.Stop()
	}
	return err
}

// errHeaderTimeout is the abort of a gRPC stream whose first message did
// not arrive within --header-timeout.
func errHeaderTimeout(d time.Duration) error {
	return compute.Errorf(compute.CodeDeadline, "header timeout: no header message within %s", d)
}

// errReplyIdle is the abort of a job whose client read nothing of its
// reply for d.
func errReplyIdle(d time.Duration) error {
	return compute.Errorf(compute.CodeDeadline, "the reply was not read for %s (idle timeout)", d)
}

// guardedMethods are the methods whose streams get a guard: the ones that
// run jobs.
const computePrefix = "/halfclose.v1.ComputeService/"

func guarded(method string) bool {
	m, ok := strings.CutPrefix(method, computePrefix)
	return ok && (m == "Digest" || m == "Run")
}

// MetadataSize is the size of a call's metadata as HTTP/2 counts a
// header list (RFC 9113, SETTINGS_MAX_HEADER_LIST_SIZE): each field's
// name and value, plus 32. A binary ("-bin") value counts as sent, in
// base64. grpc-go leaves out of md the pseudo-headers but :authority and
// the fields it keeps to itself (te, grpc-timeout, grpc-encoding), a few
// dozen bytes.
func MetadataSize(md metadata.MD) int {
	n := 0
	for k, vs := range md {
		bin := strings.HasSuffix(k, "-bin")
		for _, v := range vs {
			l := len(v)
			if bin {
				l = base64.RawStdEncoding.EncodedLen(l)
			}
			n += len(k) + l + 32
		}
	}
	return n
}

// MetadataTransportLimit is the HTTP/2 header list size (grpc.MaxHeaderListSize)
// for a server whose metadata limit is limit: twice it, so that metadata up to
// that far over the limit gets TapHandle's RESOURCE_EXHAUSTED naming the limit
// (grpcio saw "Received RST_STREAM with error code 6", grpc-js "Connection
// dropped"), and only what is over that is refused by the HTTP/2 layer.
func MetadataTransportLimit(limit int) uint32 {
	return uint32(min(2*int64(limit), math.MaxUint32))
}

// errMetadata is the refusal of a call whose metadata has n bytes, over limit.
func errMetadata(n, limit int) error {
	return compute.Exhaustedf("request metadata of %d bytes exceeds the limit of %d bytes", n, limit)
}

// tapRefusal is a stream TapHandle refuses with err, for the refusal
// log: its peer, its method and the code its client is sent.
func tapRefusal(ctx context.Context, info *tap.Info, reason string, err error) refusedReq {
	f := refusedReq{adapter: "grpc", reason: reason, method: info.FullMethodName, code: codeOf(err).String()}
	if p, ok := peer.FromContext(ctx); ok {
		f.peer = p.Addr
	}
	return f
}

// TapHandle implements tap.ServerInHandle; install it with
// grpc.InTapHandle. A call of any method whose metadata is over
// Options.MaxMetadataBytes is refused. For each Digest and Run stream it counts the stream
// against the peer's --max-requests-per-peer (a stream over it is refused
// at once with RESOURCE_EXHAUSTED, before a handler runs), and installs
// the stream's guard with the header timeout armed. Without it these
// limits and timeouts are off on gRPC.
func (s *computeService) TapHandle(ctx context.Context, info *tap.Info) (context.Context, error) {
	if limit := s.opts.MaxMetadataBytes; limit > 0 {
		if n := MetadataSize(info.Header); n > limit {
			err := errMetadata(n, limit)
			s.refused.add(tapRefusal(ctx, info, ReasonMetadata, err))
			return nil, toStatus(s.log, err)
		}
	}
	if endsAtDrain(info.FullMethodName) {
		return s.untilDrain(ctx)
	}
	if !guarded(info.FullMethodName) || ctx.Err() != nil {
		// A stream whose deadline has passed already (grpc-timeout 0n)
		// is ended by grpc-go as the tap returns, with DEADLINE_EXCEEDED:
		// it takes no place, so none is held while that end runs.
		return ctx, nil
	}
	ip := ""
	if s.opts.PeerRequests != nil || s.opts.Streams != nil {
		if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
			ip = s.opts.PeerKeys.Key(p.Addr)
		}
	}
	if err := s.opts.Streams.TryTake(ip); err != nil {
		s.refused.add(tapRefusal(ctx, info, refusalReason(err), err))
		return nil, toStatus(s.log, s.life.refuse(ctx, err))
	}
	if !s.opts.PeerRequests.TryTake(ip) {
		s.opts.Streams.Give(ip)
		// Counted as the raw-TCP adapter counts a refused connection
		// (refuseConn): in halfclose_refused_total and in
		// halfclose_jobs_total (lifecycle.refuse). The stream never
		// reaches the interceptors, so nothing else counts it.
		err := errPeerRequests(s.opts.PeerRequests.Limit())
		s.refused.add(tapRefusal(ctx, info, ReasonPeerRequests, err))
		return nil, toStatus(s.log, s.life.refuse(ctx, err))
	}
	g := newStreamGuard(ctx)
	g.traffic = trafficOf(ctx)
	// The stream's context always ends, whatever ends the stream (its
	// handler, the client, the connection): the peer's place is free then,
	// and no timer is left armed.
	g.peerRequests, g.streams, g.ip = s.opts.PeerRequests, s.opts.Streams, ip
	g.unwatch = context.AfterFunc(g.Context, g.ended)
	if s.opts.HeaderTimeout > 0 {
		g.arm(s.opts.HeaderTimeout, s.errHeaderTimeout)
	}
	return g, nil
}
