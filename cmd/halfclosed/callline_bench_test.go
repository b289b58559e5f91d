package main

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// callRecord is a gRPC call's "finished call" line as the chain logs a
// 1 KiB Digest call (server.CallLog).
func callRecord(t time.Time) slog.Record {
	r := slog.NewRecord(t, slog.LevelInfo, "finished call", 0)
	r.AddAttrs(
		slog.String("grpc.service", "halfclose.v1.ComputeService"),
		slog.String("grpc.method", "Digest"),
		slog.String("grpc.method_type", "client_stream"),
		slog.String("peer.address", "127.0.0.1:37096"),
		slog.String("grpc.request.deadline", "2026-12-05T09:20:24Z"),
		slog.Attr{Key: "job", Value: slog.GroupValue(
			slog.String("id", "57TPRSLQB7IRGPE6"), slog.String("command", "digest:sha256"),
			slog.Int64("in_bytes", 1024), slog.Int64("out_bytes", 32),
			slog.Duration("duration", 10777), slog.String("outcome", "ok"))},
		slog.String("grpc.code", "OK"),
		slog.Duration("grpc.duration", 16033))
	return r
}

// BenchmarkCallLine is what writing a gRPC call's line costs through
// lineHandler, JSON and text.
func BenchmarkCallLine(b *testing.B) {
	for _, bc := range []struct {
		name string
		h    slog.Handler
	}{
		{"line-json", newLineHandler(discard{}, true, nil)},
		{"line-text", newLineHandler(discard{}, false, nil)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			rec := callRecord(time.Now())
			for b.Loop() {
				bc.h.Handle(context.Background(), rec)
			}
		})
	}
}

// BenchmarkCallLineParts is what writing a gRPC call's line costs
// lineHandler behind the log buffer (halfclosed's way), made and handed
// over as a slog.Record (the chain's way before) and as its parts
// (server.AttrsHandler).
func BenchmarkCallLineParts(b *testing.B) {
	var attrs []slog.Attr
	callRecord(time.Time{}).Attrs(func(a slog.Attr) bool { attrs = append(attrs, a); return true })
	for _, parts := range []bool{false, true} {
		b.Run(map[bool]string{false: "record", true: "parts"}[parts], func(b *testing.B) {
			b.ReportAllocs()
			buf := newLogBuffer(discard{}, time.Hour)
			defer buf.Close()
			h := flushHandler{newLineHandler(buf, true, nil), buf}
			ctx := context.Background()
			for b.Loop() {
				now := time.Now()
				if parts {
					h.HandleAttrs(ctx, now, slog.LevelInfo, "finished call", attrs)
				} else {
					r := slog.NewRecord(now, slog.LevelInfo, "finished call", 0)
					r.AddAttrs(attrs...)
					h.Handle(ctx, r)
				}
			}
		})
	}
}
