package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
)

// CallLog is the logging layer of the chain: the ServerReportable of
// go-grpc-middleware's reporting interceptors (interceptors.go), as the
// metrics' GRPCMetrics is, in place of logging.StreamServerInterceptor's
// reporter. It writes the line logging.StreamServerInterceptor wrote with
// the options the chain gave it (a line per finished call, the duration as
// a time.Duration, no start line) through the slog adapter the chain had
// (protocol, grpc.component and grpc.start_time dropped,
// grpc.request.deadline as RFC 3339): the same fields in the same order,
// the same level by code, the handler's fields (AddLogFields) merged as
// logging.AddFields merged them.
//
// What it saves is the middleware's field lists: per call, it built the
// common fields anew, boxing each name into an interface, copied and
// merged the lists through maps three times, boxed each key again at every
// logging.AddFields, boxed the duration, formatted two timestamps that the
// adapter then dropped or replaced, and the adapter turned the result into
// attributes: 67 allocations a call with the handler's job field. Here the
// fields are slog attributes from the start (a string needs no boxing),
// merged by linear scans of a dozen keys on the stack, in one context value
// (the call's report): 4 (BenchmarkStreamLayers).
//
// The call's fields live in that context value, not in the logging
// package's: logging.ExtractFields does not see them; callLogAttrs does.
type CallLog struct {
	h slog.Handler
}

// NewCallLog returns the logging layer writing to l.
func NewCallLog(l *slog.Logger) *CallLog {
	return &CallLog{h: l.Handler()}
}

// callLogKey is the context key of a call's *callReport.
type callLogKey struct{}

// callReport is one call's reporter and its log fields.
type callReport struct {
	h   slog.Handler
	ctx context.Context
	// series are the call's grpc_server_* series when the metrics share
	// the interceptor (callReporter), or nil.
	series *methodSeries
	// own are the middleware's reporter fields: the common ones
	// (protocol, grpc.component, grpc.service, grpc.method,
	// grpc.method_type), those an outer interceptor put in the context
	// with logging.InjectFields, peer.address, then grpc.start_time and
	// grpc.request.deadline (empty: the timestamp format was empty; the
	// deadline is formatted at the end, as the adapter did). The first
	// nCtx of them are the context's fields until a handler adds some.
	own  []slog.Attr
	nCtx int
	// added are the fields handlers added, the latest call's (nLatest of
	// them) first, then the earlier calls', latest first; nil until a
	// handler adds. The context's fields are then merged from them and
	// own[:nCtx] when read (ctxAttrs), as logging.AddFields merged them
	// at each call.
	added   []slog.Attr
	nLatest int
	// The arrays own and added use while they fit: the reporter's 8
	// fields, and the handler's one (the job, added once). So sized, a
	// reportedStream is 504 bytes: a 512-byte object, the largest the
	// allocator makes without a header (576 with two added fields).
	ownBuf   [8]slog.Attr
	addedBuf [1]slog.Attr
}

// ServerReporter implements interceptors.ServerReportable.
func (l *CallLog) ServerReporter(ctx context.Context, c interceptors.CallMeta) (interceptors.Reporter, context.Context) {
	r := &callReport{}
	l.begin(r, ctx, c)
	r.ctx = context.WithValue(ctx, callLogKey{}, r)
	return r, r.ctx
}

// begin fills in r's fields for the call c, whose context is ctx; r.ctx is
// the caller's to set, to a context whose callLogKey value is r.
func (l *CallLog) begin(r *callReport, ctx context.Context, c interceptors.CallMeta) {
	r.h = l.h
	f := append(r.ownBuf[:0],
		slog.String(logging.SystemTag[0], logging.SystemTag[1]),
		slog.String(logging.ComponentFieldKey, logging.KindServerFieldValue),
		slog.String(logging.ServiceFieldKey, c.Service),
		slog.String(logging.MethodFieldKey, c.Method),
		slog.String(logging.MethodTypeFieldKey, string(c.Typ)))
	if outer := logging.ExtractFields(ctx); len(outer) > 0 {
		f = appendFields(f, len(f), outer)
	}
	if p, ok := peer.FromContext(ctx); ok {
		f = append(f, slog.String("peer.address", addrString(p.Addr)))
	}
	r.nCtx = len(f)
	if !hasAttr(f, startTimeField) {
		f = append(f, slog.String(startTimeField, ""))
	}
	if _, ok := ctx.Deadline(); ok && !hasAttr(f[:r.nCtx], deadlineField) {
		f = append(f, slog.String(deadlineField, ""))
	}
	r.own = f
}

