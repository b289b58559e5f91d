package grep

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
)

// SWAR constants: a byte of 0x01, of 0x80, in every lane of a word.
const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

// indexPair is bytes.Index(hay, lit), where candidates are the positions s
// with hay[s+i] == lit[i] and hay[s+j] == lit[j] (i < j), tested 8
// positions to a word, 32 to a step: two rare bytes of lit make a
// candidate much rarer than any one of them, and the test costs the same
// per byte however often the bytes occur (bytes.IndexByte, SIMD, pays for
// every occurrence of its byte).
func indexPair(hay, lit []byte, i, j int) int {
	n := len(lit)
	if len(hay) < n {
		return -1
	}
	a, b := swarLo*uint64(lit[i]), swarLo*uint64(lit[j])
	h1, h2 := hay[i:], hay[j:]
	// candidates s..s+31 need h2[s:s+32]: s+32 <= len(hay)-j, and
	// len(hay)-n+1 <= len(hay)-j
	end := len(hay) - n + 1
	s, fails := 0, 0
	for ; s+32 <= end; s += 32 {
		p, q := (*[32]byte)(h1[s:s+32]), (*[32]byte)(h2[s:s+32])
		x0 := (binary.LittleEndian.Uint64(p[0:8]) ^ a) | (binary.LittleEndian.Uint64(q[0:8]) ^ b)
		x1 := (binary.LittleEndian.Uint64(p[8:16]) ^ a) | (binary.LittleEndian.Uint64(q[8:16]) ^ b)
		x2 := (binary.LittleEndian.Uint64(p[16:24]) ^ a) | (binary.LittleEndian.Uint64(q[16:24]) ^ b)
		x3 := (binary.LittleEndian.Uint64(p[24:32]) ^ a) | (binary.LittleEndian.Uint64(q[24:32]) ^ b)
		// a zero lane is a candidate; (x-lo)&^x&hi is not zero iff x
		// has a zero lane
		if ((x0-swarLo)&^x0|(x1-swarLo)&^x1|(x2-swarLo)&^x2|(x3-swarLo)&^x3)&swarHi == 0 {
			continue
		}
		for k, x := range [4]uint64{x0, x1, x2, x3} {
			for z := zeroLanes(x); z != 0; z &= z - 1 {
				c := s + 8*k + bits.TrailingZeros64(z)>>3
				if bytes.Equal(hay[c:c+n], lit) {
					return c
				}
				if fails++; fails > 16 && fails > c>>4 {
					// more than one candidate in 16 bytes (the text is
					// not like the sample): bytes.Index's fallbacks
					// keep a long literal's search linear
					if i := bytes.Index(hay[c+1:], lit); i >= 0 {
						return c + 1 + i
					}
					return -1
				}
			}
		}
	}
	if k := bytes.Index(hay[s:], lit); k >= 0 {
		return s + k
	}
	return -1
}

// indexPairFold is indexPair for lit lower-cased in text that is not:
// the first place where the text, ASCII letters lower-cased, equals lit
// (ff.index's answer), its candidates lit[i] and lit[j] in either case.
func indexPairFold(hay, lit []byte, i, j int, ff *foldFinder) int {
	n := len(lit)
	if len(hay) < n {
		return -1
	}
	a, b := swarLo*uint64(lit[i]), swarLo*uint64(lit[j])
	// a letter's byte with 0x20 set is its lower case: or-ed in, both
	// cases compare equal to lit's (lower) byte
	var fa, fb uint64
	if 'a' <= lit[i] && lit[i] <= 'z' {
		fa = swarLo * 0x20
	}
	if 'a' <= lit[j] && lit[j] <= 'z' {
		fb = swarLo * 0x20
	}
	h1, h2 := hay[i:], hay[j:]
	end := len(hay) - n + 1
	s, fails := 0, 0
	for ; s+32 <= end; s += 32 {
		p, q := (*[32]byte)(h1[s:s+32]), (*[32]byte)(h2[s:s+32])
		x0 := ((binary.LittleEndian.Uint64(p[0:8]) | fa) ^ a) | ((binary.LittleEndian.Uint64(q[0:8]) | fb) ^ b)
		x1 := ((binary.LittleEndian.Uint64(p[8:16]) | fa) ^ a) | ((binary.LittleEndian.Uint64(q[8:16]) | fb) ^ b)
		x2 := ((binary.LittleEndian.Uint64(p[16:24]) | fa) ^ a) | ((binary.LittleEndian.Uint64(q[16:24]) | fb) ^ b)
		x3 := ((binary.LittleEndian.Uint64(p[24:32]) | fa) ^ a) | ((binary.LittleEndian.Uint64(q[24:32]) | fb) ^ b)
		if ((x0-swarLo)&^x0|(x1-swarLo)&^x1|(x2-swarLo)&^x2|(x3-swarLo)&^x3)&swarHi == 0 {
			continue
		}
		for k, x := range [4]uint64{x0, x1, x2, x3} {
			for z := zeroLanes(x); z != 0; z &= z - 1 {
				c := s + 8*k + bits.TrailingZeros64(z)>>3
				if equalFold(hay[c:c+n], lit) {
					return c
				}
				if fails++; fails > 16 && fails > c>>4 {
					if i := ff.index(hay[c+1:]); i >= 0 {
						return c + 1 + i
					}
					return -1
				}
			}
		}
	}
	if k := ff.index(hay[s:]); k >= 0 {
		return s + k
	}
	return -1
}

