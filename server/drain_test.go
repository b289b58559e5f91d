package server

import (
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/halfclose/halfclose/compute/engine"
)

// TestDrainWatchSeesNotServing: a health Watch ended by the drain has
// sent NOT_SERVING before its UNAVAILABLE, even when its goroutine runs
// only once both the new status and the drain are there (a loaded
// machine: the drain follows health's Shutdown within microseconds).
// grpc-go's Watch picks at random between its pending status and the end
// of its context, so half such watches ended with no NOT_SERVING; here
// each watch's goroutine is held in its Send of SERVING until the drain
// has ended its context. A watch that comes after the drain began is
// refused with that UNAVAILABLE (it was let in with its context ended,
// and grpc-go said CANCELED "context canceled", as of a client that left).
func TestDrainWatchSeesNotServing(t *testing.T) {
	svc := NewComputeService(engine.New(engine.Config{Registry: testRegistry()}), Options{})
	h := health.NewServer()
	srv := grpc.NewServer(grpc.InTapHandle(svc.TapHandle))
	healthpb.RegisterHealthServer(srv, DrainingHealth(heldHealth{h}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(ln)
	}()
	defer func() { srv.Stop(); <-served }()
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	hc := healthpb.NewHealthClient(cc)

	// 1 in 2^20 that the old Watch passes: each is a coin toss.
	const watches = 20
	var ws []healthpb.Health_WatchClient
	for range watches {
		w, err := hc.Watch(jobCtx(t), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := w.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("watch: %v, %v; want SERVING", r, err)
		}
		ws = append(ws, w)
	}
	h.Shutdown() // NOT_SERVING, as the daemon's drain begins
	svc.Drain()
	for range 3 {
		w, err := hc.Watch(jobCtx(t), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	for i, w := range ws {
		var got []healthpb.HealthCheckResponse_ServingStatus
		for {
			r, err := w.Recv()
			if err != nil {
				if status.Code(err) != codes.Unavailable || status.Convert(err).Message() != "server is shutting down" {
					t.Errorf("watch %d: %v; want UNAVAILABLE server is shutting down", i, err)
				}
				break
			}
			got = append(got, r.Status)
		}
		switch {
		case i >= watches:
			if len(got) != 0 {
				t.Errorf("watch %d, after the drain began, saw %v before its end; want none", i, got)
			}
		case len(got) == 0 || got[len(got)-1] != healthpb.HealthCheckResponse_NOT_SERVING:
			t.Errorf("watch %d saw %v before its end; want NOT_SERVING last", i, got)
		}
	}
}

// heldHealth is a health server whose Watch, once it has sent its first
// status, is held until its call's context ends (the drain): its next
// turn finds both the new status and the end ready.
type heldHealth struct{ healthpb.HealthServer }

func (h heldHealth) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	return h.HealthServer.Watch(req, &heldWatch{Health_WatchServer: stream})
}

type heldWatch struct {
	healthpb.Health_WatchServer
	sent bool
}

func (w *heldWatch) Send(r *healthpb.HealthCheckResponse) error {
	err := w.Health_WatchServer.Send(r)
	if !w.sent {
		w.sent = true
		<-w.Context().Done()
	}
	return err
}
