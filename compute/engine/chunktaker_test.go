package engine_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/digest"
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

// A Digest of several algorithms lends the source's chunks to every hash
// as they lie (no copy into blocks of its own) and gives each back once,
// after every hash has read it (the source spoils a chunk given back, so
// a hash reading it later would get another digest); cancellation, a
// size past the declared one and the input limit give every chunk back
// too. The oracles are Go's crypto packages, one hash at a time.
func TestDigestLendsChunks(t *testing.T) {
	input := computetest.RandomBytes(11, 5<<20+17)
	var algos []*digest.Algo
	for _, n := range []string{"sha256", "sha1", "md5", "blake3"} {
		a, ok := digest.Lookup(n)
		if !ok {
			t.Fatal(n)
		}
		algos = append(algos, a)
	}
	s256, s1, m5 := sha256.Sum256(input), sha1.Sum(input), md5.Sum(input)
	want := [][]byte{s256[:], s1[:], m5[:]}
	for _, k := range []int{1 << 20, 100 << 10, 1000} {
		src := &takerSource{data: input, k: k}
		res, err := engine.New(engine.Config{}).Digest(t.Context(), engine.DigestJob{Algos: algos, ExpectedSize: -1}, src)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range want {
			if !bytes.Equal(res.Sums[i], w) {
				t.Errorf("chunks of %d: %s %x, want %x", k, algos[i].Name, res.Sums[i], w)
			}
		}
		if taken, done := src.counts(); taken != (len(input)+k-1)/k || done != taken {
			t.Errorf("chunks of %d: %d taken, %d given back, want %d each", k, taken, done, (len(input)+k-1)/k)
		}
	}
	t.Run("aborts", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for _, c := range []struct {
			ctx   context.Context
			job   engine.DigestJob
			limit int64
			want  error // or the error's code
			code  compute.Code
		}{
			{ctx, engine.DigestJob{Algos: algos, ExpectedSize: -1}, 0, context.Canceled, 0},
			{t.Context(), engine.DigestJob{Algos: algos, ExpectedSize: 3 << 20}, 0, nil, compute.CodeDataLoss},
			{t.Context(), engine.DigestJob{Algos: algos, ExpectedSize: -1}, 4 << 20, nil, compute.CodeResourceExhausted},
		} {
			src := &takerSource{data: input, k: 1 << 20}
			res, err := engine.New(engine.Config{MaxInputBytes: c.limit}).Digest(c.ctx, c.job, src)
			if err == nil || res.Sums != nil || (c.want != nil && !errors.Is(err, c.want)) || compute.CodeOf(err) != c.code {
				t.Errorf("%+v: err %v, sums %x; want %v (code %v) and none", c.job, err, res.Sums, c.want, c.code)
			}
			if taken, done := src.counts(); taken != done {
				t.Errorf("%+v: %d taken, %d given back", c.job, taken, done)
			}
		}
	})
}