// zeroLanes returns the high bit of each zero byte of x, exactly.
func zeroLanes(x uint64) uint64 {
	return ^((x&^swarHi + ^uint64(swarHi)) | x | ^uint64(swarHi))
}

// litFinder is how one literal is searched for in text that is not
// widened: chosen by planFinder on a sample of the text.
type litFinder struct {
	k    int  // indexAnchored's anchor (0: bytes.Index), when !pair
	pair bool // indexPair on lit[i] and lit[j]
	i, j int
	// ff, when set, is the foldFinder of lit (lower-cased), searched for
	// in text that is not: its letters match in either case, by ff or,
	// when pair, by indexPairFold.
	ff *foldFinder
	// word is lit (2 to 8 bytes, led by lit[0]) as a little-endian word
	// under mask, for indexWord; mask is 0 when bytes.Index runs.
	word, mask uint64
}

// index is small enough to be inlined: it runs once per match.
func (f *litFinder) index(hay, lit []byte) int {
	switch {
	case f.ff != nil && f.pair:
		return indexPairFold(hay, lit, f.i, f.j, f.ff)
	case f.ff != nil:
		return f.ff.index(hay)
	case f.pair:
		return indexPair(hay, lit, f.i, f.j)
	case f.k == 0 && f.mask != 0:
		return indexWord(hay, lit, f.word, f.mask)
	case f.k == 0:
		return bytes.Index(hay, lit)
	}
	return indexAnchored(hay, lit, f.k)
}

// The cost model of planFinder, in nanoseconds, measured on the bench
// log (BenchmarkFinders): bytes.IndexByte scans about 30 bytes a
// nanosecond but pays about 25 ns for each occurrence of its byte (a
// call, a mispredicted branch, a check); indexPair scans about 6 bytes a
// nanosecond and pays about 45 ns for each candidate.
const (
	costByteScan = 1 // per 30 bytes
	costByteHit  = 25
	costPairScan = 5 // per 30 bytes
	costPairHit  = 45
	// costFoldScan: a foldFinder (Horspool) scans about 3 bytes a
	// nanosecond on the bench log.
	costFoldScan = 10 // per 30 bytes
	// pairsFrom is how many of lit's rarest positions (by the sample's
	// byte histogram) make the pairs planFinder tries: their pairs, and
	// each with its neighbours (adjacent bytes are the most correlated).
	pairsFrom = 6
)

// planFinder returns the cheapest way to search for lit in text like
// sample (h is its histogram) by the cost model above: the candidates
// each way are counted in the sample.
func planFinder(lit, sample []byte, h *[256]int) litFinder {
	k := anchorOf(lit, h)
	f := bestPair(litFinder{k: k}, len(sample)/30*costByteScan+h[lit[k]]*costByteHit, lit, sample, h)
	if !f.pair && f.k == 0 {
		f.setWord(lit)
	}
	return f
}

// setWord sets f.word and f.mask for lit, when it is 2 to 8 bytes.
func (f *litFinder) setWord(lit []byte) {
	if len(lit) < 2 || len(lit) > 8 {
		return
	}
	var b [8]byte
	copy(b[:], lit)
	f.word = binary.LittleEndian.Uint64(b[:])
	f.mask = ^uint64(0) >> (64 - 8*len(lit))
}

