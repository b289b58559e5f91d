package server

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/digest"
	"github.com/halfclose/halfclose/compute/engine"
)

// Options are the settings shared by both adapters.
type Options struct {
	// IdleTimeout aborts a job whose client sent nothing for this long;
	// 0 disables it.
	IdleTimeout time.Duration
	// MaxMsgBytes is the largest gRPC message, for Capabilities and for the
	// size of output chunks.
	MaxMsgBytes int
	// Logger receives one line per job; nil discards.
	Logger *slog.Logger
	// Observer is told about every job; nil ignores.
	Observer Observer
	// RequireEnd makes every Digest and Run stream prove the end of its
	// input with an End message, as if its header set require_end.
	RequireEnd bool
	// HeaderTimeout aborts a stream whose first message (the header) did
	// not arrive this long after the stream started; 0 disables it.
	HeaderTimeout time.Duration
	// PeerJobs caps the jobs one peer IP runs at once (shared with the
	// raw-TCP adapter); nil caps nothing.
	PeerJobs *PeerCap
	// PeerRequests caps the Digest and Run streams one peer IP has open
	// (shared with the raw-TCP adapter's connections); nil caps nothing.
	PeerRequests *PeerCap
	// Streams caps the Digest and Run streams open on the server, and
	// each peer's share of them (--grpc-max-requests): grpc-go holds
	// what a stream's client sends, up to the stream's flow-control
	// window, whether a job reads it or not, so every stream open counts
	// for that much memory, a job's or not (one waiting for a slot, one
	// whose header is still arriving); nil caps nothing.
	Streams *StreamCap
	// PeerKeys says which addresses are one peer for PeerJobs,
	// PeerRequests and Streams.
	PeerKeys PeerKeys
	// MaxMetadataBytes refuses, in TapHandle, a call of any method whose
	// metadata is larger (MetadataSize) with RESOURCE_EXHAUSTED naming
	// the limit; 0 refuses none. The server's grpc.MaxHeaderListSize
	// must leave room above it (MetadataTransportLimit): what is over
	// that is refused by the HTTP/2 layer, with no gRPC status.
	MaxMetadataBytes int
	// TCPMaxHeaderBytes is the raw-TCP command port's longest header
	// line (--max-header-bytes), for Capabilities only; 0: no command
	// port.
	TCPMaxHeaderBytes int
	// Edge are the limits other parts of the server enforce, for
	// Capabilities only.
	Edge EdgeLimits
}

// EdgeLimits are the limits that the grpc.Server's options, the gRPC
// connection limiter, the rate limiter and the raw-TCP adapter enforce,
// which the service does not see but reports in Capabilities: a client
// sizing its parallelism or its pings needs them. Each is 0 when off, as
// the proto's Limits says.
type EdgeLimits struct {
	TCPMaxConns         int           // --max-conns; 0: no raw-TCP port
	RateLimit           float64       // --rate-limit, per second; 0: none
	RateBurst           int           // --rate-burst; 0 without RateLimit
	GRPCStreamsPerConn  int           // --grpc-max-streams
	GRPCMaxConns        int           // --grpc-max-conns
	GRPCMaxConnsPerPeer int           // --grpc-max-conns-per-peer
	GRPCConnIdle        time.Duration // --grpc-conn-idle
	KeepaliveMinTime    time.Duration // --keepalive-min-time
	TCPFinWait          time.Duration // --tcp-fin-wait; 0: no raw-TCP port
}

// Observer is told when jobs start and end, for metrics.
type Observer interface {
	// JobStarted is called when a job has a slot; done is called once when
	// it ends with its outcome (see outcome) and byte counts.
	JobStarted(command string) (done func(outcome string, in, out int64))
}

// computeService implements apiv1.ComputeServiceServer over an Engine.
type computeService struct {
	apiv1.UnimplementedComputeServiceServer

	engine *engine.Engine
	opts   Options
	log    *slog.Logger
	life   lifecycle
	stop   context.CancelFunc
	// draining is done once Drain was called (drain).
	draining context.Context
	drain    context.CancelFunc
	refused  *refusalLog
	// The timeouts' errors, made once (not per stream).
	errHeaderTimeout, errIdle, errReplyIdle error
}

