package server

import (
	"context"
	"strings"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// Calls that run no job but stay open as long as their client likes: a
// health Watch (grpcurl's, or a client's own health checking) and a server
// reflection stream (grpcui, evans, grpcurl while its call runs). A graceful
// stop waits for every call, so one of these held the drain for the whole
// --shutdown-grace, and then the forced stop cut it. Drain ends them
// instead, as the graceful stop begins.

// endsAtDrain reports whether a call of method is one Drain ends.
func endsAtDrain(method string) bool {
	return method == "/grpc.health.v1.Health/Watch" || strings.HasPrefix(method, "/grpc.reflection.")
}

// untilDrain is the context of a call that Drain ends: ctx, cancelled with
// errShuttingDown as its cause once the drain begins.
func (s *computeService) untilDrain(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(s.draining, func() { cancel(errShuttingDown) })
	context.AfterFunc(ctx, func() { stop() }) // the call ended first: forget it
	return ctx
}

func (s *computeService) Drain() { s.drain() }

// DrainingHealth is h whose Watch ends with UNAVAILABLE "server is shutting
// down" when Service.Drain ends it (grpc-go's own ends such a call with
// CANCELED "Stream has ended.", which says the client left). The clients
// have seen NOT_SERVING before that: the drain sets it first.
func DrainingHealth(h healthpb.HealthServer) healthpb.HealthServer { return drainingHealth{h} }

type drainingHealth struct{ healthpb.HealthServer }

func (h drainingHealth) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	err := h.HealthServer.Watch(req, stream)
	if err != nil && context.Cause(stream.Context()) == errShuttingDown {
		return status.Error(codes.Unavailable, "server is shutting down")
	}
	return err
}
