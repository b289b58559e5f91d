package engine_test

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
)

// takerSource hands over its data in chunks of k bytes, each in a buffer
// of its own that it spoils once given back (as an adapter would reuse
// it), and counts what was taken and given back.
type takerSource struct {
	mu          sync.Mutex
	data        []byte
	k           int
	taken, done int
}

func (s *takerSource) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), s.k)], s.data)
	s.data = s.data[n:]
	return n, nil
}

func (s *takerSource) TakeChunk() ([][]byte, func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.data) == 0 {
		return nil, nil, io.EOF
	}
	n := min(len(s.data), s.k)
	buf := bytes.Clone(s.data[:n])
	s.data = s.data[n:]
	s.taken++
	// Two segments, as a gRPC message in frames.
	segs := [][]byte{buf[:n/2], buf[n/2:]}
	return segs, func() {
		s.mu.Lock()
		s.done++
		s.mu.Unlock()
		for i := range buf {
			buf[i] = 0xEE
		}
	}, nil
}

func (s *takerSource) counts() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.taken, s.done
}

// A stage that copies its input gets the source's chunks without a copy,
// in order, and gives each back once, after using it; the input limit
// holds; a read-ahead that starts while chunks are handed over (the reply
// past its memory) keeps the order.
func TestEngineTakesChunks(t *testing.T) {
	input := computetest.RandomBytes(5, 300<<10+17)
	t.Run("copy", func(t *testing.T) {
		src := &takerSource{data: input, k: 16 << 10}
		var out bytes.Buffer
		if _, err := engine.New(engine.Config{}).Run(context.Background(), testPipeline(copyStage), src, &out); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), input) {
			t.Fatalf("output of %d bytes differs from the input", out.Len())
		}
		if taken, done := src.counts(); taken == 0 || taken != done {
			t.Fatalf("%d chunks taken, %d given back", taken, done)
		}
	})
	t.Run("read ahead starts", func(t *testing.T) {
		src := &takerSource{data: input, k: 1000}
		want := make([]byte, 0, 64*len(input))
		for _, c := range input {
			want = append(want, bytes.Repeat([]byte{c}, 64)...)
		}
		e := engine.New(engine.Config{Spool: compute.SpoolConfig{MemBytes: 64 << 10, Dir: t.TempDir(), Disk: compute.NewDiskBudget(1 << 30)}})
		var out bytes.Buffer
		if _, err := e.Run(context.Background(), testPipeline(copyStage, expandStage(64)), src, &out); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("output of %d bytes differs from the %d expected", out.Len(), len(want))
		}
		if taken, done := src.counts(); taken != done {
			t.Fatalf("%d chunks taken, %d given back", taken, done)
		}
	})
	t.Run("limit", func(t *testing.T) {
		src := &takerSource{data: make([]byte, 1001), k: 300}
		var out bytes.Buffer
		_, err := engine.New(engine.Config{MaxInputBytes: 1000}).Run(context.Background(), testPipeline(copyStage), src, &out)
		if compute.CodeOf(err) != compute.CodeResourceExhausted || out.Len() != 0 {
			t.Fatalf("err = %v, %d bytes out; want RESOURCE_EXHAUSTED and nothing", err, out.Len())
		}
		if taken, done := src.counts(); taken != done {
			t.Fatalf("%d chunks taken, %d given back", taken, done)
		}
	})
}