// ctxAttrs appends to buf the call's context fields: what
// logging.ExtractFields gave. Until a handler adds fields, they are
// own[:nCtx], and buf is not used.
func (r *callReport) ctxAttrs(buf []slog.Attr) []slog.Attr {
	if r.added == nil {
		return r.own[:r.nCtx]
	}
	// logging.AddFields put the new fields first, as they came, then each
	// earlier field whose key is not among those before it. Merged at
	// each call or once at the end, that is the same list: the latest
	// fields, then the earlier calls' and the reporter's, each but the
	// first of a key.
	n := len(buf)
	buf = append(buf, r.added[:r.nLatest]...)
	for _, a := range r.added[r.nLatest:] {
		if !hasAttr(buf[n:], a.Key) {
			buf = append(buf, a)
		}
	}
	for _, a := range r.own[:r.nCtx] {
		if !hasAttr(buf[n:], a.Key) {
			buf = append(buf, a)
		}
	}
	return buf
}

// add adds attrs to the context fields as logging.AddFields did (merged
// when read: ctxAttrs).
func (r *callReport) add(attrs []slog.Attr) {
	if r.added == nil {
		r.added = r.addedBuf[:0]
	}
	r.added = slices.Insert(r.added, 0, attrs...)
	r.nLatest = len(attrs)
}

// lineAttrBufs holds the arrays a "finished call" line's attributes are
// assembled in.
var lineAttrBufs = sync.Pool{New: func() any { return new([32]slog.Attr) }}

// putLineAttrs clears buf, which held a line's attributes (their strings
// are the call's), and puts it back in lineAttrBufs.
func putLineAttrs(buf *[32]slog.Attr) {
	clear(buf[:])
	lineAttrBufs.Put(buf)
}

// log writes the "finished call" line, of a call that ended at now after d.
func (r *callReport) log(err error, d time.Duration, now time.Time) {
	if errors.Is(err, io.EOF) {
		err = nil
	}
	code := logging.DefaultErrorToCode(err)
	lvl := slog.Level(logging.DefaultServerCodeToLevel(code))
	if !r.h.Enabled(r.ctx, lvl) {
		return
	}
	// The reporter's fields, then the context's (the handler's first)
	// whose keys are not among them; then each of the code, the error and
	// the duration unless a field has its key already: the middleware's
	// WithUnique and AppendUnique.
	// The line's attributes go to a handler through an interface, which
	// makes an array on the stack escape: one of a pool instead.
	buf := lineAttrBufs.Get().(*[32]slog.Attr)
	defer putLineAttrs(buf)
	var cbuf [16]slog.Attr
	attrs := append(buf[:0], r.own...)
	for _, a := range r.ctxAttrs(cbuf[:0]) {
		if !hasAttr(attrs[:len(r.own)], a.Key) {
			attrs = append(attrs, a)
		}
	}
	if !hasAttr(attrs, "grpc.code") {
		attrs = append(attrs, slog.String("grpc.code", code.String()))
	}
	if err != nil && !hasAttr(attrs, "grpc.error") {
		attrs = append(attrs, slog.String("grpc.error", fmt.Sprintf("%v", err)))
	}
	if !hasAttr(attrs, "grpc.duration") {
		attrs = append(attrs, slog.Duration("grpc.duration", d))
	}
	// What the adapter did: drop the fields that say nothing on a
	// server's own log, and format the deadline.
	out := attrs[:0]
	for _, a := range attrs {
		switch a.Key {
		case logging.SystemTag[0], logging.ComponentFieldKey, startTimeField:
			continue
		case deadlineField:
			if dl, ok := r.ctx.Deadline(); ok && a.Value.Kind() == slog.KindString && a.Value.String() == "" {
				a.Value = slog.StringValue(formatDeadline(dl))
			}
		}
		out = append(out, a)
	}
	if ah, ok := r.h.(AttrsHandler); ok {
		_ = ah.HandleAttrs(r.ctx, now, lvl, "finished call", out)
		return
	}
	rec := slog.NewRecord(now, lvl, "finished call", 0)
	rec.AddAttrs(out...)
	_ = r.h.Handle(r.ctx, rec)
}

// AttrsHandler is a slog.Handler that also writes a record given by its
// parts: a caller with its attributes in a slice then builds no
// slog.Record, whose attributes past the fifth are copied to a slice of
// their own, an allocation a line, and which is copied whole at each
// handler it goes through. cmd/halfclosed's handler is one. HandleAttrs
// writes what Handle writes of slog.NewRecord(t, level, msg, 0) with
// attrs added; it must not keep attrs.
type AttrsHandler interface {
	slog.Handler
	HandleAttrs(ctx context.Context, t time.Time, level slog.Level, msg string, attrs []slog.Attr) error
}

// PostCall implements interceptors.Reporter: the "finished call" line,
// then the metrics (the order of the two layers before).
func (r *callReport) PostCall(err error, d time.Duration) {
	r.finish(err, d, time.Now())
}

