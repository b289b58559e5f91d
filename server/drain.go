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
// errShuttingDown as its cause once the drain begins. A call that arrives
// once it has begun is refused with that error (UNAVAILABLE): let in, its
// context ended, grpc-go failed the handler's first receive with CANCELED
// "context canceled", as if its client had left.
func (s *computeService) untilDrain(ctx context.Context) (context.Context, error) {
	if s.draining.Err() != nil {
		return nil, toStatus(s.log, errShuttingDown)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(s.draining, func() { cancel(errShuttingDown) })
	context.AfterFunc(ctx, func() { stop() }) // the call ended first: forget it
	return ctx, nil
}

func (s *computeService) Drain() { s.drain() }

// DrainingHealth is h whose Watch ends with UNAVAILABLE "server is shutting
// down" when Service.Drain ends it (grpc-go's own ends such a call with
// CANCELED "Stream has ended.", which says the client left). The clients
// have seen NOT_SERVING before that: the drain sets it first, and the
// Watch sends the status h has as it ends, if it had not sent it yet.
func DrainingHealth(h healthpb.HealthServer) healthpb.HealthServer { return drainingHealth{h} }

type drainingHealth struct{ healthpb.HealthServer }

func (h drainingHealth) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	ws := &sentStatus{Health_WatchServer: stream, last: -1}
	err := h.HealthServer.Watch(req, ws)
	if err == nil || context.Cause(stream.Context()) != errShuttingDown {
		return err
	}
	// grpc-go's Watch picks at random between a status it has yet to
	// send and the end of its context: a watch whose goroutine ran only
	// once both were there (the drain follows health's NOT_SERVING
	// within microseconds) ended without it half the time.
	st := healthpb.HealthCheckResponse_SERVICE_UNKNOWN // as Watch says of a service it does not know
	r, cerr := h.HealthServer.Check(context.WithoutCancel(stream.Context()), req)
	switch {
	case cerr == nil:
		st = r.GetStatus()
	case status.Code(cerr) != codes.NotFound:
		st = ws.last
	}
	if st != ws.last {
		_ = stream.Send(&healthpb.HealthCheckResponse{Status: st}) // a client gone is told nothing anyway
	}
	return status.Error(codes.Unavailable, "server is shutting down")
}

// sentStatus is a Watch stream that remembers the last status it sent
// (-1: none). Only the Watch's goroutine sends.
type sentStatus struct {
	healthpb.Health_WatchServer
	last healthpb.HealthCheckResponse_ServingStatus
}

func (s *sentStatus) Send(r *healthpb.HealthCheckResponse) error {
	err := s.Health_WatchServer.Send(r)
	if err == nil {
		s.last = r.GetStatus()
	}
	return err
}
