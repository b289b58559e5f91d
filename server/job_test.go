package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute"
)

// TestJobID: 16 characters of crypto/rand.Text's base32 alphabet, as
// rand.Text()[:16] gave, and no two alike.
func TestJobID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := jobID()
		if len(id) != 16 || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
			t.Fatalf("job id %q", id)
		}
		if seen[id] {
			t.Fatalf("job id %q twice", id)
		}
		seen[id] = true
	}
}

// TestLifecycleStopped: once the server stops its jobs, a job that failed
// because of it (its context, its input closed, a timeout the stop set)
// is UNAVAILABLE, but a verdict on the input itself stays the job's: a
// size that did not match, an end without its proof (DATA_LOSS), a bad
// request, a limit. Before the stop every error is the job's.
func TestLifecycleStopped(t *testing.T) {
	stopping, stop := context.WithCancel(context.Background())
	l := &lifecycle{stopping: stopping}
	errs := []error{
		compute.Invalidf("bad flag"),
		compute.Exhaustedf("input exceeds the limit"),
		compute.Errorf(compute.CodeDataLoss, "received 3 bytes, expected 4"),
		errNoEnd,
		errShuttingDown,
		context.Canceled,
		errIdle(time.Second),
		compute.Errorf(compute.CodeInternal, "spool"),
	}
	for _, err := range errs {
		if got := l.stopped(err); got != err {
			t.Errorf("before the stop: stopped(%v) = %v", err, got)
		}
	}
	if l.stopped(nil) != nil {
		t.Error("stopped(nil) is not nil")
	}
	stop()
	for i, err := range errs {
		want := err
		if i >= 5 {
			want = errShuttingDown
		}
		if got := l.stopped(err); got != want {
			t.Errorf("after the stop: stopped(%v) = %v, want %v", err, got, want)
		}
	}
	if l.stopped(nil) != nil {
		t.Error("after the stop: stopped(nil) is not nil")
	}
}
