package engine

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/digest"
)

// DigestJob is a request for digests of one input.
type DigestJob struct {
	Algos        []*digest.Algo    // to compute, in reply order
	ExpectedSize int64             // exact input size, or -1 for unknown
	Expected     map[string][]byte // raw digests to check, by Algo.Name
}

// DigestResult is what a DigestJob computed.
type DigestResult struct {
	Size int64
	Sums [][]byte // in Algos order
}

// digestSink is where a digest job's input goes: it stops at cancellation
// and as soon as the input passes the declared size, and hashes the rest.
type digestSink struct {
	ctx      context.Context
	expected int64 // -1: unknown
	mh       *digest.MultiHash
}

func (s digestSink) Write(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	if s.expected >= 0 && s.mh.N()+int64(len(p)) > s.expected {
		return 0, compute.Errorf(compute.CodeDataLoss, "input exceeds the expected size of %d bytes", s.expected)
	}
	return s.mh.Write(p)
}

// Digest hashes src as it arrives, with every algorithm in one pass, and
// checks the declared size and digests at the end of input: a mismatch is
// DATA_LOSS, input past the declared size fails as soon as it arrives. An
// error from src other than io.EOF aborts the job with that error. On an
// error the result has no sums, only Size: the bytes read, which the job's
// log line and metrics count as those of any other job.
func (e *Engine) Digest(ctx context.Context, job DigestJob, src io.Reader) (res DigestResult, err error) {
	// A panic in a hash (on this goroutine, or raised again here from a
	// hash's goroutine) fails this job alone, as a stage's does: this
	// goroutine is an adapter's: a gRPC handler's or a TCP connection's,
	// whose recover would fail the call without the job's log line.
	defer func() {
		if v := recover(); v != nil {
			res, err = DigestResult{}, compute.Panicked("digest", v)
		}
	}()
	if len(job.Algos) == 0 {
		return DigestResult{}, compute.Invalidf("digest: no algorithm")
	}
	in := NewInput(src, e.cfg.MaxInputBytes)
	mh := digest.NewMultiHash(job.Algos)
	defer mh.Close()
	// WriteTo hands the adapters' message buffers to the hashes as they
	// are (no copy, no read buffer of our own).
	if _, err := in.WriteTo(digestSink{ctx: ctx, expected: job.ExpectedSize, mh: mh}); err != nil {
		return DigestResult{Size: in.N()}, err
	}
	res = DigestResult{Size: in.N(), Sums: mh.Sums()}
	if job.ExpectedSize >= 0 && res.Size != job.ExpectedSize {
		return DigestResult{Size: res.Size}, compute.Errorf(compute.CodeDataLoss, "received %d bytes, expected %d", res.Size, job.ExpectedSize)
	}
	for i, a := range job.Algos {
		if want, ok := job.Expected[a.Name]; ok && !bytes.Equal(want, res.Sums[i]) {
			return DigestResult{Size: res.Size}, compute.Errorf(compute.CodeDataLoss, "%s digest mismatch: received %s, expected %s", a.Name, hex.EncodeToString(res.Sums[i]), hex.EncodeToString(want))
		}
	}
	return res, nil
}
