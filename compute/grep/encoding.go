package grep

import (
	"encoding/binary"
	"unicode/utf8"
)

// lowerASCII writes src with ASCII upper-case letters lower-cased to dst
// (len(dst) >= len(src)), 32 bytes at a time: four independent words a
// round, which the CPU works on at once (twice the speed of one word).
func lowerASCII(dst, src []byte) {
	i := 0
	for ; i+32 <= len(src); i += 32 {
		s, d := src[i:i+32], dst[i:i+32]
		a := binary.LittleEndian.Uint64(s)
		b := binary.LittleEndian.Uint64(s[8:])
		c := binary.LittleEndian.Uint64(s[16:])
		e := binary.LittleEndian.Uint64(s[24:])
		binary.LittleEndian.PutUint64(d, lowerWord(a))
		binary.LittleEndian.PutUint64(d[8:], lowerWord(b))
		binary.LittleEndian.PutUint64(d[16:], lowerWord(c))
		binary.LittleEndian.PutUint64(d[24:], lowerWord(e))
	}
	for ; i+8 <= len(src); i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], lowerWord(binary.LittleEndian.Uint64(src[i:])))
	}
	for ; i < len(src); i++ {
		c := src[i]
		if 'A' <= c && c <= 'Z' {
			c += 32
		}
		dst[i] = c
	}
}

// lowerWord is eight bytes with their ASCII upper-case letters lower-cased.
func lowerWord(x uint64) uint64 {
	const ones = 0x0101010101010101
	h := x & (0x7f * ones)
	ge := h + (0x80-'A')*ones          // high bit: byte&0x7f >= 'A'
	gt := h + (0x80-'Z'-1)*ones        // high bit: byte&0x7f > 'Z'
	m := ge &^ gt &^ x & (0x80 * ones) // 'A' <= byte <= 'Z'
	return x | m>>2
}

// lowerCopy returns b with ASCII letters lower-cased (other bytes as they are).
func lowerCopy(b []byte) []byte {
	l := make([]byte, len(b))
	lowerASCII(l, b)
	return l
}

// hasHigh reports whether b has a byte >= 0x80.
func hasHigh(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return true
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// widen encodes each byte as the UTF-8 of the rune of the same number, so
// that RE2 sees one character per byte.
func widen(dst, src []byte) []byte {
	dst = dst[:0]
	for _, c := range src {
		if c < 0x80 {
			dst = append(dst, c)
		} else {
			dst = append(dst, 0xC0|c>>6, 0x80|c&0x3F)
		}
	}
	return dst
}

// narrow undoes widen, appending to dst.
func narrow(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		r, n := utf8.DecodeRune(src[i:])
		dst = append(dst, byte(r))
		i += n
	}
	return dst
}
