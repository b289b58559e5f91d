package client

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/engine"
)

// panickingReader gives n bytes, then panics.
type panickingReader struct{ n int }

func (p *panickingReader) Read(b []byte) (int, error) {
	if p.n <= 0 {
		panic("boom in the caller's reader")
	}
	n := min(len(b), p.n)
	p.n -= n
	return n, nil
}

// TestReaderPanicIsAnInputError: the input is read on a goroutine of the
// client's, where the caller cannot recover a panic of its reader; such
// a panic is the input's error (naming the panic), the call cancelled or
// the connection reset, never its end proven. Before, it ended the
// caller's process.
func TestReaderPanicIsAnInputError(t *testing.T) {
	c := newBufconnClient(t, engine.Config{})
	var out bytes.Buffer
	var re *readError
	_, err := c.Run(ctxT(t), "sha256sum", &panickingReader{n: 5000}, &out)
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "boom in the caller's reader") || out.Len() != 0 {
		t.Errorf("Run: %v, %d bytes out; want the input error naming the panic, and nothing", err, out.Len())
	}
	_, err = c.Digest(ctxT(t), &panickingReader{n: 5000}, []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_MD5}, nil)
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "boom in the caller's reader") {
		t.Errorf("Digest: %v; want the input error naming the panic", err)
	}
	l := serveTCP(t)
	out.Reset()
	err = RunTCP(ctxT(t), l.Addr().String(), nil, "sha256sum", &panickingReader{n: 5000}, &out)
	if !errors.Is(err, errReadInput) || !strings.Contains(err.Error(), "boom in the caller's reader") || out.Len() != 0 {
		t.Errorf("RunTCP: %v, %d bytes out; want the input error naming the panic, and nothing", err, out.Len())
	}
}
