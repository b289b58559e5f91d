package server

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/testenv"
)

// A reader's idle timer is stopped whenever a wait is over: a timer left
// running stays in the runtime's timer heap, reachable, until it fires —
// with a 1-minute timeout, a minute's worth of calls' timers for every GC
// to scan.
func TestStreamReaderStopsIdleTimer(t *testing.T) {
	msgs := [][]byte{[]byte("abc"), []byte("def")}
	r := newRecvAhead(context.Background(), messageSource(func() ([]byte, *heldData, error) {
		if len(msgs) == 0 {
			return nil, nil, io.EOF
		}
		b := msgs[0]
		msgs = msgs[1:]
		return b, nil, nil
	}), 0, time.Minute)
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || string(got) != "abcdef" {
		t.Fatalf("read %q, %v", got, err)
	}
	if r.timer == nil {
		t.Fatal("no idle timer was used")
	}
	if r.timer.Stop() {
		t.Error("the idle timer was still running after the input ended")
	}
}

// blockingReader returns its data in reads of at most 3 bytes, then
// blocks until it is closed.
type blockingReader struct {
	data   []byte
	closed chan struct{}
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if len(b.data) == 0 {
		<-b.closed
		return 0, errReaderClosed
	}
	n := copy(p[:min(len(p), 3)], b.data)
	b.data = b.data[n:]
	return n, nil
}

func (b *blockingReader) Close() error { close(b.closed); return nil }

// A reader source gets token buffers to read into; WriteTo hands them on
// whole; Close unblocks a read that waits on the client, and Wait returns
// once the receiving goroutine is done with the source.
func TestRecvAheadReaderSource(t *testing.T) {
	src := &blockingReader{data: []byte("0123456789abcdefghij"), closed: make(chan struct{})}
	r := newRecvAhead(context.Background(), readerSource{src}, 8, 0)
	got := make([]byte, 20)
	if _, err := io.ReadFull(r, got); err != nil || string(got) != "0123456789abcdefghij" {
		t.Fatalf("read %q, %v", got, err)
	}
	r.Close()
	if _, err := r.Read(got); !errors.Is(err, errReaderClosed) {
		t.Fatalf("Read after Close: %v, want errReaderClosed", err)
	}
	testenv.Within(t, hangTimeout, "the receive-ahead goroutine's end after Close", r.Wait)
}

// The end of a job's context fails a Read that waits.
func TestRecvAheadContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	src := &blockingReader{closed: make(chan struct{})}
	r := newRecvAhead(ctx, readerSource{src}, 8, 0)
	cancel()
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read: %v, want context.Canceled", err)
	}
	testenv.Within(t, hangTimeout, "the receive-ahead goroutine's end after Close", r.Wait)
}

// A gRPC stream's first receive, which nothing but the stream's end can
// unblock (guardedSource.close does nothing), does not watch the job's
// context for it: the AfterFunc was two allocations and the context's
// lock a call, for nothing. The input is as received, the empty one and
// an error alike.
func TestRecvAheadGuardedFirstNoWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, end := range []error{io.EOF, errIdle(time.Second)} {
		src := func() guardedSource {
			return guardedSource{recv: func() ([]byte, *heldData, error) { return nil, nil, end }}
		}
		made := testing.AllocsPerRun(100, func() { newRecvAhead(ctx, src(), 0, time.Minute) })
		primed := testing.AllocsPerRun(100, func() {
			r := newRecvAhead(ctx, src(), 0, time.Minute)
			if err := r.prime(); err != nil && end == io.EOF || err != end && end != io.EOF {
				t.Fatalf("prime: %v, want %v", err, end)
			}
		})
		// One allocation is compute.CodeOf's (errors.As) of the end, an
		// AfterFunc two more.
		if primed-made > 1 {
			t.Errorf("end %v: a reader allocates %v, %v with its first receive", end, made, primed)
		}
		r := newRecvAhead(ctx, src(), 0, time.Minute)
		if n, err := r.Read(make([]byte, 1)); n != 0 || err != end {
			t.Errorf("Read: %d, %v; want 0, %v", n, err, end)
		}
	}
}