// Service is the gRPC ComputeService with the switch a forced stop needs.
// A graceful stop needs none: grpc.Server.GracefulStop refuses new streams
// (GOAWAY) and every stream it accepted is served.
type Service interface {
	apiv1.ComputeServiceServer
	// Stop ends every running job with UNAVAILABLE, for a forced stop
	// (before grpc.Server.Stop, so the calls end with that status).
	Stop()
	// TapHandle is the service's grpc.InTapHandle: the per-peer request
	// cap, and the guard behind the header and idle timeouts of every
	// Digest and Run stream (streamguard.go).
	TapHandle(ctx context.Context, info *tap.Info) (context.Context, error)
	// Drain ends the calls that run no job and would hold a graceful
	// stop (grpc.Server.GracefulStop) until its client leaves: health
	// Watch streams, with UNAVAILABLE "server is shutting down" when
	// health is registered through DrainingHealth, and server reflection
	// streams (CANCELED). Call it as the graceful stop begins; the calls
	// that start after it are refused with UNAVAILABLE. It needs the
	// service's TapHandle.
	Drain()
}

// NewComputeService returns the ComputeService for engine.
func NewComputeService(eng *engine.Engine, opts Options) Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxMsgBytes <= 0 {
		opts.MaxMsgBytes = DefaultMaxMsgBytes
	}
	s := &computeService{engine: eng, opts: opts, log: opts.Logger, refused: newRefusalLog(opts.Logger, opts.Observer)}
	stopping, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.draining, s.drain = context.WithCancel(context.Background())
	s.errHeaderTimeout, s.errIdle, s.errReplyIdle = errHeaderTimeout(opts.HeaderTimeout), errIdle(opts.IdleTimeout), errReplyIdle(opts.IdleTimeout)
	// The job's fields go on the logging interceptor's one line for the
	// call (and on a debug line of their own, for servers without it).
	s.life = lifecycle{engine: eng, obs: opts.Observer, adapter: "grpc", peerJobs: opts.PeerJobs, stopping: stopping,
		onStop: func(ctx context.Context) { guardOf(ctx).shutdown() },
		answer: func(ctx context.Context, err error) error { return guardOf(ctx).answer(err) },
		emit: func(ctx context.Context, job slog.Attr, _ error) {
			addLogAttrs(ctx, job)
			if s.log.Enabled(ctx, slog.LevelDebug) {
				s.log.LogAttrs(ctx, slog.LevelDebug, "job", job)
			}
		}}
	return s
}

// DefaultMaxMsgBytes is the default largest gRPC message.
const DefaultMaxMsgBytes = 4 << 20

func (s *computeService) Stop() {
	s.stop()
	s.refused.stop()
}

// lookupAlgo maps the API's algorithm to the core's, by the enum value's
// name that compute/digest's table holds; where names the message that
// named it (header, end) in the error.
func lookupAlgo(a apiv1.Algorithm, where string) (*digest.Algo, error) {
	al, ok := digest.ByProto(a.String())
	if !ok {
		return nil, compute.Invalidf("%s: unsupported algorithm %s", where, a)
	}
	return al, nil
}

// digestJob checks a Digest header and turns it into a job. The job's
// algorithms and their order in the API are appended to algos and order
// (a caller's arrays, or nil).
func digestJob(h *apiv1.DigestHeader, algos []*digest.Algo, order []apiv1.Algorithm) (engine.DigestJob, []apiv1.Algorithm, error) {
	job := engine.DigestJob{ExpectedSize: -1, Algos: algos[:0]}
	order = order[:0]
	seen := map[apiv1.Algorithm]bool{}
	add := func(a apiv1.Algorithm) error {
		if seen[a] {
			return nil
		}
		al, err := lookupAlgo(a, "header")
		if err != nil {
			return err
		}
		seen[a] = true
		order = append(order, a)
		job.Algos = append(job.Algos, al)
		return nil
	}
	for _, a := range h.GetAlgorithms() {
		if seen[a] {
			return job, nil, compute.Invalidf("header: algorithm %s named twice", a)
		}
		if err := add(a); err != nil {
			return job, nil, err
		}
	}
	for _, e := range h.GetExpectedDigests() {
		al, raw, err := expectedDigest(e, "header")
		if err != nil {
			return job, nil, err
		}
		if err := add(e.GetAlgorithm()); err != nil {
			return job, nil, err
		}
		if _, dup := job.Expected[al.Name]; dup {
			return job, nil, compute.Invalidf("header: expected %s digest given twice", e.GetAlgorithm())
		}
		if job.Expected == nil {
			job.Expected = map[string][]byte{}
		}
		job.Expected[al.Name] = raw
	}
	if len(job.Algos) == 0 {
		return job, nil, compute.Invalidf("header: no algorithm")
	}
	if h.ExpectedSize != nil {
		if h.GetExpectedSize() < 0 {
			return job, nil, compute.Invalidf("header: negative expected_size %d", h.GetExpectedSize())
		}
		job.ExpectedSize = h.GetExpectedSize()
	}
	return job, order, nil
}

