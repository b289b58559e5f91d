package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// ChainConfig selects the middleware ChainOptions installs. Nil fields turn
// their interceptor off, except Logger, which defaults to slog.Default().
type ChainConfig struct {
	Logger    *slog.Logger
	Metrics   *Metrics     // grpc_server_* metrics (Metrics.ServerMetrics)
	Auth      *TokenAuth   // bearer tokens; health and reflection skip it
	RateLimit *PeerLimiter // per peer IP; health skips it
}

// ChainOptions returns the server options installing, outermost first:
//
//  1. Prometheus server metrics (sees every call, even those refused below);
//  2. logging: one line per finished call at a level set by its code, with
//     grpc.service, grpc.method, peer.address, grpc.code, grpc.error and
//     grpc.duration; a handler adds its own fields with AddLogFields;
//  3. auth (bearer token), except for grpc.health.v1.Health and
//     grpc.reflection.* so probes and grpcurl work without a token;
//  4. rate limiting per peer IP (RESOURCE_EXHAUSTED "rate limit exceeded
//     for peer"), except for health;
//  5. recovery: a panicking handler gives the client INTERNAL "internal
//     error" and the log an error line with the panic value and stack.
//
// Recovery is innermost so the panic is logged and counted as INTERNAL by
// the layers above it.
//
// The five layers are one interceptor (one for unary calls, one for
// streams) that does what go-grpc-middleware's metrics, logging, auth and
// recovery interceptors did, with the same metrics and the same log
// lines: a call costs one allocation of its own state (its context, its
// wrapped stream and its log fields) instead of a wrapped stream, a
// context and a dozen field lists per layer, and its series are found by
// method once, not by label values per call.
func ChainOptions(cfg ChainConfig) []grpc.ServerOption {
	unary, stream := interceptorChain(cfg)
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
	}
}

// interceptorChain returns the interceptors ChainOptions installs,
// outermost first.
func interceptorChain(cfg ChainConfig) ([]grpc.UnaryServerInterceptor, []grpc.StreamServerInterceptor) {
	c := newChain(cfg)
	return []grpc.UnaryServerInterceptor{c.unary}, []grpc.StreamServerInterceptor{c.stream}
}

// chain is the interceptors' configuration.
type chain struct {
	log     *slog.Logger
	h       slog.Handler
	metrics *GRPCMetrics // nil: off
	auth    *TokenAuth   // nil: off
	limit   *PeerLimiter // nil: off
	methods methodTable
}

func newChain(cfg ChainConfig) *chain {
	c := &chain{log: cfg.Logger, metrics: cfg.Metrics.ServerMetrics(), auth: cfg.Auth, limit: cfg.RateLimit}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.h = c.log.Handler()
	c.methods.mk = c.methodInfo
	return c
}

// methodInfo is what the chain needs to know of a method, computed once.
type methodInfo struct {
	typ             interceptors.GRPCType
	service, method string
	auth, limit     bool          // whether the call needs auth and the rate limit
	series          *methodSeries // nil without metrics
}

func (c *chain) methodInfo(fullMethod string, typ interceptors.GRPCType) *methodInfo {
	mi := &methodInfo{typ: typ}
	mi.service, mi.method = splitMethod(fullMethod)
	cm := interceptors.CallMeta{Service: mi.service, Method: mi.method, Typ: typ}
	mi.auth = c.auth != nil && needsAuth(cm)
	mi.limit = c.limit != nil && needsRateLimit(cm)
	if c.metrics != nil {
		mi.series = &methodSeries{m: c.metrics, typ: string(typ), service: mi.service, method: mi.method}
	}
	return mi
}

// callState is one call's: its context (which AddLogFields finds), its
// wrapped stream, and the fields its handler adds to its log line. One
// allocation holds them all.
type callState struct {
	context.Context // the call's context, as grpc-go gave it
	stream          callStream
	mi              *methodInfo
	peer            string // peer.address; "" when there is none
	hasPeer         bool

	fields []slog.Attr // added by the handler, newest first
	buf    [4]slog.Attr
}

type callKey struct{}

// Value makes the call's state findable from its handler's context.
func (cs *callState) Value(key any) any {
	if key == (callKey{}) {
		return cs
	}
	return cs.Context.Value(key)
}

// callStream is the stream the handler sees: its context is the call's,
// and its messages are counted.
type callStream struct {
	grpc.ServerStream
	cs *callState
}

