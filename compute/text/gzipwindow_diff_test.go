package text_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/halfclose/halfclose/compute/internal/computetest"
)

// lengthCodes are deflate's length symbols 257..285: base and extra bits.
var lengthCodes = [29][2]int{
	{3, 0}, {4, 0}, {5, 0}, {6, 0}, {7, 0}, {8, 0}, {9, 0}, {10, 0}, {11, 1}, {13, 1},
	{15, 1}, {17, 1}, {19, 2}, {23, 2}, {27, 2}, {31, 2}, {35, 3}, {43, 3}, {51, 3}, {59, 3},
	{67, 4}, {83, 4}, {99, 4}, {115, 4}, {131, 5}, {163, 5}, {195, 5}, {227, 5}, {258, 0},
}

// anyMatch writes a match of any length 3..258 at distance d (1..32768)
// with the fixed code; long258 writes 258 as symbol 284 and 31 extra,
// which GNU and Go read as 258 too.
func (w *deflateBits) anyMatch(length, d int, long258 bool) {
	if length == 258 && long258 {
		w.fixedSym(284)
		w.bits(31, 5)
	} else {
		for c := len(lengthCodes) - 1; c >= 0; c-- {
			if lengthCodes[c][0] <= length {
				w.fixedSym(257 + c)
				w.bits(uint32(length-lengthCodes[c][0]), uint(lengthCodes[c][1]))
				break
			}
		}
	}
	w.distance(d)
}

// align pads w to a byte boundary.
func (w *deflateBits) align() {
	if w.nacc > 0 {
		w.bits(0, 8-w.nacc)
	}
}

