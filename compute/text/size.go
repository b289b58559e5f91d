package text

import (
	"math"
	"strings"
)

// parseSize parses a count as GNU's xstrtoumax with the suffixes
// "bkKmMGTPEZY0": optional leading blanks and '+', decimal digits, and an
// optional multiplier (b=512, K/k=1024, KB=1000, KiB=1024, M, G, T, P, E,
// Z, Y). A suffix alone means 1 of it. overflow reports a value past
// 2^64-1.
func parseSize(s string, suffixes string) (v uint64, overflow, ok bool) {
	p := strings.TrimLeft(s, " \t\n\v\f\r")
	if strings.HasPrefix(p, "-") {
		return 0, false, false
	}
	q := strings.TrimPrefix(p, "+")
	i := 0
	for i < len(q) && q[i] >= '0' && q[i] <= '9' {
		if v > (math.MaxUint64-uint64(q[i]-'0'))/10 {
			overflow = true
		} else {
			v = v*10 + uint64(q[i]-'0')
		}
		i++
	}
	rest := q[i:]
	if i == 0 {
		// No number: a valid suffix at the very start means 1 of it.
		if s == "" || !strings.ContainsRune(suffixes, rune(s[0])) || s[0] == '0' {
			return 0, false, false
		}
		v, rest = 1, s
	}
	if overflow {
		v = math.MaxUint64
	}
	if rest == "" {
		return v, overflow, true
	}
	if !strings.ContainsRune(suffixes, rune(rest[0])) || rest[0] == '0' {
		return v, overflow, false
	}
	base, n := uint64(1024), 1
	if strings.ContainsRune(suffixes, '0') && len(rest) > 1 {
		if strings.HasPrefix(rest[1:], "iB") {
			n = 3
		} else if rest[1] == 'B' || rest[1] == 'D' {
			base, n = 1000, 2
		}
	}
	var mult uint64
	pow := func(e int) uint64 {
		m := uint64(1)
		for k := 0; k < e; k++ {
			if m > math.MaxUint64/base {
				return 0
			}
			m *= base
		}
		return m
	}
	switch rest[0] {
	case 'b':
		mult = 512
	case 'k', 'K':
		mult = pow(1)
	case 'm', 'M':
		mult = pow(2)
	case 'G':
		mult = pow(3)
	case 'T':
		mult = pow(4)
	case 'P':
		mult = pow(5)
	case 'E':
		mult = pow(6)
	case 'Z':
		mult = pow(7)
	case 'Y':
		mult = pow(8)
	default:
		return v, overflow, false
	}
	if mult == 0 || (v != 0 && v > math.MaxUint64/mult) {
		overflow, v = true, math.MaxUint64
	} else {
		v *= mult
	}
	if len(rest) != n {
		return v, overflow, false
	}
	return v, overflow, true
}