func (s *callStream) Context() context.Context { return s.cs }

func (s *callStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil && s.cs.mi.series != nil {
		s.cs.mi.series.incReceived()
	}
	return err
}

func (s *callStream) SendMsg(m any) error {
	err := s.ServerStream.SendMsg(m)
	if err == nil && s.cs.mi.series != nil {
		s.cs.mi.series.incSent()
	}
	return err
}

// begin makes a call's state and counts it as started.
func (c *chain) begin(ctx context.Context, mi *methodInfo) *callState {
	cs := &callState{Context: ctx, mi: mi}
	cs.fields = cs.buf[:0]
	if p, ok := peer.FromContext(ctx); ok {
		cs.peer, cs.hasPeer = addrString(p.Addr), true
	}
	if mi.series != nil {
		mi.series.incStarted()
	}
	return cs
}

// admit is the auth and rate-limit layers.
func (c *chain) admit(cs *callState) error {
	if cs.mi.auth {
		if _, err := c.auth.AuthFunc(cs); err != nil {
			return err
		}
	}
	if cs.mi.limit {
		if err := c.limit.Limit(cs); err != nil {
			return status.Error(codes.ResourceExhausted, err.Error())
		}
	}
	return nil
}

func (c *chain) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	cs := c.begin(ss.Context(), c.methods.get(info.FullMethod, streamType(info)))
	cs.stream = callStream{ServerStream: ss, cs: cs}
	err := c.admit(cs)
	if err == nil {
		err = c.runStream(cs, srv, handler)
	}
	c.end(cs, start, err)
	return err
}

// runStream is the recovery layer of a stream call.
func (c *chain) runStream(cs *callState, srv any, handler grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = c.recovered(cs, p)
		}
	}()
	return handler(srv, &cs.stream)
}

func (c *chain) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	cs := c.begin(ctx, c.methods.get(info.FullMethod, interceptors.Unary))
	if cs.mi.series != nil {
		cs.mi.series.incReceived()
	}
	var resp any
	err := c.admit(cs)
	if err == nil {
		resp, err = c.runUnary(cs, req, handler)
	}
	if err == nil && cs.mi.series != nil {
		cs.mi.series.incSent()
	}
	c.end(cs, start, err)
	return resp, err
}

// runUnary is the recovery layer of a unary call.
func (c *chain) runUnary(cs *callState, req any, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = c.recovered(cs, p)
		}
	}()
	return handler(cs, req)
}

// recovered logs a handler's panic, with its stack and the call's fields,
// and returns what the client gets. It runs in the deferred function, so
// the stack is the panicking one.
func (c *chain) recovered(cs *callState, p any) error {
	args := []any{"panic", p, "stack", string(debug.Stack())}
	for _, a := range cs.fields {
		args = append(args, a)
	}
	args = append(args, logging.SystemTag[0], logging.SystemTag[1], logging.ComponentFieldKey, logging.KindServerFieldValue)
	args = append(args, cs.baseAttrs()...)
	c.log.ErrorContext(cs, "handler panic", args...)
	return status.Error(codes.Internal, "internal error")
}

// baseAttrs are the call's own fields, as go-grpc-middleware's logging
// put them in the context (without its constant protocol and component).
func (cs *callState) baseAttrs() []any {
	args := []any{logging.ServiceFieldKey, cs.mi.service, logging.MethodFieldKey, cs.mi.method,
		logging.MethodTypeFieldKey, string(cs.mi.typ)}
	if cs.hasPeer {
		args = append(args, "peer.address", cs.peer)
	}
	return args
}

// end is the metrics and logging layers' end of a call.
func (c *chain) end(cs *callState, start time.Time, err error) {
	now := time.Now()
	d := now.Sub(start)
	if s := cs.mi.series; s != nil {
		st, ok := status.FromError(err)
		if !ok { // as grpc-go itself tells the client
			st = status.FromContextError(err)
		}
		s.handledCall(st.Code(), d.Seconds())
	}
	c.logCall(cs, now, d, err)
}