var errMissingHeader = compute.Invalidf("missing header: the first message must carry a header")

var errExtraHeader = compute.Invalidf("unexpected header: only the first message may carry one")

// request is what the requests of Digest and Run have in common: a header
// first, then data as bytes or text, then maybe an End message.
type request interface {
	GetData() []byte
	GetText() string
	GetEnd() *apiv1.End
}

// receiver wraps a stream's Recv: an error caused by the stream's guard is
// that cause (a timeout), and a message the codec could not parse is
// INVALID_ARGUMENT. A data message comes with its held bytes (see
// requestCodec), which the caller must release.
func receiver[M any](g *streamGuard, recv func() (M, error)) func() (M, *heldData, error) {
	return func() (M, *heldData, error) {
		m, err := recv()
		if err != nil {
			if v := recvFailure(err); v != nil {
				g.failed(v)
				return m, nil, v
			}
			return m, nil, g.why(err)
		}
		if g != nil {
			g.msgs.Add(1)
		}
		held, bad := takeNote(m)
		if bad != nil {
			return m, nil, bad
		}
		return m, held, nil
	}
}

// errCutMessage is the abort of a stream whose end (END_STREAM) came
// inside a message: what HAProxy sends a server when its client cancels
// the call mid-upload.
var errCutMessage = unprovenEnd("input ended inside a message")

// recvFailure is the verdict on a receive that grpc-go failed because of
// the bytes the client sent: INTERNAL (a message cut by the end of the
// stream, a compressed flag without an encoding, a payload format or
// compressed message that does not decode, a zstd window over the
// server's limit, recorded as that limit), not a fault of ours, and
// RESOURCE_EXHAUSTED (a message over --max-msg-bytes, before or after
// decompression). grpc-go has already answered the client with that
// status and ended the stream, so this is only what the job is recorded
// as: a message cut by the end of the stream is an abort
// (errCutMessage), a message too large a limit, the rest the client's
// error. nil for any other error.
func recvFailure(err error) error {
	s, ok := status.FromError(err)
	if !ok {
		return nil
	}
	switch {
	case s.Code() == codes.ResourceExhausted:
		return compute.Exhaustedf("%s", s.Message())
	case s.Code() != codes.Internal:
		return nil
	case s.Message() == io.ErrUnexpectedEOF.Error():
		return errCutMessage
	case strings.HasSuffix(s.Message(), errZstdWindow.Error()):
		return compute.Exhaustedf("%s", errZstdWindow)
	}
	return compute.Invalidf("malformed message: %s", s.Message())
}

// firstHeader receives the first message of a stream, which must carry a
// header; the header timeout is over once it has come.
func firstHeader[M request, H comparable](g *streamGuard, recv func() (M, *heldData, error), header func(M) H) (H, error) {
	var none H
	if err := g.beginRecv(); err != nil {
		g.disarm()
		return none, err
	}
	m, held, err := recv()
	g.endRecv()
	g.disarm()
	held.release()
	if cause := g.stopped(); cause != nil {
		// The header (or the half-close) came as the timeout ran out,
		// which has answered the client already: the job ends as the
		// client was told.
		return none, cause
	}
	if err == io.EOF {
		return none, errMissingHeader
	}
	if err != nil {
		return none, err
	}
	h := header(m)
	if h == none {
		return none, errMissingHeader
	}
	return h, nil
}

// dataChunks turns the messages after the header into input chunks: a
// data message is its held bytes (or its data field, when the codec did
// not hold it), a text chunk is its UTF-8 bytes, a message with neither
// is skipped (no input, so no progress against the idle timeout), and a
// second header is an error. proof sees every message: the half-close is io.EOF only when
// proof accepts it, and an End message ends the data. A chunk's held
// bytes are the caller's to release.
func dataChunks[M request, H comparable](recv func() (M, *heldData, error), header func(M) H, proof *endProof) func() ([]byte, *heldData, error) {
	var none H
	return func() ([]byte, *heldData, error) {
		for {
			m, held, err := recv()
			if err == io.EOF {
				return nil, nil, proof.eof()
			}
			if err != nil {
				return nil, nil, err
			}
			if held != nil {
				if err := proof.data(held.n); err != nil {
					held.release()
					return nil, nil, err
				}
				return nil, held, nil
			}
			if header(m) != none {
				return nil, nil, errExtraHeader
			}
			if e := m.GetEnd(); e != nil {
				if err := proof.end(e); err != nil {
					return nil, nil, err
				}
				continue
			}
			if err := proof.message(); err != nil {
				// Only the half-close may follow an End: an empty data
				// or text message, or one with nothing set, too.
				return nil, nil, err
			}
			b := m.GetData()
			if b == nil {
				b = []byte(m.GetText())
			}
			if len(b) == 0 {
				// No input: it neither feeds the job nor counts as the
				// client's progress (the idle timeout runs on).
				continue
			}
			if err := proof.data(len(b)); err != nil {
				return nil, nil, err
			}
			return b, nil, nil
		}
	}
}