// finish is PostCall for a call that ended at now: the line's time.
func (r *callReport) finish(err error, d time.Duration, now time.Time) {
	r.log(err, d, now)
	if r.series != nil {
		r.series.PostCall(err, d)
	}
}

// PostMsgSend implements interceptors.Reporter: nothing is logged per
// message; the metrics count it.
func (r *callReport) PostMsgSend(m any, err error, d time.Duration) {
	if r.series != nil {
		r.series.PostMsgSend(m, err, d)
	}
}

// PostMsgReceive implements interceptors.Reporter.
func (r *callReport) PostMsgReceive(m any, err error, d time.Duration) {
	if r.series != nil {
		r.series.PostMsgReceive(m, err, d)
	}
}

// callReporter is the chain's two outer layers, metrics then logging,
// under one reporting interceptor: one wrapped stream, one start time and
// one pair of clock readings per message instead of two of each; the
// metrics see every call the log does, as when they were a layer of
// their own around it. A nil m leaves the metrics out.
type callReporter struct {
	m *GRPCMetrics
	l *CallLog
}

// ServerReporter implements interceptors.ServerReportable.
func (c callReporter) ServerReporter(ctx context.Context, cm interceptors.CallMeta) (interceptors.Reporter, context.Context) {
	var s *methodSeries
	if c.m != nil {
		s = c.m.series(cm)
	}
	rep, ctx := c.l.ServerReporter(ctx, cm)
	r := rep.(*callReport)
	r.series = s
	return r, ctx
}

// stream is interceptors.StreamServerInterceptor(c) in one allocation a
// call: the stream the handler gets, its context and the call's report
// are one object (reportedStream), where the middleware allocated its
// wrapped stream, a context value and the report apart. The reporters are
// called as the middleware calls them, but with no duration for a message:
// neither reporter uses it, and timing each message was two clock readings
// a message. The clock reading that ends the call is also its line's time.
func (c callReporter) stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		cm := interceptors.NewServerCallMeta(info.FullMethod, info, nil)
		ctx := ss.Context()
		s := &reportedStream{ServerStream: ss}
		if c.m != nil {
			s.rep.series = c.m.series(cm)
		}
		c.l.begin(&s.rep, ctx, cm)
		s.ctx = reportCtx{Context: ctx, r: &s.rep}
		s.rep.ctx = &s.ctx
		err := handler(srv, s)
		now := time.Now() // the call's end, and its line's time
		s.rep.finish(err, now.Sub(start), now)
		return err
	}
}

// reportedStream is a stream call under callReporter: the stream its
// handler gets, which reports each message.
type reportedStream struct {
	grpc.ServerStream
	ctx reportCtx
	rep callReport
}

func (s *reportedStream) Context() context.Context { return &s.ctx }

func (s *reportedStream) SendMsg(m any) error {
	err := s.ServerStream.SendMsg(m)
	s.rep.PostMsgSend(m, err, 0)
	return err
}

func (s *reportedStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	s.rep.PostMsgReceive(m, err, 0)
	return err
}

// reportCtx is a call's context with its report as the callLogKey value,
// as context.WithValue(Context, callLogKey{}, r) would be.
type reportCtx struct {
	context.Context
	r *callReport
}

func (c *reportCtx) Value(key any) any {
	if _, ok := key.(callLogKey); ok {
		return c.r
	}
	return c.Context.Value(key)
}

// addLogAttrs adds attrs to the log line of the call whose context is ctx
// (AddLogFields without the boxing of each value into an interface).
func addLogAttrs(ctx context.Context, attrs ...slog.Attr) {
	if r, ok := ctx.Value(callLogKey{}).(*callReport); ok {
		r.add(attrs)
	}
}

// callLogAttrs are the log fields of the call whose context is ctx (the
// common ones, the peer's, the handler's), or nil outside a logged call.
func callLogAttrs(ctx context.Context) []slog.Attr {
	if r, ok := ctx.Value(callLogKey{}).(*callReport); ok {
		return r.ctxAttrs(nil)
	}
	return nil
}

// appendFields appends to attrs each key/value pair of fields whose key is
// not among the keys of attrs[:n], as logging.Fields.WithUnique does (a
// missing last value is "").
func appendFields(attrs []slog.Attr, n int, fields []any) []slog.Attr {
	for i := 0; i < len(fields); i += 2 {
		k, _ := fields[i].(string)
		var v any = ""
		if i+1 < len(fields) {
			v = fields[i+1]
		}
		if !hasAttr(attrs[:n], k) {
			attrs = append(attrs, slog.Any(k, v))
		}
	}
	return attrs
}

// hasAttr reports whether one of attrs has the key k.
func hasAttr(attrs []slog.Attr, k string) bool {
	for _, a := range attrs {
		if a.Key == k {
			return true
		}
	}
	return false
}
