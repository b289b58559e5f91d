package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/halfclose/halfclose/compute"
)

func TestOutcome(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, OutcomeOK},
		{compute.Invalidf("bad"), OutcomeInvalid},
		{compute.Exhaustedf("too many"), OutcomeLimit},
		{compute.Errorf(compute.CodeDataLoss, "size"), OutcomeDataLoss},
		{errNoEnd, OutcomeAborted},
		{fmt.Errorf("stage: %w", errNoLastChunk), OutcomeAborted},
		{errShuttingDown, OutcomeUnavailable},
		{context.Canceled, OutcomeCanceled},
		{status.Error(codes.Canceled, "x"), OutcomeCanceled},
		{&connReadError{errIdle(1)}, OutcomeIdle},
		{&connReadError{compute.Errorf(compute.CodeDeadline, "header timeout")}, OutcomeIdle},
		{&connReadError{fmt.Errorf("read: %w", syscall.ECONNRESET)}, OutcomeReset},
		{&connReadError{io.ErrClosedPipe}, OutcomeReset},
		{fmt.Errorf("write: %w", syscall.EPIPE), OutcomeReset},
		{fmt.Errorf("write: %w", syscall.ETIMEDOUT), OutcomeReset},
		{&net.OpError{Op: "readfrom", Net: "tcp", Err: os.NewSyscallError("sendfile", syscall.EHOSTUNREACH)}, OutcomeReset},
		{errors.New("something else"), OutcomeInternal},
	} {
		if got := outcome(tc.err); got != tc.want {
			t.Errorf("outcome(%v) = %q, want %q", tc.err, got, tc.want)
		}
		if !validOutcome(outcome(tc.err)) {
			t.Errorf("outcome(%v) is not a metrics outcome", tc.err)
		}
	}
}

func TestCommandLabel(t *testing.T) {
	for in, want := range map[string]string{
		"sha256sum":            "sha256sum",
		"grep|sort|uniq":       CommandPipeline,
		"digest:sha256":        "sha256sum",
		"digest:blake2b":       "b2sum",
		"digest:blake3":        "b3sum",
		"digest:md5,sha1":      CommandOther,
		"digest:no-such-thing": CommandOther,
	} {
		if got := commandLabel(in); got != want {
			t.Errorf("commandLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestObserverAndConnHook(t *testing.T) {
	if NewObserver(nil) != nil || (*Metrics)(nil).ConnHook() != nil {
		t.Fatal("nil metrics must give a nil observer and hook")
	}
	reg := NewRegistry()
	m := NewMetrics(reg)
	obs, hook := NewObserver(m), m.ConnHook()
	hook(1)
	hook(1)
	hook(-1)
	obs.JobStarted("digest:sha256")(OutcomeOK, 10, 0)
	obs.JobStarted("wc|sha256sum")(outcome(&connReadError{syscall.ECONNRESET}), 3, 0)
	fams := scrape(t, reg)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"halfclose_jobs_total", map[string]string{"command": "sha256sum", "outcome": "ok"}, 1},
		{"halfclose_jobs_total", map[string]string{"command": "pipeline", "outcome": "reset"}, 1},
		{"halfclose_input_bytes_total", nil, 13},
		{"halfclose_jobs_in_flight", nil, 0},
		{"halfclose_tcp_connections", nil, 1},
		{"halfclose_tcp_connections_total", nil, 2},
	} {
		if got := metricValue(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}