// Digest implements apiv1.ComputeServiceServer. The response is sent
// within the job, so a job whose response could not be sent (its stream
// reset after the half-close, as grpc-js does on cancel) is counted and
// logged as the call ended, not as ok.
func (s *computeService) Digest(stream grpc.ClientStreamingServer[apiv1.DigestRequest, apiv1.DigestResponse]) error {
	ctx := stream.Context()
	g := guardOf(ctx)
	defer g.done() // before the status goes out
	g.bind(ctx)
	recv := receiver(g, stream.Recv)
	err := s.life.do(ctx, s.streamPeer(ctx), func() (string, jobFunc, error) {
		h, err := firstHeader(g, recv, (*apiv1.DigestRequest).GetHeader)
		if err != nil {
			return "", nil, err
		}
		d := &digestJobCall{s: s, stream: stream, g: g, recv: recv}
		d.job, d.order, err = digestJob(h, d.algosBuf[:0], d.orderBuf[:0])
		if err == nil && d.job.ExpectedSize >= 0 {
			err = s.engine.CheckDeclaredSize(d.job.ExpectedSize)
		}
		if err != nil {
			return "", nil, err
		}
		d.proof.init(h.GetRequireEnd() || s.opts.RequireEnd, h.ExpectedSize)
		// The End message's digests, checked once the digests are known;
		// the receiving goroutine sets them before the input ends, and
		// the job returns only after that.
		d.proof.digests = d.endDigests
		return digestCommand(d.job.Algos), d.run, nil
	})
	return toStatus(s.log, err)
}

// digestJobCall is a Digest call's job once its header is read: one object
// for what the job's closures shared (the job, the End message's
// digests, the end's proof), where each was an allocation of its own.
type digestJobCall struct {
	s      *computeService
	stream grpc.ClientStreamingServer[apiv1.DigestRequest, apiv1.DigestResponse]
	g      *streamGuard
	recv   func() (*apiv1.DigestRequest, *heldData, error)
	job    engine.DigestJob
	order  []apiv1.Algorithm
	proof  endProof
	// endSums are the End message's digests by index of job.Algos; set
	// by the receiving goroutine before the input ends (endDigests).
	endSums map[int][]byte
	// The arrays of job.Algos and order while they fit: a call names
	// one algorithm, most often.
	algosBuf [1]*digest.Algo
	orderBuf [1]apiv1.Algorithm
}

// endDigests is the end proof's check of an End message's digests: each
// names an algorithm the header named, once.
func (d *digestJobCall) endDigests(ds []*apiv1.ExpectedDigest) error {
	for _, e := range ds {
		al, raw, err := expectedDigest(e, "end")
		if err != nil {
			return err
		}
		i := slices.IndexFunc(d.job.Algos, func(a *digest.Algo) bool { return a.Name == al.Name })
		if i < 0 {
			return compute.Invalidf("end: %s was not computed: name it in the header", e.GetAlgorithm())
		}
		if _, dup := d.endSums[i]; dup {
			return compute.Invalidf("end: %s digest given twice", e.GetAlgorithm())
		}
		if d.endSums == nil {
			d.endSums = map[int][]byte{}
		}
		d.endSums[i] = raw
	}
	return nil
}

// run is the job: the input received ahead into the digests, and the
// response sent.
func (d *digestJobCall) run(ctx context.Context) (engine.Stats, error) {
	s, g, proof := d.s, d.g, &d.proof
	clk := newCancelClock(ctx, g)
	defer clk.done()
	src := s.input(ctx, g, dataChunks(d.recv, (*apiv1.DigestRequest).GetHeader, proof))
	// The job has read its last byte when Digest returns: the held
	// message buffers go back to grpc-go's pool.
	defer src.release()
	if err := src.prime(); err != nil {
		err = clientEnd(ctx, g.why(err), clk.when(time.Now()))
		return proof.countReceived(engine.Stats{}, err), err
	}
	res, err := s.engine.Digest(ctx, d.job, src)
	resp, err := digestResponse(d.job, d.order, d.endSums, res, err)
	if err == nil {
		err = clientGone(d.stream.SendAndClose(resp))
	}
	err = clientEnd(ctx, jobErr(g, src, err), clk.when(time.Now()))
	return proof.countReceived(engine.Stats{InputBytes: res.Size}, err), err
}