// planFoldFinder is planFinder for a literal of a fold set searched for
// in text that is not lower-cased: ff (lit's foldFinder) or a pair of
// lit's bytes in either case. low is a sample of the text lower-cased,
// h its histogram.
func planFoldFinder(lit, low []byte, h *[256]int, ff *foldFinder) litFinder {
	f := bestPair(litFinder{}, len(low)/30*costFoldScan, lit, low, h)
	f.ff = ff
	return f
}

// bestPair returns the pair of lit's bytes whose search costs least on
// sample, or best when none costs less than bestCost.
func bestPair(best litFinder, bestCost int, lit, sample []byte, h *[256]int) litFinder {
	pairScan := len(sample) / 30 * costPairScan
	if len(lit) < 2 || bestCost <= pairScan {
		return best
	}
	pos := make([]int, len(lit))
	for i := range pos {
		pos[i] = i
	}
	slices.SortStableFunc(pos, func(a, b int) int { return h[lit[a]] - h[lit[b]] })
	pos = pos[:min(len(pos), pairsFrom)]
	try := func(i, j int) {
		if i > j {
			i, j = j, i
		}
		if i == j || i < 0 || j >= len(lit) {
			return
		}
		if c := pairScan + countPair(sample, lit, i, j)*costPairHit; c < bestCost {
			best, bestCost = litFinder{pair: true, i: i, j: j}, c
		}
	}
	for x, i := range pos {
		for _, j := range pos[x+1:] {
			try(i, j)
		}
		if !slices.Contains(pos, i-1) {
			try(i-1, i)
		}
		if !slices.Contains(pos, i+1) {
			try(i, i+1)
		}
	}
	return best
}

// countPair returns how many positions s of hay have hay[s+i] == lit[i]
// and hay[s+j] == lit[j]: indexPair's candidates.
func countPair(hay, lit []byte, i, j int) int {
	n := len(lit)
	if len(hay) < n {
		return 0
	}
	a, b := swarLo*uint64(lit[i]), swarLo*uint64(lit[j])
	h1, h2 := hay[i:], hay[j:]
	end := len(hay) - n + 1
	c := 0
	s := 0
	for ; s+8 <= end; s += 8 {
		x := (binary.LittleEndian.Uint64(h1[s:s+8]) ^ a) | (binary.LittleEndian.Uint64(h2[s:s+8]) ^ b)
		c += bits.OnesCount64(zeroLanes(x))
	}
	for ; s < end; s++ {
		if h1[s] == lit[i] && h2[s] == lit[j] {
			c++
		}
	}
	return c
}

// lastNewline is bytes.LastIndexByte(b, '\n') a word at a time (that one
// is a loop over bytes): a matching line's start is found from the match
// back, usually a few dozen bytes.
func lastNewline(b []byte) int {
	const nl = swarLo * '\n'
	i := len(b)
	for ; i >= 8; i -= 8 {
		if z := zeroLanes(binary.LittleEndian.Uint64(b[i-8:i]) ^ nl); z != 0 {
			return i - 8 + (63-bits.LeadingZeros64(z))>>3
		}
	}
	for i--; i >= 0; i-- {
		if b[i] == '\n' {
			return i
		}
	}
	return -1
}

// indexWord is bytes.Index(hay, lit) for a lit of 2 to 8 bytes, word
// its bytes as a little-endian word under mask: the candidates are where
// IndexByte finds lit[0], each compared as one word, not by bytes.Index's
// call of Equal (a frequent literal, INFO on every other line of the
// bench log, has a candidate per line: bytes.Index, IndexByte and
// memequal were three calls for each, now one).
func indexWord(hay, lit []byte, word, mask uint64) int {
	c := lit[0]
	for i, fails := 0, 0; ; {
		j := bytes.IndexByte(hay[i:], c)
		if j < 0 {
			return -1
		}
		i += j
		if i+8 <= len(hay) {
			if (binary.LittleEndian.Uint64(hay[i:i+8])^word)&mask == 0 {
				return i
			}
		} else if k := bytes.Index(hay[i:], lit); k >= 0 { // the last 7 bytes
			return i + k
		} else {
			return -1
		}
		i++
		if fails++; fails > 16 && fails > i>>4 {
			// more than one candidate in 16 bytes: bytes.Index's
			// brute force is faster
			if k := bytes.Index(hay[i:], lit); k >= 0 {
				return i + k
			}
			return -1
		}
	}
}
