package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
)

// TestRecvAheadPanicIsAnError: a panic in the source a recvAhead
// receives from on its own goroutine (grpc-go's RecvMsg, a message's
// checks) is the error the job reads after the bytes received before it,
// an internal one naming the panic; Wait returns (goleak checks the loop ended: its
// goroutine is gone or parked, aheadworkers.go). Before, it ended the process.
func TestRecvAheadPanicIsAnError(t *testing.T) {
	calls := 0
	r := newRecvAhead(context.Background(), messageSource(func() ([]byte, *heldData, error) {
		if calls++; calls > 1 {
			panic("boom in the source")
		}
		return []byte("abc"), nil, nil
	}), 0, 0)
	defer r.Close()
	got, err := io.ReadAll(r)
	if string(got) != "abc" || compute.CodeOf(err) != compute.CodeInternal || !strings.Contains(fmt.Sprint(err.(*compute.Error).Err), "boom in the source") {
		t.Fatalf("read %q, %v; want abc and an internal error naming the panic", got, err)
	}
	testenv.Within(t, hangTimeout, "the reader goroutine's end", r.Wait)
}

// fullThenPanic fills the first read, then panics on every read.
type fullThenPanic struct{ read bool }

func (f *fullThenPanic) Read(p []byte) (int, error) {
	if f.read {
		panic("boom in the connection")
	}
	f.read = true
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func (f *fullThenPanic) Close() error { return nil }

// TestConnInputPanicIsAnError: a panic in the connection's Read, which a
// plain TCP job's own goroutine calls (a digest's TakeChunk, a filter's
// Read), fails that job with an internal error naming the panic, not the
// process.
func TestConnInputPanicIsAnError(t *testing.T) {
	eng := engine.New(engine.Config{Registry: builtin.Registry()})
	for _, text := range []string{"sha256sum", "grep -c y"} {
		t.Run(text, func(t *testing.T) {
			p, err := eng.Compile(text)
			if err != nil {
				t.Fatal(err)
			}
			c := newConnInput(&fullThenPanic{}, nil)
			c.queued = func() int { return 1 << 30 } // the socket always has more
			var out strings.Builder
			_, err = eng.Run(context.Background(), p, c, &out)
			var ce *compute.Error
			if !errors.As(err, &ce) || ce.Code != compute.CodeInternal || !strings.Contains(fmt.Sprint(ce.Err), "boom in the connection") || out.Len() != 0 {
				t.Fatalf("reply %q, %v; want none and an internal error naming the panic", out.String(), err)
			}
		})
	}
}