// digestCommands are the command labels of the one-algorithm Digest
// jobs, made once: "digest:sha256", ...
var digestCommands = sync.OnceValue(func() map[*digest.Algo]string {
	m := map[*digest.Algo]string{}
	for _, a := range digest.Algos() {
		m[a] = "digest:" + a.Name
	}
	return m
})

// digestCommand is the command label of a Digest job of algos:
// "digest:" and their names, comma-separated.
func digestCommand(algos []*digest.Algo) string {
	if len(algos) == 1 {
		if c, ok := digestCommands()[algos[0]]; ok {
			return c
		}
	}
	names := make([]string, len(algos))
	for i, a := range algos {
		names[i] = a.Name
	}
	return "digest:" + strings.Join(names, ",")
}

// digestResponse checks a Digest job's result against the End message's
// digests, and makes the response.
func digestResponse(job engine.DigestJob, order []apiv1.Algorithm, endSums map[int][]byte, res engine.DigestResult, err error) (*apiv1.DigestResponse, error) {
	if err != nil {
		return nil, err
	}
	for i, want := range endSums {
		if !bytes.Equal(res.Sums[i], want) {
			return nil, compute.Errorf(compute.CodeDataLoss, "%s digest mismatch: received %s, the client sent %s", job.Algos[i].Name, hex.EncodeToString(res.Sums[i]), hex.EncodeToString(want))
		}
	}
	resp := &apiv1.DigestResponse{Size: res.Size}
	for i, a := range order {
		resp.Digests = append(resp.Digests, &apiv1.DigestValue{Algorithm: a, Raw: res.Sums[i], Hex: hex.EncodeToString(res.Sums[i])})
	}
	return resp, nil
}

// Run implements apiv1.ComputeServiceServer. Its summary is sent within
// the job, as Digest's response is.
func (s *computeService) Run(stream grpc.BidiStreamingServer[apiv1.RunRequest, apiv1.RunResponse]) error {
	ctx := stream.Context()
	g := guardOf(ctx)
	defer g.done() // before the status goes out
	g.bind(ctx)
	recv := receiver(g, stream.Recv)
	send := s.sender(g, func(m *apiv1.RunResponse) error { return clientGone(stream.Send(m)) })
	err := s.life.do(ctx, s.streamPeer(ctx), func() (string, jobFunc, error) {
		h, err := firstHeader(g, recv, (*apiv1.RunRequest).GetHeader)
		if err != nil {
			return "", nil, err
		}
		if h.GetExpectedSize() < 0 {
			return "", nil, compute.Invalidf("header: negative expected_size %d", h.GetExpectedSize())
		}
		if err := s.engine.CheckDeclaredSize(h.GetExpectedSize()); err != nil {
			return "", nil, err
		}
		if h.GetInputFileSize() < 0 {
			return "", nil, compute.Invalidf("header: negative input_file_size %d", h.GetInputFileSize())
		}
		if h.InputFileMtime != nil && h.InputFileSize == nil {
			return "", nil, compute.Invalidf("header: input_file_mtime without input_file_size (the time of a regular file the input is)")
		}
		p, err := s.engine.Compile(h.GetPipeline())
		if err != nil {
			return "", nil, err
		}
		if h.InputFileSize != nil {
			p.SetInputFile(h.GetInputFileSize())
		}
		if h.InputFileMtime != nil {
			p.SetInputFileTime(h.GetInputFileMtime())
		}
		proof := newEndProof(h.GetRequireEnd() || s.opts.RequireEnd, h.ExpectedSize)
		return strings.Join(p.Names, "|"), func(ctx context.Context) (engine.Stats, error) {
			clk := newCancelClock(ctx, g)
			defer clk.done()
			src := s.input(ctx, g, dataChunks(recv, (*apiv1.RunRequest).GetHeader, proof))
			defer src.release() // the job reads no more once Run returns
			if err := src.prime(); err != nil {
				err = clientEnd(ctx, g.why(err), clk.when(time.Now()))
				return proof.countReceived(engine.Stats{}, err), err
			}
			out := &outputSender{send: send, max: outputChunkBytes(s.opts.MaxMsgBytes)}
			stats, err := s.engine.Run(ctx, p, src, out)
			if err == nil {
				// Only the summary proves the output whole: a job whose
				// summary could not be sent did not deliver its result.
				err = send(&apiv1.RunResponse{Message: &apiv1.RunResponse_Summary{Summary: &apiv1.RunSummary{
					InputBytes: stats.InputBytes, OutputBytes: stats.OutputBytes,
					ExitStatus: int32(stats.ExitStatus), Diagnostics: stats.Diagnostics,
				}}})
			}
			err = clientEnd(ctx, jobErr(g, src, err), clk.when(time.Now()))
			return proof.countReceived(stats, err), err
		}, nil
	})
	return toStatus(s.log, err)
}