// logCall writes the call's line: "finished call", at the level its code
// gives, with grpc.service, grpc.method, grpc.method_type, peer.address,
// grpc.request.deadline (when the call has one), the handler's fields,
// grpc.code, grpc.error (when it failed) and grpc.duration, in that order
// (go-grpc-middleware's, less its constant protocol=grpc and
// grpc.component=server, and grpc.start_time: the line's time less
// grpc.duration). A handler's field named like one of these is dropped.
func (c *chain) logCall(cs *callState, now time.Time, d time.Duration, err error) {
	if errors.Is(err, io.EOF) {
		err = nil
	}
	code := status.Code(err)
	lvl := slog.Level(logging.DefaultServerCodeToLevel(code))
	if !c.h.Enabled(cs, lvl) {
		return
	}
	r := slog.NewRecord(now, lvl, "finished call", 0)
	var buf [16]slog.Attr
	attrs := append(buf[:0],
		slog.String(logging.ServiceFieldKey, cs.mi.service),
		slog.String(logging.MethodFieldKey, cs.mi.method),
		slog.String(logging.MethodTypeFieldKey, string(cs.mi.typ)))
	if cs.hasPeer {
		attrs = append(attrs, slog.String("peer.address", cs.peer))
	}
	if dl, ok := cs.Deadline(); ok {
		attrs = append(attrs, slog.String("grpc.request.deadline", formatDeadline(dl)))
	}
	for _, a := range cs.fields {
		if !ownField(a.Key) {
			attrs = append(attrs, a)
		}
	}
	attrs = append(attrs, slog.String("grpc.code", code.String()))
	if err != nil {
		attrs = append(attrs, slog.String("grpc.error", errorString(err)))
	}
	attrs = append(attrs, slog.Duration("grpc.duration", d))
	r.AddAttrs(attrs...)
	_ = c.h.Handle(cs, r)
}

// ownField reports whether key is one of the fields the chain writes.
func ownField(key string) bool {
	switch key {
	case logging.ServiceFieldKey, logging.MethodFieldKey, logging.MethodTypeFieldKey, "peer.address",
		"grpc.request.deadline", "grpc.code", "grpc.error", "grpc.duration":
		return true
	}
	return false
}

// errorString is fmt.Sprintf("%v", err), without fmt for a plain error.
func errorString(err error) string {
	if _, ok := err.(fmt.Formatter); ok {
		return fmt.Sprintf("%v", err)
	}
	return err.Error()
}

// AddLogFields adds key/value pairs to the log line of the call whose
// context (or stream.Context()) is ctx, e.g.
//
//	server.AddLogFields(ctx, "job.command", name, "job.in_bytes", n)
//
// The fields appear on the call's "finished call" line, those of the
// latest call first; a key given again replaces its earlier value. A
// trailing key without a value gets "". Call it from the handler's
// goroutine before the handler returns (the fields are not guarded by a
// lock). It does nothing outside a logged call.
func AddLogFields(ctx context.Context, kv ...any) {
	cs, ok := ctx.Value(callKey{}).(*callState)
	if !ok {
		return
	}
	var buf [4]slog.Attr
	add := buf[:0]
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			k = fmt.Sprint(kv[i])
		}
		var v any = ""
		if i+1 < len(kv) {
			v = kv[i+1]
		}
		add = append(add, slog.Any(k, v))
	}
	cs.addFields(add)
}

// addLogAttr is AddLogFields for one attribute, without its conversions.
func addLogAttr(ctx context.Context, a slog.Attr) {
	if cs, ok := ctx.Value(callKey{}).(*callState); ok {
		cs.addFields([]slog.Attr{a})
	}
}

// addFields puts add before the fields already added, less those whose
// keys add has.
func (cs *callState) addFields(add []slog.Attr) {
	if len(cs.fields) == 0 && len(add) <= len(cs.buf) {
		cs.fields = append(cs.buf[:0], add...)
		return
	}
	next := make([]slog.Attr, 0, len(add)+len(cs.fields))
	next = append(next, add...)
outer:
	for _, old := range cs.fields {
		for _, a := range add {
			if a.Key == old.Key {
				continue outer
			}
		}
		next = append(next, old)
	}
	cs.fields = next
}

const healthService = "grpc.health.v1.Health"

func isHealth(c interceptors.CallMeta) bool { return c.Service == healthService }

func isReflection(c interceptors.CallMeta) bool {
	return strings.HasPrefix(c.Service, "grpc.reflection.")
}

func needsAuth(c interceptors.CallMeta) bool {
	return !isHealth(c) && !isReflection(c)
}

func needsRateLimit(c interceptors.CallMeta) bool {
	return !isHealth(c)
}
