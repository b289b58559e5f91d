package server

import (
	"context"
	"testing"
	"time"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/engine"
)

// TestCapabilitiesSubMillisecond: a duration under a millisecond is
// reported as 1 ms, not as the 0 that says the limit is off (no idle
// timeout, no idle close, no raw-TCP port, pings at any interval) or,
// for job_wait_ms, that a job over the slots is refused at once. Each was
// rounded down to 0: --grpc-conn-idle 500us closed idle connections after
// 500 µs where Capabilities said never. Whole milliseconds are still
// rounded down, and an engine's refusal at once (a negative QueueWait) is
// still 0.
func TestCapabilitiesSubMillisecond(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{{time.Nanosecond, 1}, {500 * time.Microsecond, 1}, {time.Millisecond, 1}, {1999 * time.Microsecond, 1}, {2 * time.Millisecond, 2}} {
		svc := NewComputeService(engine.New(engine.Config{Registry: testRegistry(), QueueWait: tc.d}), Options{
			IdleTimeout: tc.d, HeaderTimeout: tc.d,
			Edge: EdgeLimits{GRPCConnIdle: tc.d, KeepaliveMinTime: tc.d, TCPFinWait: tc.d},
		})
		caps, err := svc.Capabilities(context.Background(), &apiv1.CapabilitiesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		l := caps.GetLimits()
		for name, got := range map[string]int64{
			"idle_timeout_ms": l.GetIdleTimeoutMs(), "header_timeout_ms": l.GetHeaderTimeoutMs(), "job_wait_ms": l.GetJobWaitMs(),
			"grpc_conn_idle_ms": l.GetGrpcConnIdleMs(), "keepalive_min_time_ms": l.GetKeepaliveMinTimeMs(), "tcp_fin_wait_ms": l.GetTcpFinWaitMs(),
		} {
			if got != tc.want {
				t.Errorf("%v: Limits.%s = %d, want %d", tc.d, name, got, tc.want)
			}
		}
	}
	svc := NewComputeService(engine.New(engine.Config{Registry: testRegistry(), QueueWait: -1}), Options{})
	caps, err := svc.Capabilities(context.Background(), &apiv1.CapabilitiesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if l := caps.GetLimits(); l.GetJobWaitMs() != 0 || l.GetIdleTimeoutMs() != 0 || l.GetGrpcConnIdleMs() != 0 {
		t.Errorf("refusal at once, no timeouts: %v", l)
	}
}