// craftedDeflate is a deflate stream of fixed and stored blocks of about
// size bytes whose matches often reach back before its first byte.
func craftedDeflate(r *rand.Rand, size int) []byte {
	var w deflateBits
	pos := 0
	for {
		last := pos >= size || r.IntN(4) == 0
		w.bits(b2u(last), 1)
		if r.IntN(5) == 0 { // a stored block
			w.bits(0, 2)
			w.align()
			n := r.IntN(min(max(size-pos, 0), 40000) + 1)
			w.bits(uint32(n), 16)
			w.bits(uint32(^n&0xffff), 16)
			for range n {
				w.bits(uint32('a'+r.IntN(26)), 8)
			}
			pos += n
		} else {
			w.bits(1, 2)
			end := pos + r.IntN(max(size-pos, 0)+2)
			for pos < end {
				switch r.IntN(4) {
				case 0:
					w.fixedSym(r.IntN(256))
					pos++
				case 1: // before the member's start, when it can
					d := 1 + r.IntN(gnuWindowSize)
					if pos < gnuWindowSize && r.IntN(3) > 0 {
						d = pos + 1 + r.IntN(gnuWindowSize-pos)
					}
					if r.IntN(8) == 0 {
						d = gnuWindowSize
					}
					l := 3 + r.IntN(256)
					w.anyMatch(l, d, r.IntN(2) == 0)
					pos += l
				default:
					if pos == 0 {
						continue
					}
					l := 3 + r.IntN(256)
					w.anyMatch(l, 1+r.IntN(min(pos, 300)), r.IntN(2) == 0)
					pos += l
				}
			}
			w.fixedSym(256)
		}
		if last {
			break
		}
	}
	w.align()
	return w.out
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// dictDeflate is data deflated by Go's flate (dynamic blocks) with a
// random dictionary, from which data takes pieces: its matches reach
// before its start.
func dictDeflate(r *rand.Rand, size int) []byte {
	dict := make([]byte, gnuWindowSize)
	for i := range dict {
		dict[i] = byte('a' + r.IntN(4))
	}
	var data []byte
	for len(data) < size {
		if r.IntN(2) == 0 {
			at := r.IntN(len(dict) - 300)
			data = append(data, dict[at:at+3+r.IntN(290)]...)
		} else {
			data = append(data, byte(r.IntN(256)))
		}
	}
	var b bytes.Buffer
	fw, _ := flate.NewWriterDict(&b, 1+r.IntN(9), dict)
	fw.Write(data)
	fw.Close()
	return b.Bytes()
}

// TestGunzipWindowDiffGNU: random multi-member streams whose crafted
// members reach back before their start (fixed and stored blocks, and
// Go's dynamic blocks with a dictionary), of sizes about GNU's window and
// around its wrap, among ordinary members; some with bits flipped, some
// with trailing bytes. The output and status are GNU gzip 1.12's.
// HALFCLOSE_GUNZIP_CASES runs more cases.
func TestGunzipWindowDiffGNU(t *testing.T) {
	t.Parallel()
	cases := 24
	if n, err := strconv.Atoi(os.Getenv("HALFCLOSE_GUNZIP_CASES")); err == nil {
		cases = n
	}
	seed := uint64(7)
	if n, err := strconv.ParseUint(os.Getenv("HALFCLOSE_GUNZIP_SEED"), 10, 64); err == nil {
		seed = n
	}
	r := rand.New(rand.NewPCG(seed, 99))
	sizes := []int{0, 1, 100, gnuWindowSize - 1, gnuWindowSize, gnuWindowSize + 1, 40000, 70000}
	size := func() int {
		if r.IntN(2) == 0 {
			return sizes[r.IntN(len(sizes))]
		}
		return r.IntN(3 * gnuWindowSize)
	}
	for ci := range cases {
		var stream, plain []byte
		ok := true
		for range 1 + r.IntN(5) {
			switch r.IntN(3) {
			case 0: // an ordinary member
				b := make([]byte, size())
				for i := range b {
					b[i] = byte('0' + r.IntN(10))
				}
				var z bytes.Buffer
				zw := gzip.NewWriter(&z)
				zw.Write(b)
				zw.Close()
				stream, plain = append(stream, z.Bytes()...), append(plain, b...)
				continue
			case 1:
				stream = append(stream, gzipMember(craftedDeflate(r, size()), nil)...)
			default:
				stream = append(stream, gzipMember(dictDeflate(r, size()), nil)...)
			}
			// GNU's output with a placeholder trailer is the member's data.
			out, _, _ := computetest.GNUStderr(t, stream, "gunzip", "-c")
			if len(out) < len(plain) || !bytes.Equal(out[:len(plain)], plain) {
				t.Logf("case %d: GNU printed %d bytes, the members before it %d", ci, len(out), len(plain))
				ok = false
				break
			}
			data := out[len(plain):]
			stream = append(stream[:len(stream)-8], gzipMember(nil, data)[10:]...)
			plain = append(plain, data...)
		}
		if !ok {
			continue
		}
		switch r.IntN(6) {
		case 0:
			stream = append(stream, "garbage"...)
		case 1:
			stream = append(stream, make([]byte, 5)...)
		}
		diffGunzipStatus(t, stream, "gunzip", "-c")
		if r.IntN(3) == 0 {
			diffGunzipStatus(t, stream, "zcat", "-f")
		}
		for range r.IntN(3) {
			bad := bytes.Clone(stream)
			for range 1 + r.IntN(3) {
				i := r.IntN(len(bad) * 8)
				bad[i/8] ^= 1 << (i % 8)
			}
			diffGunzipStatus(t, bad, "gunzip", "-c")
		}
		if t.Failed() {
			t.Fatalf("case %d (seed %d) differs", ci, seed)
		}
	}
}

// TestGunzipFlipDiffGNU: members whose deflate data has bits flipped,
// their trailer made from what GNU decodes (a first run with a
// placeholder gives it), are read as GNU reads them: the same output, or
// a failure where GNU fails for more than the trailer.
func TestGunzipFlipDiffGNU(t *testing.T) {
	t.Parallel()
	cases := 100
	if n, err := strconv.Atoi(os.Getenv("HALFCLOSE_GUNZIP_CASES")); err == nil {
		cases = n
	}
	seed := uint64(8)
	if n, err := strconv.ParseUint(os.Getenv("HALFCLOSE_GUNZIP_SEED"), 10, 64); err == nil {
		seed = n
	}
	r := rand.New(rand.NewPCG(seed, 98))
	compared := 0
	for ci := range cases {
		size := []int{10, 300, 5000, gnuWindowSize + 10}[r.IntN(4)]
		var deflate []byte
		switch r.IntN(3) {
		case 0:
			deflate = craftedDeflate(r, size)
		case 1:
			deflate = dictDeflate(r, size)
		default:
			b := make([]byte, size)
			for i := range b {
				b[i] = byte('a' + r.IntN(3+r.IntN(20)))
			}
			var z bytes.Buffer
			fw, _ := flate.NewWriter(&z, 1+r.IntN(9))
			fw.Write(b)
			fw.Close()
			deflate = z.Bytes()
		}
		// Flips in the first bytes: the block headers and code lengths.
		for range 1 + r.IntN(2) {
			i := r.IntN(min(len(deflate), 64) * 8)
			deflate[i/8] ^= 1 << (i % 8)
		}
		out, diag, status := computetest.GNUStderr(t, gzipMember(deflate, nil), "gunzip", "-c")
		if status != 1 || !slices.Contains(diag, "gzip: stdin: invalid compressed data--crc error") {
			diffGunzipStatus(t, gzipMember(deflate, nil), "gunzip", "-c")
			continue
		}
		compared++
		diffGunzipStatus(t, gzipMember(deflate, out), "gunzip", "-c")
		if t.Failed() {
			t.Fatalf("case %d (seed %d) differs: deflate %x", ci, seed, deflate[:min(len(deflate), 64)])
		}
	}
	t.Logf("%d of %d decoded by GNU", compared, cases)
}