// clientEnd is err, the end of a job whose context ended at at, as its
// client's doing is said: a cancel at the deadline is the deadline
// (clientDeadline), any other cancel grpc-go's status (clientCanceled).
func clientEnd(ctx context.Context, err error, at time.Time) error {
	return clientCanceled(clientDeadline(ctx, err, at))
}

// clientCanceled is err, a job's end, with a client's cancel said one way:
// grpc-go's status for it (CANCELED "context canceled", what a Send or
// Recv the cancel failed returns). A Run cancelled while its output was
// sent ended with either that status or the bare context.Canceled, as the
// job's stage or its Send saw the cancel first, and its log line's
// job.error was "context canceled" in 2 of 60 such calls, "rpc error:
// code = Canceled desc = context canceled" in the rest (review5: 1 in
// 58). A Run or Digest cancelled while it waited for its first input
// byte (recvAhead.prime) always ended with the bare one: job.error
// "context canceled" and grpc.error "rpc error: code = Canceled desc =
// canceled" (toStatus's message for it).
func clientCanceled(err error) error {
	if err == nil || !errors.Is(err, context.Canceled) {
		return err
	}
	var ce *compute.Error
	if errors.As(err, &ce) {
		return err // the core's own verdict, with its message
	}
	return status.FromContextError(context.Canceled).Err()
}

// clientGone is the error of a reply the stream could not carry: grpc-go
// fails a server's Send with UNAVAILABLE ("transport is closing") when the
// connection closed under the stream, as when a client process exits
// mid-reply (halfclose ... | head -c 10). The client left: the job counts
// as CANCELED, as a reset stream does, not as UNAVAILABLE, which says the
// server is shutting down (a job the shutdown stopped is given
// errShuttingDown by the lifecycle whatever its error).
func clientGone(err error) error {
	if err != nil && status.Code(err) == codes.Unavailable {
		return context.Canceled
	}
	return err
}

// deadlineSlack is how long before the stream's deadline a client's
// cancel still counts as that deadline (clientDeadline). It is how late
// the call's headers may reach the server: 20 ms left 3 of 748 expired
// 300 ms deadlines canceled in a soak at load 20, and a grpcio call of
// 0.5 s in the e2e suite beside a busy build; a client that cancels
// within it, before its deadline, counts as its deadline.
const deadlineSlack = 100 * time.Millisecond

