package text_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
)

// deflateBits writes a deflate stream's bits, LSB first.
type deflateBits struct {
	out  []byte
	acc  uint32
	nacc uint
}

func (w *deflateBits) bits(v uint32, n uint) {
	w.acc |= v << w.nacc
	w.nacc += n
	for w.nacc >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nacc -= 8
	}
}

// code writes a Huffman code of n bits, its first bit the code's most
// significant.
func (w *deflateBits) code(c uint32, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		w.bits(c>>uint(i)&1, 1)
	}
}

// fixedSym writes a literal/length symbol of the fixed Huffman code.
func (w *deflateBits) fixedSym(v int) {
	switch {
	case v < 144:
		w.code(uint32(0x30+v), 8)
	case v < 256:
		w.code(uint32(0x190+v-144), 9)
	case v < 280:
		w.code(uint32(v-256), 7)
	default:
		w.code(uint32(0xc0+v-280), 8)
	}
}

// match writes a match of length 3..10 or 258 at distance d (1..32768).
func (w *deflateBits) match(length, d int) {
	if length == 258 {
		w.fixedSym(285)
	} else {
		w.fixedSym(254 + length) // 257 is length 3, no extra bits to 264
	}
	w.distance(d)
}

// distance writes distance d (1..32768) with the fixed code: its 5-bit
// code, then its extra bits.
func (w *deflateBits) distance(d int) {
	code, base := 0, 1
	for c := 0; c < 30; c++ {
		extra := 0
		if c >= 4 {
			extra = c/2 - 1
		}
		if d < base+1<<extra {
			code = c
			break
		}
		base += 1 << extra
	}
	w.code(uint32(code), 5)
	if code >= 4 {
		w.bits(uint32(d-base), uint(code/2-1))
	}
}

// gzipMember frames a deflate stream as a member whose trailer is data's
// CRC and length.
func gzipMember(deflate, data []byte) []byte {
	m := append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}, deflate...)
	m = binary.LittleEndian.AppendUint32(m, crc32.ChecksumIEEE(data))
	return binary.LittleEndian.AppendUint32(m, uint32(len(data)))
}

// TestGunzipWindowGNU: a member whose matches reach back before its first
// byte, which zlib and Go's flate refuse as too far back, is inflated as
// GNU gzip 1.12 inflates it, from the window its earlier members left
// (zeros where none wrote): the same output and status as GNU, whose own
// output makes the trailer (a first run with a placeholder CRC gives it).
// We refused every one: "invalid compressed data: format violated".
func TestGunzipWindowGNU(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(41, 43))
	text := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + r.IntN(26))
		}
		return b
	}
	// Earlier members: none, a short one, ones that end just before, at
	// and after the window's wrap, and two that wrap it.
	for ci, sizes := range [][]int{nil, {5}, {gnuWindowSize - 1}, {gnuWindowSize}, {gnuWindowSize + 3}, {70001}, {40000, 9}, {0, 100}} {
		var prefix, plain []byte
		for _, n := range sizes {
			b := text(n)
			z, _ := computetest.GNU(t, b, "gzip", "-cn")
			prefix, plain = append(prefix, z...), append(plain, b...)
		}
		// A crafted member: literals and matches, some reaching before
		// its start (at position p, a distance over p), one at the
		// window's full reach.
		var w deflateBits
		w.bits(1, 1) // the last block
		w.bits(1, 2) // fixed Huffman codes
		pos := 0
		for k := 0; k < 12; k++ {
			switch k % 3 {
			case 0:
				w.fixedSym(int('A' + r.IntN(26)))
				pos++
			case 1:
				d := pos + 1 + r.IntN(gnuWindowSize-pos)
				if k == 4 {
					d = gnuWindowSize
				}
				l := []int{3, 7, 10, 258}[r.IntN(4)]
				w.match(l, d)
				pos += l
			default:
				l := 3 + r.IntN(8)
				w.match(l, 1+r.IntN(min(pos, 5)))
				pos += l
			}
		}
		w.fixedSym(256)
		w.bits(0, 7) // to a byte boundary
		deflate := w.out
		// GNU's output with a placeholder trailer is the member's data.
		probe := append(bytes.Clone(prefix), gzipMember(deflate, nil)...)
		out, _, _ := computetest.GNUStderr(t, probe, "gunzip", "-c")
		if len(out) != len(plain)+pos || !bytes.Equal(out[:len(plain)], plain) {
			t.Fatalf("case %d: GNU printed %d bytes, want %d", ci, len(out), len(plain)+pos)
		}
		data := out[len(plain):]
		in := append(bytes.Clone(prefix), gzipMember(deflate, data)...)
		for _, tail := range [][]byte{nil, gzipMember(deflate, data), []byte("garbage")} {
			in := append(bytes.Clone(in), tail...)
			for _, argv := range [][]string{{"gunzip", "-c"}, {"zcat", "-f"}} {
				diffGunzipStatus(t, in, argv...)
			}
		}
		// A wrong CRC fails in both.
		bad := append(bytes.Clone(prefix), gzipMember(deflate, append(bytes.Clone(data), 'x'))...)
		diffGunzipStatus(t, bad, "gunzip", "-c")
	}
}

