// Package grpcopts holds the gRPC transport settings both ends use for bulk
// streams, so the server and the client agree on them.
package grpcopts

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/experimental"
)

// Flow-control windows and socket buffers for bulk uploads. gRPC's default
// (a 64 KiB window grown by BDP estimation) keeps a fast sender waiting on
// WINDOW_UPDATEs; static windows let a stream have several MiB in flight.
// They also bound what one stream or connection can buffer in the server.
const (
	streamWindow   = 8 << 20
	connWindow     = 16 << 20
	transportBufSz = 256 << 10
)

// ServerOptions are the transport options halfclosed serves with.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.InitialWindowSize(streamWindow),
		grpc.InitialConnWindowSize(connWindow),
		grpc.ReadBufferSize(transportBufSz),
		grpc.WriteBufferSize(transportBufSz),
		experimental.BufferPool(DirtyPool),
	}
}

// DialOptions are the matching client options (the client package
// uses the same values).
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithInitialWindowSize(streamWindow),
		grpc.WithInitialConnWindowSize(connWindow),
		grpc.WithReadBufferSize(transportBufSz),
		grpc.WithWriteBufferSize(transportBufSz),
	}
}
