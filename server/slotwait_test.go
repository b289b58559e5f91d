package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
)

// goneAtStop is a slotWaiter whose watch finds its client gone only as
// the wait ends: it never calls abort (the wait's slot came first), and
// its stop reports the reset, as watchReset's does when the getsockopt
// that found it ran as stop began. That getsockopt cleared the socket's
// error, after which the job's reads would have taken the reset for a FIN.
type goneAtStop struct {
	watching chan struct{}
	gone     error
}

func (w *goneAtStop) watchWait(context.Context, func(error)) func() error {
	close(w.watching)
	return func() error { return w.gone }
}

// TestSlotWaitGoneAsSlotFrees: a client whose end the watch reports as
// its job's slot frees is refused with the reset, never run on what it
// sent, and the slot is given back; a client the watch found nothing
// wrong with gets its slot.
func TestSlotWaitGoneAsSlotFrees(t *testing.T) {
	eng := engine.New(engine.Config{Registry: builtin.Registry(), MaxJobs: 1, QueueWait: time.Hour})
	ctx := context.Background()
	for _, gone := range []error{&connReadError{errors.New("connection reset by peer")}, nil} {
		hold, err := eng.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		w := &goneAtStop{watching: make(chan struct{}), gone: gone}
		l := &lifecycle{engine: eng, waiter: w}
		go func() {
			<-w.watching // the job waits, watched: its slot frees
			hold()
		}()
		release, err := l.acquireWatched(ctx, "192.0.2.1")
		if gone != nil {
			if err != gone || release != nil {
				t.Fatalf("gone client: %v (a release %v); want the reset %v", err, release != nil, gone)
			}
			if n := eng.Running(); n != 0 {
				t.Fatalf("%d slots held after the gone client's refusal, want 0", n)
			}
			continue
		}
		if err != nil || release == nil {
			t.Fatalf("present client: %v; want its slot", err)
		}
		release()
	}
}

// goneAsStopped is a slotWaiter whose watch finds its client gone as the
// wait ends, and the server's forced stop ends the job's context just
// then: after the watch's stop looked at the context (watchWait: it then
// left the connection's read deadline cleared, for the job's reads) and
// before acquireWatched does. The slot the wait took meanwhile must not
// go to the job: the watch's getsockopt cleared the reset, so the job's
// reads would take what the client sent for its whole input until the
// forced stop's own deadline came.
type goneAsStopped struct {
	watching chan struct{}
	stop     context.CancelFunc
	gone     error
}

func (w *goneAsStopped) watchWait(context.Context, func(error)) func() error {
	close(w.watching)
	return func() error {
		w.stop()
		return w.gone
	}
}

// TestSlotWaitGoneAsServerStops: a client whose end the watch reports as
// its wait ends is refused, its slots given back, even when the server's
// forced stop ends the job's context at that moment; the refusal is then
// recorded as the stop (lifecycle.stopped). The job was given the slot,
// and ran on a connection whose reset the watch had cleared.
func TestSlotWaitGoneAsServerStops(t *testing.T) {
	eng := engine.New(engine.Config{Registry: builtin.Registry(), MaxJobs: 1, QueueWait: time.Hour})
	hold, err := eng.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gone := &connReadError{errors.New("connection reset by peer")}
	w := &goneAsStopped{watching: make(chan struct{}), stop: cancel, gone: gone}
	l := &lifecycle{engine: eng, waiter: w, stopping: ctx}
	go func() {
		<-w.watching // the job waits, watched: its slot frees
		hold()
	}()
	release, err := l.acquireWatched(ctx, "192.0.2.1")
	if release != nil {
		release()
		t.Fatalf("a client found gone as the server stopped: given its slot (err %v); want it refused", err)
	}
	if err == nil {
		t.Fatal("a client found gone as the server stopped: no error")
	}
	if n := eng.Running(); n != 0 {
		t.Fatalf("%d slots held after the gone client's refusal, want 0", n)
	}
	if got := l.stopped(context.Background(), err); got != errShuttingDown {
		t.Errorf("recorded as %v; want %v", got, errShuttingDown)
	}
}
