package server

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The rate-limit interceptors are ours rather than go-grpc-middleware's,
// whose message prefixes its own text to the limiter's: a client sees
// exactly RESOURCE_EXHAUSTED "rate limit exceeded for peer", the same
// words as the raw-TCP adapter's error line.

func rateLimitUnary(l *PeerLimiter) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := l.Limit(ctx); err != nil {
			return nil, status.Error(codes.ResourceExhausted, err.Error())
		}
		return handler(ctx, req)
	}
}

func rateLimitStream(l *PeerLimiter) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := l.Limit(ss.Context()); err != nil {
			return status.Error(codes.ResourceExhausted, err.Error())
		}
		return handler(srv, ss)
	}
}
