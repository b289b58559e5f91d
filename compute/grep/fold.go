package grep

// foldFinder finds a lower-cased literal in text that is not lower-cased:
// the first place where the text, ASCII letters lower-cased, equals it
// (Horspool's search, with a shift table that holds both cases of each
// letter). It gives what bytes.Index(lowerCopy(text), lit) gives without
// the lower-cased copy of the text: for a literal of foldFinderMin bytes
// or more, about twice as fast as lowering and then bytes.Index.
type foldFinder struct {
	lit  []byte // lower-cased
	skip [256]uint8
}

// foldFinderMin is the shortest literal a foldFinder is used for: below
// that its shifts are too short to beat lowering and bytes.Index (SIMD).
const foldFinderMin = 6

// newFoldFinder returns the finder of lit (lower-cased, at least one
// byte). Shifts are capped at 255: a longer literal only skips less.
func newFoldFinder(lit []byte) *foldFinder {
	f := &foldFinder{lit: lit}
	n := len(lit)
	for i := range f.skip {
		f.skip[i] = uint8(min(n, 255))
	}
	for i := max(0, n-256); i < n-1; i++ {
		s := uint8(n - 1 - i)
		c := lit[i]
		f.skip[c] = s
		if 'a' <= c && c <= 'z' {
			f.skip[c-32] = s
		}
	}
	return f
}

// index returns the first position of f.lit in text, compared with its
// ASCII letters lower-cased, or -1.
func (f *foldFinder) index(text []byte) int {
	lit := f.lit
	n := len(lit)
	last := lit[n-1] | 0x20 // a candidate: its last byte is lit's in either case (or a neighbour)
	for i := n - 1; i < len(text); {
		c := text[i]
		if c|0x20 == last && equalFold(text[i-n+1:i+1], lit) {
			return i - n + 1
		}
		i += int(f.skip[c])
	}
	return -1
}

// equalFold reports whether b, ASCII letters lower-cased, equals lit.
func equalFold(b, lit []byte) bool {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lit[i] {
			return false
		}
	}
	return true
}