// clientDeadline returns DEADLINE_EXCEEDED for err, a cancel by the
// client, when it came at the stream's deadline (ctx's), or within
// deadlineSlack before it. A client whose deadline expires resets its
// stream (RST_STREAM CANCEL) at once, and that reset comes before the
// server's own timer, which started when the call's headers arrived,
// later than the client's: every such call counted as canceled
// (grpcio with timeout=0.5 on a call that sent no end: 10 of 10
// outcome=canceled, none idle), though the client was told
// DEADLINE_EXCEEDED and docs/operations.md counts a deadline as idle.
// The reset comes about as much before the server's deadline as the
// client took between its deadline's start and sending the headers.
func clientDeadline(ctx context.Context, err error, now time.Time) error {
	if err == nil || codeOf(err) != codes.Canceled {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !now.Before(d.Add(-deadlineSlack)) {
		return context.DeadlineExceeded
	}
	return err
}

// cancelClock records when a call's context ended, for clientDeadline: a
// job may return well after its client's cancel (a stage slow to stop
// that is cancelled; grpc-go cancels the stream's context as the client's
// reset arrives), and the time it returned made a cancel long before the
// deadline look like the deadline (a Run cancelled 1 s before its
// deadline, whose stage returned at it: outcome idle). Only a call with a
// deadline has one: one AfterFunc a job; nil (nothing recorded) for the
// others, which clientDeadline leaves as they are. A stream with a guard
// uses its guard's, which the guard's watch of the stream's end records
// (the job's context ends with the stream's, or with the server's stop,
// which makes any error of the job errShuttingDown, or after the job): no
// AfterFunc a job, which was 7 allocations and the context's lock.
type cancelClock struct {
	stop func() bool
	mu   sync.Mutex // protects at
	at   time.Time  // when ctx ended; zero until then
}

func newCancelClock(ctx context.Context, g *streamGuard) *cancelClock {
	if _, ok := ctx.Deadline(); !ok {
		return nil
	}
	if g != nil {
		return &g.clock
	}
	c := &cancelClock{}
	c.stop = context.AfterFunc(ctx, c.record)
	return c
}

// record records now as the end, unless an end is recorded already.
func (c *cancelClock) record() {
	now := time.Now()
	c.mu.Lock()
	if c.at.IsZero() {
		c.at = now
	}
	c.mu.Unlock()
}

// when returns when the context ended, or now when that is not recorded
// (yet: the AfterFunc may not have run when the job saw the end first,
// and then now is about as early).
func (c *cancelClock) when(now time.Time) time.Time {
	if c == nil {
		return now
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() || now.Before(c.at) {
		return now
	}
	return c.at
}

// done unregisters the AfterFunc, if the clock has one: the job is over.
func (c *cancelClock) done() {
	if c != nil && c.stop != nil {
		c.stop()
	}
}

// jobErr is the error a job of the stream guarded by g ends with, having
// read src: err, or the guard's cause. When the stream has ended (grpc-go
// or the guard ended it) the receiving goroutine is waited for first: a
// receive that grpc-go failed (recvFailure) ends the stream before the
// goroutine can record why, and the job may have seen only the end.
func jobErr(g *streamGuard, src *recvAhead, err error) error {
	if err != nil && g != nil && g.Context.Err() != nil {
		src.settle()
	}
	return g.why(err)
}

// streamPeer is the peer key (PeerKeys) of a stream's peer.
func (s *computeService) streamPeer(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return s.opts.PeerKeys.Key(p.Addr)
	}
	return ""
}

// input is a job's input: the stream's data messages, received ahead.
// With a guard, the first ones are received as they are read, and the
// receive-ahead goroutine starts once input flows: an idle stream costs
// no goroutine of its own.
func (s *computeService) input(ctx context.Context, g *streamGuard, next func() ([]byte, *heldData, error)) *recvAhead {
	if g != nil {
		r := newRecvAhead(ctx, guardedSource{recv: next, g: g, idle: s.errIdle}, 0, s.opts.IdleTimeout)
		r.watch = g.newInputWatch()
		return r
	}
	return newRecvAhead(ctx, messageSource(next), 0, s.opts.IdleTimeout)
}

// sender wraps a stream's Send with the idle timeout of the reply: a
// client that reads nothing of it for --idle-timeout blocks Send (HTTP/2
// flow control) until the guard stops the stream, and the job fails with
// DEADLINE_EXCEEDED. A Send that returned just as its wait expired fails
// too: the guard has answered the client with the timeout already (streamGuard.fire),
// and a summary sent then is followed by that status, not by OK.
func (s *computeService) sender(g *streamGuard, send func(*apiv1.RunResponse) error) func(*apiv1.RunResponse) error {
	idle := s.opts.IdleTimeout
	if g == nil || idle <= 0 {
		return send
	}
	cause := s.errReplyIdle
	return func(m *apiv1.RunResponse) error {
		g.arm(idle, cause)
		err := send(m)
		g.disarm()
		if err == nil {
			return g.stopped()
		}
		return g.why(err)
	}
}

// millis is d as Capabilities reports a duration: whole milliseconds,
// rounded down, but a positive d under a millisecond is 1, not the 0 that
// says the limit is off (or, for job_wait_ms, that a job is refused at
// once); a negative d is 0.
func millis(d time.Duration) int64 {
	if d > 0 && d < time.Millisecond {
		return 1
	}
	return max(0, d.Milliseconds())
}

// spoolDisk is the disk budget all jobs' spill files share (a nil one
// is the engine's own of compute.DefaultSpoolDisk).
func spoolDisk(b *compute.DiskBudget) int64 {
	if b == nil {
		return compute.DefaultSpoolDisk
	}
	return b.Limit()
}

// maxOutputChunk bounds a Run output message whatever --max-msg-bytes is:
// gRPC clients receive at most 4 MiB messages by default, and a server
// allowed larger requests must not make its replies unreadable to them.
const maxOutputChunk = DefaultMaxMsgBytes

// outputChunkBytes is the output carried by one RunResponse: the message,
// at most min(maxMsgBytes, 4 MiB), less room for its framing.
func outputChunkBytes(maxMsgBytes int) int {
	return min(maxMsgBytes, maxOutputChunk) - 64
}

// outputSender writes a job's output as RunResponse output messages of at
// most max bytes.
type outputSender struct {
	send func(*apiv1.RunResponse) error
	max  int
}

func (o *outputSender) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		n := min(len(p), o.max)
		// Send marshals before returning, so p may be reused after it.
		if err := o.send(&apiv1.RunResponse{Message: &apiv1.RunResponse_Output{Output: p[:n]}}); err != nil {
			return total - len(p), err
		}
		p = p[n:]
	}
	return total, nil
}

