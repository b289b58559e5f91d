package server

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// recordingStream is a server stream that keeps what a handler set on it
// through the chain's wrappers.
type recordingStream struct {
	grpc.ServerStream
	ctx                     context.Context
	header, sent, trailer   metadata.MD
	setHeaderN, sendHeaderN int
}

func (s *recordingStream) Context() context.Context { return s.ctx }
func (s *recordingStream) SetHeader(md metadata.MD) error {
	s.setHeaderN++
	s.header = metadata.Join(s.header, md)
	return nil
}
func (s *recordingStream) SendHeader(md metadata.MD) error {
	s.sendHeaderN++
	s.sent = md
	return nil
}
func (s *recordingStream) SetTrailer(md metadata.MD) { s.trailer = metadata.Join(s.trailer, md) }

// recordHandler keeps the records it is handed.
type recordHandler struct{ recs []slog.Record }

func (*recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

type streamValueKey struct{}

// TestStreamReporterContext: the context a stream handler gets through the
// chain's reporting and auth layers is its stream's: its values (the
// peer, an earlier interceptor's logging fields, any other), its deadline
// and its cancellation; the header and trailer calls reach the stream;
// and the call's line has the handler's fields and, as its time, the
// call's end: after the handler returned, before the interceptor did.
func TestStreamReporterContext(t *testing.T) {
	lines := &recordHandler{}
	rep := callReporter{m: NewMetrics(prometheus.NewRegistry()).ServerMetrics(), l: NewCallLog(slog.New(lines))}
	authIC := loadTokens(t, "tok\n").streamInterceptor()

	dl := time.Now().Add(time.Hour)
	parent, cancel := context.WithDeadline(context.Background(), dl)
	defer cancel()
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 4242}
	ctx := peer.NewContext(parent, &peer.Peer{Addr: addr})
	ctx = logging.InjectFields(ctx, logging.Fields{"outer.field", "o"})
	ctx = context.WithValue(ctx, streamValueKey{}, "v")
	ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", "Bearer tok"))
	ss := &recordingStream{ctx: ctx}
	info := &grpc.StreamServerInfo{FullMethod: "/test.Echo/Collect", IsClientStream: true}

	var handlerEnd time.Time
	handler := func(_ any, s grpc.ServerStream) error {
		hctx := s.Context()
		if v := hctx.Value(streamValueKey{}); v != "v" {
			t.Errorf("a value of the stream's context: %v", v)
		}
		if p, ok := peer.FromContext(hctx); !ok || p.Addr != addr {
			t.Errorf("peer %v %v", p, ok)
		}
		if md, _ := metadata.FromIncomingContext(hctx); md.Get("authorization")[0] != "Bearer tok" {
			t.Errorf("incoming metadata %v", md)
		}
		if got, ok := hctx.Deadline(); !ok || !got.Equal(dl) {
			t.Errorf("deadline %v %v, want %v", got, ok, dl)
		}
		keys := []string{}
		for _, a := range callLogAttrs(hctx) {
			keys = append(keys, a.Key)
		}
		if !slices.Contains(keys, "outer.field") || !slices.Contains(keys, "peer.address") {
			t.Errorf("the call's log fields %v", keys)
		}
		AddLogFields(hctx, "h.a", 1)
		AddLogFields(hctx, "h.b", 2)
		if err := s.SetHeader(metadata.Pairs("h1", "a")); err != nil {
			t.Error(err)
		}
		if err := s.SendHeader(metadata.Pairs("h2", "b")); err != nil {
			t.Error(err)
		}
		s.SetTrailer(metadata.Pairs("t1", "c"))
		if hctx.Err() != nil {
			t.Errorf("Err before the cancel: %v", hctx.Err())
		}
		cancel() // as grpc-go cancels the stream when its client does
		select {
		case <-hctx.Done():
		case <-time.After(defaultTestTimeout): // a failure only, never a wait
			t.Error("the handler's context is not done when its stream's is")
		}
		if hctx.Err() != context.Canceled || context.Cause(hctx) != context.Canceled {
			t.Errorf("Err %v, Cause %v", hctx.Err(), context.Cause(hctx))
		}
		handlerEnd = time.Now()
		return nil
	}
	err := rep.stream()(nil, ss, info, func(srv any, s grpc.ServerStream) error {
		return authIC(srv, s, info, handler)
	})
	returned := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if ss.setHeaderN != 1 || ss.header.Get("h1")[0] != "a" || ss.sendHeaderN != 1 || ss.sent.Get("h2")[0] != "b" || ss.trailer.Get("t1")[0] != "c" {
		t.Errorf("header %v (%d) sent %v (%d) trailer %v", ss.header, ss.setHeaderN, ss.sent, ss.sendHeaderN, ss.trailer)
	}
	if len(lines.recs) != 1 {
		t.Fatalf("%d lines", len(lines.recs))
	}
	r := lines.recs[0]
	if r.Time.Before(handlerEnd) || r.Time.After(returned) {
		t.Errorf("line time %v, not the call's end: the handler returned at %v, the interceptor at %v", r.Time, handlerEnd, returned)
	}
	var got []string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "grpc.duration", "grpc.request.deadline":
			got = append(got, a.Key)
		default:
			got = append(got, a.Key+"="+a.Value.String())
		}
		return true
	})
	want := []string{"grpc.service=test.Echo", "grpc.method=Collect", "grpc.method_type=client_stream",
		"outer.field=o", "peer.address=127.0.0.9:4242", "grpc.request.deadline", "h.b=2", "h.a=1",
		"grpc.code=OK", "grpc.duration"}
	if !slices.Equal(got, want) {
		t.Errorf("line fields\n got %v\nwant %v", got, want)
	}
}
