package compute

import (
	"math"
	"strings"
)

// NumErr is the outcome of XStrtoumax and XStrtoimax, as gnulib's
// strtol_error: bits that may combine.
type NumErr uint8

const (
	// NumOK is a number read in full.
	NumOK NumErr = 0
	// NumOverflow is a value out of range: the result is clamped.
	NumOverflow NumErr = 1
	// NumBadSuffix is a number followed by something that is not a valid
	// suffix (the number is still returned).
	NumBadSuffix NumErr = 2
	// NumInvalid is no number at all.
	NumInvalid NumErr = 4
)

// AnySuffix, as the suffixes argument, accepts anything after the number
// and leaves it unread (gnulib's NULL valid_suffixes).
const AnySuffix = "\x00"

// isCSpace is C's isspace in the C locale.
func isCSpace(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' }

// strtoumax reads an unsigned number as C's strtoumax: leading white
// space, an optional sign (a '-' negates modulo 2^64), then digits in base
// (0: 0x hex, 0 octal, else decimal). end is 0 when nothing was read.
func strtoumax(s string, base int) (v uint64, end int, overflow bool) {
	i := 0
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if (base == 0 || base == 16) && i+1 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && i+2 < len(s) && digitVal(s[i+2]) < 16 {
		i += 2
		base = 16
	} else if base == 0 {
		base = 10
		if i < len(s) && s[i] == '0' {
			base = 8
		}
	}
	start := i
	for i < len(s) && digitVal(s[i]) < base {
		d := uint64(digitVal(s[i]))
		if v > (math.MaxUint64-d)/uint64(base) {
			overflow = true
		} else {
			v = v*uint64(base) + d
		}
		i++
	}
	if i == start {
		return 0, 0, false
	}
	if overflow {
		return math.MaxUint64, i, true
	}
	if neg {
		v = -v
	}
	return v, i, false
}

func digitVal(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'Z':
		return int(c-'A') + 10
	}
	return 99
}

// XStrtoumax reads s as gnulib's xstrtoumax: strtoumax (a '-' after the
// leading blanks is invalid), then an optional multiplier suffix from
// suffixes. A suffix alone stands for 1 of it. '0' among the suffixes
// allows a second suffix after one of EGgkKMmPTtYZ: "B" (powers of 1000;
// "D" too) or "iB" (powers of 1024). 'b' is 512, 'B' 1024, 'c' 1, 'w' 2.
// rest is what follows the number and suffix (all of it with AnySuffix).
// On overflow v is the maximum.
func XStrtoumax(s string, base int, suffixes string) (v uint64, rest string, err NumErr) {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	if strings.HasPrefix(t, "-") {
		return 0, s, NumInvalid
	}
	v, end, overflow := strtoumax(s, base)
	if overflow {
		err = NumOverflow
	}
	if end == 0 {
		if suffixes == AnySuffix || s == "" || !strings.ContainsRune(suffixes, rune(s[0])) {
			return 0, s, NumInvalid
		}
		v = 1
	}
	rest = s[end:]
	if suffixes == AnySuffix || rest == "" {
		return v, rest, err
	}
	factors, rest, serr := parseSuffix(rest, suffixes)
	err |= serr
	for _, f := range factors {
		if v != 0 && v > math.MaxUint64/f {
			v, err = math.MaxUint64, err|NumOverflow
		} else {
			v *= f
		}
	}
	return v, rest, err
}

// XStrtoimax is XStrtoumax for a signed number (a '-' is allowed); on
// overflow v is clamped to the minimum or maximum.
func XStrtoimax(s string, base int, suffixes string) (v int64, rest string, err NumErr) {
	u, end, overflow := strtoumax(s, base)
	if end > 0 {
		neg := strings.TrimLeft(s, " \t\n\v\f\r")[0] == '-'
		mag := u
		if neg && !overflow {
			mag = -u
		}
		switch {
		case overflow && neg || neg && mag > 1<<63:
			v, err = math.MinInt64, NumOverflow
		case overflow || !neg && mag > math.MaxInt64:
			v, err = math.MaxInt64, NumOverflow
		case neg:
			v = int64(-mag)
		default:
			v = int64(mag)
		}
	} else {
		if suffixes == AnySuffix || s == "" || !strings.ContainsRune(suffixes, rune(s[0])) {
			return 0, s, NumInvalid
		}
		v = 1
	}
	rest = s[end:]
	if suffixes == AnySuffix || rest == "" {
		return v, rest, err
	}
	factors, rest, serr := parseSuffix(rest, suffixes)
	err |= serr
	for _, f := range factors {
		p := v * int64(f)
		if v != 0 && (p/int64(f) != v) {
			if v < 0 {
				v = math.MinInt64
			} else {
				v = math.MaxInt64
			}
			err |= NumOverflow
		} else {
			v = p
		}
	}
	return v, rest, err
}

// parseSuffix reads the multiplier suffix at the start of rest (not
// empty) and returns its factors and what follows it.
func parseSuffix(rest, suffixes string) (factors []uint64, after string, err NumErr) {
	if !strings.ContainsRune(suffixes, rune(rest[0])) {
		return nil, rest, NumBadSuffix
	}
	base, n := uint64(1024), 1
	switch rest[0] {
	case 'E', 'G', 'g', 'k', 'K', 'M', 'm', 'P', 'T', 't', 'Y', 'Z':
		if strings.ContainsRune(suffixes, '0') && len(rest) > 1 {
			switch {
			case rest[1] == 'i' && len(rest) > 2 && rest[2] == 'B':
				n = 3
			case rest[1] == 'B' || rest[1] == 'D':
				base, n = 1000, 2
			}
		}
	}
	pow := func(e int) []uint64 {
		f := make([]uint64, e)
		for i := range f {
			f[i] = base
		}
		return f
	}
	switch rest[0] {
	case 'b':
		factors = []uint64{512}
	case 'B':
		factors = []uint64{1024}
	case 'c':
	case 'w':
		factors = []uint64{2}
	case 'k', 'K':
		factors = pow(1)
	case 'M', 'm':
		factors = pow(2)
	case 'G', 'g':
		factors = pow(3)
	case 'T', 't':
		factors = pow(4)
	case 'P':
		factors = pow(5)
	case 'E':
		factors = pow(6)
	case 'Z':
		factors = pow(7)
	case 'Y':
		factors = pow(8)
	default:
		return nil, rest, NumBadSuffix
	}
	after = rest[n:]
	if after != "" {
		err = NumBadSuffix
	}
	return factors, after, err
}
