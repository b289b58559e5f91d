package server

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
)

// TestRecvAheadPanicIsAnError: a panic in the source a recvAhead
// receives from on its own goroutine (grpc-go's RecvMsg, a message's
// checks) is the error the job reads after the bytes received before it,
// an internal one naming the panic; Wait returns (goleak checks the
// goroutine is gone). Before, it ended the process.
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
	r.Wait()
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

// TestConnInputReadAheadPanicIsAnError: a panic in the connection's Read
// on the goroutine that reads a TCP job's input ahead is the error the
// job reads after the bytes before it; Wait returns. Before, it ended the
// process.
func TestConnInputReadAheadPanicIsAnError(t *testing.T) {
	c := newConnInput(&fullThenPanic{}, nil)
	c.readsAhead = true
	c.queued = func() int { return 1 << 30 } // the socket always has more: read ahead
	defer c.Wait()
	got, err := io.ReadAll(c)
	if len(got) == 0 || strings.Trim(string(got), "x") != "" || compute.CodeOf(err) != compute.CodeInternal || !strings.Contains(fmt.Sprint(err.(*compute.Error).Err), "boom in the connection") {
		t.Fatalf("read %d bytes, %v; want x's and an internal error naming the panic", len(got), err)
	}
	if c.bursts == 0 {
		t.Error("nothing was read ahead")
	}
}
