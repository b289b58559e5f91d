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
