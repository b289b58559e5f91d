package client

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/halfclose/halfclose/internal/testenv"
)

// TestSendTCPInputMoreThanSize: an input that holds more than the size
// declared for it (a regular file that grew after its size was taken, or
// whose file system reports less) is an input error, never a FIN after the
// declared bytes, which the server would answer with a result over part
// of the input.
func TestSendTCPInputMoreThanSize(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(io.Discard, c)
	}()
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	var ended atomic.Bool
	_, err = sendTCPInput(context.Background(), conn, "@size=5 @trailer sha256sum\n", strings.NewReader("hello, world"), 5, true, &ended)
	conn.Close()
	testenv.Recv(t, hangTimeout, "the fake server's return after the close", done)
	if !errors.Is(err, errReadInput) {
		t.Fatalf("err = %v, want an input error", err)
	}
	if ended.Load() {
		t.Error("the input was half-closed as if it had ended")
	}
}

// TestSendTCPInputAllocates: a raw-TCP upload takes its write buffer
// (DefaultChunkSize) from a pool, as the chunk buffers and the gRPC
// path's do. Before, each call allocated a new 1 MiB bufio.Writer: a
// list of small files checked with --tcp (halfclose sha256sum -c) spent
// most of its CPU zeroing and collecting them (3000 files: 2.7 CPU-s,
// 0.6 with the pool).
func TestSendTCPInputAllocates(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	const calls = 200
	for _, sized := range []bool{true, false} {
		send := func() {
			conn, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var ended atomic.Bool
			if _, err := sendTCPInput(context.Background(), conn, "@size=5 @trailer sha256sum\n", strings.NewReader("hello"), 5, sized, &ended); err != nil {
				t.Fatal(err)
			}
		}
		send() // the pools' first buffers
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range calls {
			send()
		}
		runtime.ReadMemStats(&after)
		// Under 7/8 of a buffer: with -race, sync.Pool drops a
		// quarter of what it is given (the two pools: half a buffer a
		// call on average); without the pool a call allocates one
		// whole.
		if per := (after.TotalAlloc - before.TotalAlloc) / calls; per >= DefaultChunkSize*7/8 {
			t.Errorf("sized %v: %d bytes allocated a call, want under %d", sized, per, DefaultChunkSize*7/8)
		}
	}
	l.Close()
	testenv.Recv(t, hangTimeout, "the fake server's return after Close", done)
}
