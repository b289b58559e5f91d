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