// Capabilities implements apiv1.ComputeServiceServer.
func (s *computeService) Capabilities(_ context.Context, req *apiv1.CapabilitiesRequest) (*apiv1.CapabilitiesResponse, error) {
	if err := malformed(req); err != nil {
		return nil, toStatus(s.log, err)
	}
	cfg := s.engine.Config()
	e := s.opts.Edge
	resp := &apiv1.CapabilitiesResponse{Limits: &apiv1.Limits{
		MaxInputBytes: cfg.MaxInputBytes,
		MaxJobs:       int32(cfg.MaxJobs),
		MaxMsgBytes:   int64(s.opts.MaxMsgBytes),
		IdleTimeoutMs: millis(s.opts.IdleTimeout),
		// The per-peer caps in force (each 0 when off, as a nil PeerCap's
		// Limit is); a client sizing its parallelism needs them more than
		// --max-jobs.
		MaxJobsPerPeer:     int64(s.opts.PeerJobs.Limit()),
		MaxRequestsPerPeer: int64(s.opts.PeerRequests.Limit()),
		PeerIpv6Prefix:     int32(s.opts.PeerKeys.prefix()),
		MaxMetadataBytes:   int64(s.opts.MaxMetadataBytes),
		// --grpc-max-requests and an address's share of it: a client's
		// calls over the share are refused at once.
		MaxGrpcRequests:        int64(s.opts.Streams.Limit()),
		MaxGrpcRequestsPerPeer: int64(s.opts.Streams.PeerLimit()),
		// The timeouts and sizes a client meets before or while its job
		// runs.
		HeaderTimeoutMs:   millis(s.opts.HeaderTimeout),
		JobWaitMs:         millis(cfg.QueueWait), // negative: refused at once, 0
		MaxLineBytes:      int64(cfg.MaxLineBytes),
		MaxTcpHeaderBytes: int64(s.opts.TCPMaxHeaderBytes),
		// What the edge enforces: connections, streams per connection,
		// pings, the rate limit; and what all jobs share.
		MaxTcpConns:           int64(e.TCPMaxConns),
		RateLimitPerSecond:    e.RateLimit,
		RateBurst:             int64(e.RateBurst),
		MaxGrpcStreamsPerConn: int64(e.GRPCStreamsPerConn),
		MaxGrpcConns:          int64(e.GRPCMaxConns),
		MaxGrpcConnsPerPeer:   int64(e.GRPCMaxConnsPerPeer),
		GrpcConnIdleMs:        millis(e.GRPCConnIdle),
		KeepaliveMinTimeMs:    millis(e.KeepaliveMinTime),
		TcpFinWaitMs:          millis(e.TCPFinWait),
		SpoolDiskBytes:        spoolDisk(cfg.Spool.Disk),
		RequireEnd:            s.opts.RequireEnd,
	}}
	for _, c := range cfg.Registry.Commands() {
		ci := &apiv1.CommandInfo{Name: c.Name, Summary: c.Summary}
		for _, f := range compute.Supported(c.Flags) {
			// One FlagInfo per name, as the proto says: "-b" and
			// "--binary" are two entries with the same summary.
			for _, name := range f.Names() {
				// takes_value: the flag needs an argument. One whose
				// argument is optional (grep --color[=WHEN], sort
				// --check[=WORD]) is complete without one.
				ci.Flags = append(ci.Flags, &apiv1.FlagInfo{Name: name, TakesValue: f.Value && !f.Optional, Summary: f.Summary})
			}
		}
		resp.Commands = append(resp.Commands, ci)
	}
	for a := apiv1.Algorithm(1); ; a++ {
		if _, ok := apiv1.Algorithm_name[int32(a)]; !ok {
			break
		}
		if _, err := lookupAlgo(a, ""); err == nil {
			resp.Algorithms = append(resp.Algorithms, a)
		}
	}
	return resp, nil
}