// diffGunzipStatus compares argv's output and exit status with GNU's:
// GNU's 0 and 2 (a warning) are results, anything else an error.
func diffGunzipStatus(t *testing.T, in []byte, argv ...string) {
	t.Helper()
	want, wantDiag, status := computetest.GNUStderr(t, in, argv...)
	got, st, err := computetest.RunPipelineStats(t, shquote.Join(argv), in)
	switch {
	case status != 0 && status != 2:
		if err == nil {
			t.Errorf("%v: GNU fails (exit %d, %q), we succeed with %d bytes", argv, status, wantDiag, len(got))
		}
	case err != nil:
		t.Errorf("%v: %v; GNU exits %d with %d bytes", argv, err, status, len(want))
	case !bytes.Equal(got, want) || st.ExitStatus != status:
		t.Errorf("%v: %d bytes, status %d; GNU's %d bytes, status %d", argv, len(got), st.ExitStatus, len(want), status)
	}
}

// gnuWindowSize is GNU gzip's WSIZE.
const gnuWindowSize = 32 << 10

// TestGunzipLeadingRepeat pins the one deflate quirk of GNU gzip's not
// followed (docs/protocol.md): a dynamic block whose code lengths begin
// with code 16, a repeat of the previous length where there is none,
// which GNU 1.12 reads as a repeat of 0 and zlib and Go's inflate refuse.
// The same block with 18 (zeros) in its place is read alike by both.
func TestGunzipLeadingRepeat(t *testing.T) {
	t.Parallel()
	block := func(leading16 bool) []byte {
		var w deflateBits
		w.bits(1, 1)  // the last block
		w.bits(2, 2)  // dynamic Huffman codes
		w.bits(0, 5)  // 257 literal/length codes
		w.bits(0, 5)  // 1 distance code
		w.bits(14, 4) // 18 code length codes, in the order 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1
		for _, sym := range []int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1} {
			l := uint32(0)
			if sym == 0 || sym == 1 || sym == 16 || sym == 18 {
				l = 2 // codes 00, 01, 10, 11 for 0, 1, 16, 18
			}
			w.bits(l, 3)
		}
		if leading16 {
			w.code(2, 2) // 16: repeat the previous length 3 times
			w.bits(0, 2)
			w.code(3, 2) // 18: 94 zeros
			w.bits(94-11, 7)
		} else {
			w.code(3, 2) // 18: 97 zeros
			w.bits(97-11, 7)
		}
		w.code(1, 2) // 'a' (97): length 1
		w.code(3, 2) // 158 zeros
		w.bits(138-11, 7)
		w.code(3, 2)
		w.bits(20-11, 7)
		w.code(1, 2) // end of block (256): length 1
		w.code(0, 2) // the distance code: unused
		w.code(0, 1) // 'a'
		w.code(0, 1) // 'a'
		w.code(1, 1) // end of block
		w.bits(0, 7)
		return gzipMember(w.out, []byte("aa"))
	}
	for _, leading16 := range []bool{false, true} {
		in := block(leading16)
		want, _, status := computetest.GNUStderr(t, in, "gunzip", "-c")
		if status != 0 || string(want) != "aa" {
			t.Fatalf("leading 16 %v: GNU exits %d with %q; want 0 and \"aa\"", leading16, status, want)
		}
		got, err := computetest.RunPipeline(t, "gunzip -c", in)
		switch {
		case !leading16 && (err != nil || string(got) != "aa"):
			t.Errorf("no leading 16: %q, %v; want \"aa\"", got, err)
		case leading16 && (err == nil || !strings.Contains(err.Error(), "format violated")):
			t.Errorf("leading 16: %q, %v; want the refusal documented, format violated", got, err)
		}
	}
}
