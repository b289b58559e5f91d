package engine_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/digest"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
)

// Tests found missing by a mutation hunt: an abort of the input (an error
// from the source, a cancelled job, the input limit) never yields a
// result, whichever way the engine reads the source.

var errCut = errors.New("connection reset by peer")

// abortingSource yields data, then end (io.EOF or an abort). It hides or
// offers io.WriterTo (the adapters' sources hand their buffers over that
// way).
type abortingSource struct {
	data []byte
	end  error
}

func (s *abortingSource) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, s.end
	}
	n := copy(p, s.data)
	s.data = s.data[n:]
	return n, nil
}

// writerToSource is an abortingSource with WriteTo: it writes its data in
// two pieces, then returns its end (nil for io.EOF, as WriteTo does).
type writerToSource struct{ abortingSource }

func (s *writerToSource) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for len(s.data) > 0 {
		n, err := w.Write(s.data[:(len(s.data)+1)/2])
		total += int64(n)
		s.data = s.data[n:]
		if err != nil {
			return total, err
		}
	}
	if s.end == io.EOF {
		return total, nil
	}
	return total, s.end
}

// sources returns the ways to read data ending in end.
func sources(data []byte, end error) map[string]func() io.Reader {
	return map[string]func() io.Reader{
		"Read":    func() io.Reader { return &abortingSource{bytes.Clone(data), end} },
		"WriteTo": func() io.Reader { return &writerToSource{abortingSource{bytes.Clone(data), end}} },
	}
}

var sha256Algo = &digest.Algo{Name: "sha256", Size: sha256.Size, New: sha256.New}

// TestDigestAbortIsNoResult: a Digest job whose source fails, or whose
// context is done, or whose input passes the limit by one byte, returns
// that error and no sums; one byte less is a result.
func TestDigestAbortIsNoResult(t *testing.T) {
	data := computetest.RandomBytes(3, 100_000)
	job := engine.DigestJob{Algos: []*digest.Algo{sha256Algo}, ExpectedSize: -1}
	for name, src := range sources(data, errCut) {
		res, err := engine.New(engine.Config{}).Digest(t.Context(), job, src())
		if !errors.Is(err, errCut) || res.Sums != nil {
			t.Errorf("%s, source fails: sums %x, err %v; want no sums and the source's error", name, res.Sums, err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for name, src := range sources(data, io.EOF) {
		res, err := engine.New(engine.Config{}).Digest(ctx, job, src())
		if !errors.Is(err, context.Canceled) || res.Sums != nil {
			t.Errorf("%s, job cancelled: sums %x, err %v; want no sums and context.Canceled", name, res.Sums, err)
		}
	}
	limit := int64(len(data))
	want := sha256.Sum256(data)
	for name, src := range sources(data, io.EOF) {
		res, err := engine.New(engine.Config{MaxInputBytes: limit}).Digest(t.Context(), job, src())
		if err != nil || len(res.Sums) != 1 || !bytes.Equal(res.Sums[0], want[:]) {
			t.Errorf("%s, input at the limit: sums %x, err %v; want the digest", name, res.Sums, err)
		}
		res, err = engine.New(engine.Config{MaxInputBytes: limit - 1}).Digest(t.Context(), job, src())
		if compute.CodeOf(err) != compute.CodeResourceExhausted || res.Sums != nil {
			t.Errorf("%s, input one byte over the limit: sums %x, err %v; want RESOURCE_EXHAUSTED", name, res.Sums, err)
		}
	}
}

// TestRunAbortIsNoOutput: a Run job whose source fails writes nothing,
// whether the source is read or writes itself to the stages (WriteTo),
// and returns the source's error.
func TestRunAbortIsNoOutput(t *testing.T) {
	for _, size := range []int{10, 100_000} {
		data := computetest.RandomBytes(4, size)
		for name, src := range sources(data, errCut) {
			var out bytes.Buffer
			_, err := engine.New(engine.Config{}).Run(t.Context(), testPipeline(copyStage), src(), &out)
			if !errors.Is(err, errCut) || out.Len() != 0 {
				t.Errorf("%s, %d bytes: %d bytes written, err %v; want nothing and the source's error", name, size, out.Len(), err)
			}
		}
	}
}
