package server

import (
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync/atomic"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/digest"
	"github.com/halfclose/halfclose/compute/engine"
)

// errUnprovenEnd marks the abort of a stream whose input ended (a gRPC
// END_STREAM, a TCP FIN) without the proof its client promised: an End
// message, the declared @size, the last @chunked chunk. Such an end looks
// exactly like a real one, but the client did not mean it (a grpc-js cancel
// sends END_STREAM before its RST; a killed process sends FIN), so it is an
// abort, counted as OutcomeAborted, and never a result.
var errUnprovenEnd = errors.New("unproven end of input")

// unprovenEnd returns the DATA_LOSS error of such an abort, with msg for
// the client.
func unprovenEnd(msg string) error {
	return &compute.Error{Code: compute.CodeDataLoss, Msg: msg, Err: errUnprovenEnd}
}

// errNoEnd is the abort of a gRPC stream that had to prove its end and
// half-closed without an End message.
var errNoEnd = unprovenEnd("input ended without its End message")

var errDataAfterEnd = compute.Invalidf("data after the End message: only the half-close may follow it")

// endProof checks the proof of the end of one gRPC stream's input as its
// messages arrive: the bytes counted against the header's expected_size
// and the End message's size, and whether an End message came last when
// one is required. It is used by the stream's receiving goroutine only,
// but for received.
type endProof struct {
	required bool  // the header's require_end or the server's --require-end
	expected int64 // the header's expected_size, or -1
	n        int64 // data and text bytes received
	ended    bool  // an End message arrived
	// got is n for the handler's goroutine (received), which may read
	// it while the receiving goroutine still runs.
	got atomic.Int64
	// digests checks an End message's digests and keeps them for the
	// handler; nil refuses any (Run).
	digests func([]*apiv1.ExpectedDigest) error
}

func newEndProof(required bool, expectedSize *int64) *endProof {
	p := &endProof{}
	p.init(required, expectedSize)
	return p
}

// init sets up a zero endProof as newEndProof does.
func (p *endProof) init(required bool, expectedSize *int64) {
	p.required, p.expected = required, -1
	if expectedSize != nil {
		p.expected = *expectedSize
	}
}

// message checks that a message other than an End may come: none may
// after an End, whatever it carries (nothing, an empty chunk).
func (p *endProof) message() error {
	if p.ended {
		return errDataAfterEnd
	}
	return nil
}

// data accounts for n bytes of input.
func (p *endProof) data(n int) error {
	if p.ended {
		return errDataAfterEnd
	}
	p.n += int64(n)
	p.got.Store(p.n)
	if p.expected >= 0 && p.n > p.expected {
		return compute.Errorf(compute.CodeDataLoss, "input exceeds the expected size of %d bytes", p.expected)
	}
	return nil
}

// received returns the data and text bytes received so far, from any
// goroutine.
func (p *endProof) received() int64 { return p.got.Load() }

// countReceived makes a failed job's input count what its stream
// received (st.InputBytes at least): the message that took the input past
// its expected_size failed before the job read it (the job counted 0 of
// a first message of 64 KiB over an expected_size of 1000), and the job's
// log line and metrics count the bytes the client sent, as a raw-TCP
// job's do.
func (p *endProof) countReceived(st engine.Stats, err error) engine.Stats {
	if err != nil {
		st.InputBytes = max(st.InputBytes, p.received())
	}
	return st
}

// end checks an End message against what was received.
func (p *endProof) end(e *apiv1.End) error {
	if p.ended {
		return errDataAfterEnd
	}
	p.ended = true
	if e.GetSize() < 0 {
		return compute.Invalidf("end: negative size %d", e.GetSize())
	}
	if e.GetSize() != p.n {
		return compute.Errorf(compute.CodeDataLoss, "end: the client sent %d bytes, the server received %d", e.GetSize(), p.n)
	}
	if err := p.short(); err != nil {
		// The End agrees with what arrived, but the header promised
		// more: the input is still short (Run answered over it).
		return err
	}
	if len(e.GetDigests()) > 0 {
		if p.digests == nil {
			return compute.Invalidf("end: digests are checked by Digest only; Run checks the size")
		}
		return p.digests(e.GetDigests())
	}
	return nil
}

// eof is what the half-close means: io.EOF, the end of input, when it is
// proven or need not be; else the abort.
func (p *endProof) eof() error {
	if p.ended {
		return io.EOF
	}
	if p.required {
		return errNoEnd
	}
	if err := p.short(); err != nil {
		return err
	}
	return io.EOF
}

// short is the DATA_LOSS of an input that ended before the header's
// expected_size; a longer one failed as its bytes came (data).
func (p *endProof) short() error {
	if p.expected >= 0 && p.n != p.expected {
		return compute.Errorf(compute.CodeDataLoss, "received %d bytes, expected %d", p.n, p.expected)
	}
	return nil
}

// expectedDigest checks one expected digest (of a header or an End
// message; where names it in errors) and returns its algorithm and raw
// value.
func expectedDigest(e *apiv1.ExpectedDigest, where string) (*digest.Algo, []byte, error) {
	al, err := lookupAlgo(e.GetAlgorithm(), where)
	if err != nil {
		return nil, nil, err
	}
	raw := e.GetRaw()
	if h, isHex := e.GetValue().(*apiv1.ExpectedDigest_Hex); isHex {
		// Hex digits of the wrong count (a digest cut or padded when it
		// was pasted) are named as such, not as "not hexadecimal".
		if strings.IndexFunc(h.Hex, notHexDigit) >= 0 {
			return nil, nil, compute.Invalidf("%s: expected %s digest is not hexadecimal", where, e.GetAlgorithm())
		}
		if len(h.Hex) != 2*al.Size {
			return nil, nil, compute.Invalidf("%s: expected %s digest has %d hex digits, want %d", where, e.GetAlgorithm(), len(h.Hex), 2*al.Size)
		}
		raw, _ = hex.DecodeString(h.Hex) // even count of hex digits: cannot fail
	}
	if len(raw) != al.Size {
		return nil, nil, compute.Invalidf("%s: expected %s digest has %d bytes, want %d", where, e.GetAlgorithm(), len(raw), al.Size)
	}
	return al, raw, nil
}

// notHexDigit reports whether r is not a hexadecimal digit (either case).
func notHexDigit(r rune) bool {
	return !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F')
}
