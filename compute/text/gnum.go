package text

import (
	"math/big"
	"math/bits"
	"sync"
	"sync/atomic"
)

// sort -g compares keys as GNU's general_numcompare does: each is read
// with glibc's strtold into x86-64's long double (the x87 80-bit format:
// a sign, 15 bits of biased exponent, a 64-bit significand with its
// integer bit, denormals below 2^-16382 down to 2^-16445, infinity past
// about 1.19e4932), and the values are ordered: keys that are no number
// first, then NaNs by the bytes of their representation (GNU memcmps
// them), then numbers by value (-0 equal to 0). Numbers that are equal
// as long doubles compare equal even when the text differs (1 and
// 1.00000000000000000001), and numbers that differ as long doubles but
// not as float64s compare as long doubles.
//
// gnumKey does the reading once per key: it rounds the text exactly as
// strtold does (to nearest, ties to even, with the x87 exponent range)
// and encodes the long double as a 96-bit key whose order is GNU's.

// Classes of a -g key, in GNU's order.
const (
	gnumNone = iota // no conversion: strtold read nothing
	gnumNaN
	gnumNum
)

// The x87 extended format.
const (
	ldBias   = 16383
	ldExpInf = 0x7fff // the biased exponent of infinities and NaNs
	ldMinLSB = -16445 // the least denormal is 2^-16445
	ldTop    = 1 << 63
	// ldQuietNaN is glibc's NAN as a long double significand: the
	// integer bit and the quiet bit.
	ldQuietNaN = 3 << 62
)

// gnumDigitsMax bounds the significant decimal digits read exactly: a
// rounding boundary of a long double (the midpoint of two neighbours) has
// at most about 11515, so digits past this many only tell whether the
// number is above the truncated one.
const gnumDigitsMax = 12000

// gnumExpMax saturates exponents read from the text: far past any
// exponent a line (at most 1 GiB of digits) can compensate.
const gnumExpMax = 1 << 50

// gnumKey returns s's -g key: hi, then lo, order the keys as GNU's
// general_numcompare orders the texts. The 96 bits are the class (2
// bits), then 80 bits of value, then zeros: for a number, the sign bit
// set for ≥ 0 and the biased exponent and significand (inverted when
// negative); for a NaN its significand's bytes in memory order
// (little-endian: GNU's memcmp reads the lowest byte first), then the
// sign.
func gnumKey(s []byte) (hi uint64, lo uint32) {
	class, neg, exp, mant := strtold(s)
	var top uint16
	var low uint64
	switch class {
	case gnumNone:
		return 0, 0
	case gnumNaN:
		r := bits.ReverseBytes64(mant)
		top, low = uint16(r>>48), r<<16
		if neg {
			low |= 1 << 15
		}
	default:
		if exp == 0 && mant == 0 {
			neg = false // -0 == 0
		}
		top, low = 0x8000|exp, mant
		if neg {
			top, low = ^exp&0x7fff, ^mant
		}
	}
	hi = uint64(class)<<62 | uint64(top)<<46 | low>>18
	return hi, uint32(low << 14)
}

// gnumCompare compares a and b as -g keys.
func gnumCompare(a, b []byte) int {
	ah, al := gnumKey(a)
	bh, bl := gnumKey(b)
	switch {
	case ah != bh:
		return cmpU64(ah, bh)
	case al != bl:
		return cmpU64(uint64(al), uint64(bl))
	}
	return 0
}

func cmpU64(a, b uint64) int {
	if a < b {
		return -1
	}
	return 1
}

// isSpace is C's isspace in the C locale, what strtold skips.
func isSpace(c byte) bool { return c == ' ' || '\t' <= c && c <= '\r' }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'f' }

func hexVal(c byte) uint64 {
	if isDigit(c) {
		return uint64(c - '0')
	}
	return uint64(c|0x20-'a') + 10
}

// hasPrefixFold reports whether s starts with the lower-case word w in
// any case.
func hasPrefixFold(s []byte, w string) bool {
	if len(s) < len(w) {
		return false
	}
	for i := range len(w) {
		if s[i]|0x20 != w[i] {
			return false
		}
	}
	return true
}

// strtold reads s as glibc's strtold in the C locale (the text ends at
// s's end or a NUL): after isspace blanks and a sign, "inf" or
// "infinity", "nan" or "nan(CHARS)", a hexadecimal number ("0x", hex
// digits with a '.', a binary exponent "p"), or a decimal one (digits
// with a '.', an exponent "e"), rounded to nearest. It returns the
// class, the sign, and for a number or NaN its biased exponent and
// significand.
func strtold(s []byte) (class int, neg bool, exp uint16, mant uint64) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	s = s[i:]
	switch {
	case len(s) > 0 && isDigit(s[0]), len(s) > 1 && s[0] == '.' && isDigit(s[1]):
	case hasPrefixFold(s, "inf"):
		return gnumNum, neg, ldExpInf, ldTop
	case hasPrefixFold(s, "nan"):
		return gnumNaN, neg, ldExpInf, nanPayload(s[3:])
	default:
		return gnumNone, false, 0, 0
	}
	if len(s) > 2 && s[0] == '0' && s[1]|0x20 == 'x' && (isHex(s[2]) || len(s) > 3 && s[2] == '.' && isHex(s[3])) {
		exp, mant = hexLD(s[2:])
	} else {
		exp, mant = decimalLD(s)
	}
	return gnumNum, neg, exp, mant
}

// nanPayload is the significand of the NaN "nan" followed by s: glibc's
// NAN, or with "(CHARS)" where CHARS ([0-9A-Za-z_]*) are wholly a number
// for strtoull base 0, that number's low 62 bits under the integer and
// quiet bits.
func nanPayload(s []byte) uint64 {
	if len(s) == 0 || s[0] != '(' {
		return ldQuietNaN
	}
	s = s[1:]
	n := 0
	for n < len(s) && (isDigit(s[n]) || 'a' <= s[n]|0x20 && s[n]|0x20 <= 'z' || s[n] == '_') {
		n++
	}
	if n == len(s) || s[n] != ')' {
		return ldQuietNaN
	}
	v, ok := strtoull0(s[:n])
	if !ok {
		return ldQuietNaN
	}
	return ldQuietNaN | v&(1<<62-1)
}

// strtoull0 is strtoull with base 0 over all of s (no blanks or sign in
// it): "0x" and hex digits, "0" and octal digits, or decimal digits, an
// overflow being the maximum. ok is false unless it reads all of s.
func strtoull0(s []byte) (uint64, bool) {
	base, digits := uint64(10), s
	switch {
	case len(s) > 2 && s[0] == '0' && s[1]|0x20 == 'x' && isHex(s[2]):
		base, digits = 16, s[2:]
	case len(s) > 0 && s[0] == '0':
		base = 8
	}
	var v uint64
	over := false
	for _, c := range digits {
		var d uint64
		switch {
		case isDigit(c):
			d = uint64(c - '0')
		case 'a' <= c|0x20 && c|0x20 <= 'z':
			d = uint64(c|0x20-'a') + 10
		default:
			d = 99
		}
		if d >= base {
			return 0, false
		}
		hi, lo := bits.Mul64(v, base)
		lo, carry := bits.Add64(lo, d, 0)
		if hi != 0 || carry != 0 {
			over = true
		}
		v = lo
	}
	if over {
		v = ^uint64(0)
	}
	return v, true
}

// readExp reads an exponent at s[0] ('e' or 'p' already seen at s[-1]):
// an optional sign and digits, saturating at gnumExpMax. ok is false when
// there are no digits (the letter is then not part of the number).
func readExp(s []byte) (e int64, ok bool) {
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if len(s) == 0 || !isDigit(s[0]) {
		return 0, false
	}
	for _, c := range s {
		if !isDigit(c) {
			break
		}
		if e < gnumExpMax {
			e = e*10 + int64(c-'0')
		}
	}
	if neg {
		e = -e
	}
	return e, true
}

// hexLD reads the hexadecimal number after "0x": hex digits with an
// optional '.', then an optional binary exponent.
func hexLD(s []byte) (uint16, uint64) {
	var acc u128
	var x int64 // the value is acc * 2^x, plus something below with sticky
	sticky := false
	frac := false
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c == '.' && !frac {
			frac = true
			continue
		}
		if !isHex(c) {
			break
		}
		d := hexVal(c)
		switch {
		case acc.hi < 1<<60:
			acc = acc.shl4(d)
			if frac {
				x -= 4
			}
		case frac:
			sticky = sticky || d != 0
		default:
			x += 4
			sticky = sticky || d != 0
		}
	}
	if i < len(s) && s[i]|0x20 == 'p' {
		if e, ok := readExp(s[i+1:]); ok {
			x += e
		}
	}
	return roundLD(acc, sticky, false, x)
}

// pow5 are the powers of 5 below 2^64.
var pow5 = func() (p [28]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 5
	}
	return p
}()

// decimalLD reads a decimal number: digits with an optional '.', then an
// optional exponent.
func decimalLD(s []byte) (uint16, uint64) {
	// The significant digits are s[first:last+1], the '.' (at dot, or -1)
	// perhaps among them.
	first, last, dot := -1, -1, -1
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c == '.' && dot < 0 {
			dot = i
			continue
		}
		if !isDigit(c) {
			break
		}
		if c != '0' {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	var e10 int64
	if i < len(s) && s[i]|0x20 == 'e' {
		e10, _ = readExp(s[i+1:])
	}
	if first < 0 {
		return 0, 0
	}
	// The value is the significant digits * 10^e10, e10 the weight of
	// the last.
	switch {
	case dot < 0:
		e10 += int64(i - 1 - last)
	case dot > last:
		e10 += int64(dot - 1 - last)
	default:
		e10 += int64(dot - last)
	}
	nd := last - first + 1
	if first < dot && dot < last {
		nd--
	}
	// The value is below 10^(nd+e10) and at least 10^(nd+e10-1).
	switch mag := int64(nd) + e10; {
	case mag-1 > 4933: // past the largest long double, about 1.19e4932
		return ldExpInf, ldTop
	case mag < -4950: // below half the least denormal, about 1.82e-4951
		return 0, 0
	}
	// The first 19 significant digits (all of them, when no more).
	var d uint64
	for j, n := first, 0; j <= last && n < 19; j++ {
		if j != dot {
			d = d*10 + uint64(s[j]-'0')
			n++
		}
	}
	if nd <= 19 && -27 <= e10 && e10 <= 27 {
		if e10 >= 0 {
			hi, lo := bits.Mul64(d, pow5[e10])
			return roundLD(u128{hi, lo}, false, false, e10)
		}
		// d / 5^k as 128 bits of quotient, d shifted to the top of the
		// dividend, and a sticky remainder.
		k := -e10
		lz := bits.LeadingZeros64(d)
		q1, r := bits.Div64(0, d<<lz, pow5[k])
		q0, r := bits.Div64(r, 0, pow5[k])
		return roundLD(u128{q1, q0}, r != 0, false, e10-64-int64(lz))
	}
	if k := e10 + int64(max(nd-19, 0)); -pow10Max <= k && k <= pow10Max {
		if exp, mant, ok := approxLD(d, nd > 19, k); ok {
			return exp, mant
		}
	}
	// glibc reads the digits of a number below 1 up to where their bits
	// are below a quarter of the least denormal (16447 after the point);
	// a cut sets its sticky bit.
	cut := false
	read := int64(nd) // the digits glibc reads
	if mag := int64(nd) + e10; mag <= 0 {
		read = min(read, min((1-mag)*10/3+1+64, 16447)+mag)
		cut = int64(nd) > read
	}
	// A prefix of the digits mostly tells the rounding: try a few, four
	// times longer each, before all of them.
	for p := gnumPrefixMin; p < min(nd, gnumDigitsMax) && int64(p) <= read; p *= 4 {
		if exp, mant, ok := prefixLD(s[first:last+1], p, e10+int64(nd-p), cut); ok {
			return exp, mant
		}
	}
	return bigDecimalLD(s[first:last+1], nd, e10, cut)
}

// gnumPrefixMin is the shortest prefix of digits prefixLD tries.
const gnumPrefixMin = 64

// prefixLD rounds a number of more than p significant digits (digits,
// perhaps with a '.', the last not 0) from its first p: the number x is
// above their value L (times 10^ep, the weight of the p'th) and below
// U = L + 10^ep. When every value in (L, U) has the same bits down to the
// 65th from the top (the long double, its round bit and the bit glibc
// drops from a denormal's sticky bit) and a bit below, they all round as
// x does; ok is false when they do not (x is too close to a boundary).
// glibc reading fewer digits (cut) changes nothing while p is at most
// those: what it reads is also in (L, U).
func prefixLD(digits []byte, p int, ep int64, cut bool) (uint16, uint64, bool) {
	buf := make([]byte, 0, p)
	for _, c := range digits {
		if len(buf) == p {
			break
		}
		if c != '.' {
			buf = append(buf, c)
		}
	}
	if gnumDigitsHook != nil {
		gnumDigitsHook(len(buf))
	}
	var lo, hi big.Int
	decimalBig(&lo, buf)
	hi.Add(&lo, big.NewInt(1))
	var s uint
	if ep >= 0 {
		pw := bigPow10(ep)
		lo.Mul(&lo, pw)
		hi.Mul(&hi, pw)
		hi.Sub(&hi, big.NewInt(1)) // floor of the values below U
	} else {
		// floor(L * 2^s) and floor(U * 2^s) less one when exact: the
		// floors of every value in (L, U) lie between.
		den := bigPow10(-ep)
		s = uint(max(0, den.BitLen()-lo.BitLen()+70))
		var r big.Int
		lo.Lsh(&lo, s)
		lo.Quo(&lo, den)
		hi.Lsh(&hi, s)
		hi.QuoRem(&hi, den, &r)
		if r.Sign() == 0 {
			hi.Sub(&hi, big.NewInt(1))
		}
	}
	n := lo.BitLen()
	if n < 66 {
		return 0, 0, false
	}
	var a, b big.Int
	if a.Rsh(&lo, uint(n-65)).Cmp(b.Rsh(&hi, uint(n-65))) != 0 {
		return 0, 0, false
	}
	exp, mant := roundBig(&lo, true, cut, -int64(s))
	return exp, mant, true
}

// pow10Max bounds the powers of ten approxLD has (float64's range and
// more: a line of decimals seldom goes further).
const pow10Max = 400

// pow10 is 10^k as m * 2^e, m's top bit set; when not exact, m is cut
// (the power is a little above).
type pow10 struct {
	m     u128
	e     int64
	exact bool
}

// pow10s are the powers of ten from 10^-pow10Max to 10^pow10Max.
var pow10s = sync.OnceValue(func() []pow10 {
	t := make([]pow10, 2*pow10Max+1)
	five := big.NewInt(5)
	for k := -pow10Max; k <= pow10Max; k++ {
		p := new(big.Int).Exp(five, big.NewInt(int64(abs(k))), nil)
		var m *big.Int
		var e int64
		exact := false
		if k >= 0 {
			// 5^k * 2^k, 5^k to 128 bits
			sh := p.BitLen() - 128
			if sh <= 0 {
				m, exact = new(big.Int).Lsh(p, uint(-sh)), true
			} else {
				m = new(big.Int).Rsh(p, uint(sh))
			}
			e = int64(k + sh)
		} else {
			// 2^k / 5^-k: 2^s / 5^-k has 128 bits for s = 127 + len(5^-k)
			s := 127 + p.BitLen()
			m = new(big.Int).Lsh(big.NewInt(1), uint(s))
			m.Quo(m, p)
			e = int64(k - s)
		}
		w := m.Bits()
		var v u128
		for i := len(w) - 1; i >= 0; i-- {
			if bits.UintSize == 64 {
				v = u128{v.lo, uint64(w[i])}
			} else {
				v = u128{v.hi<<32 | v.lo>>32, v.lo<<32 | uint64(w[i])}
			}
		}
		t[k+pow10Max] = pow10{m: v, e: e, exact: exact}
	}
	return t
})

func abs(k int) int {
	if k < 0 {
		return -k
	}
	return k
}

// approxLD rounds d * 10^k (cut: d is the first 19 digits of a longer
// number, which is then between d and d+1 times 10^k) with 128 bits of
// the power: the value lies between two bounds, and when both round to
// the same long double that is the answer; ok is false when they do not
// (the value is too close to a rounding boundary), or 10^k is too far.
func approxLD(d uint64, cut bool, k int64) (exp uint16, mant uint64, ok bool) {
	p := &pow10s()[k+pow10Max]
	// times returns n = d * m, 192 bits (n2, n1, n0), and the value's
	// exponent for (n2, n1).
	times := func(d uint64) (n2, n1, n0 uint64, x int64) {
		lz := bits.LeadingZeros64(d)
		d <<= lz
		h1, l1 := bits.Mul64(d, p.m.lo)
		h2, l2 := bits.Mul64(d, p.m.hi)
		n1, c := bits.Add64(h1, l2, 0)
		return h2 + c, n1, l1, p.e - int64(lz) + 64
	}
	n2, n1, n0, x := times(d)
	if p.exact && !cut {
		exp, mant = roundLD(u128{n2, n1}, n0 != 0, false, x)
		return exp, mant, true
	}
	// Below: a little above d * m (the power or the digits were cut).
	exp, mant = roundLD(u128{n2, n1}, true, false, x)
	// Above: (d+1) * 10^k when the digits were cut, plus 2^64 (in n's
	// units: more than d+1 times the part of the power cut off) when the
	// power was.
	if cut {
		n2, n1, n0, x = times(d + 1)
	}
	if !p.exact {
		var c uint64
		n1, c = bits.Add64(n1, 1, 0)
		n2 += c
	}
	e2, m2 := roundLD(u128{n2, n1}, n0 != 0, false, x)
	return exp, mant, e2 == exp && m2 == mant
}

// bigDecimalLD rounds digits (nd of them, perhaps with a '.' among them,
// the last not 0) * 10^e10 exactly, with big integers; the value is in
// the long double's range or close to it (decimalLD).
func bigDecimalLD(digits []byte, nd int, e10 int64, cut bool) (uint16, uint64) {
	buf := make([]byte, 0, min(nd, gnumDigitsMax+1))
	for _, c := range digits {
		if c == '.' {
			continue
		}
		if len(buf) == gnumDigitsMax {
			// What is cut off is above zero (the last digit is not 0),
			// and says nothing more for rounding: one digit 1 in its
			// place says the same.
			buf = append(buf, '1')
			e10 += int64(nd - len(buf))
			break
		}
		buf = append(buf, c)
	}
	if gnumDigitsHook != nil {
		gnumDigitsHook(len(buf))
	}
	var d big.Int
	decimalBig(&d, buf)
	if e10 >= 0 {
		d.Mul(&d, bigPow10(e10))
		return roundBig(&d, false, cut, 0)
	}
	var r big.Int
	den := bigPow10(-e10)
	s := max(0, den.BitLen()-d.BitLen()+130)
	d.Lsh(&d, uint(s))
	d.QuoRem(&d, den, &r)
	return roundBig(&d, r.Sign() != 0, cut, -int64(s))
}

// decimalSplit is the most digits decimalBig hands to SetString, whose
// cost grows as their square.
const decimalSplit = 19 * 64

// decimalBig sets z to the decimal digits b: halves of them joined with
// a power of ten (19 * 2^j digits, as bigPow10 keeps them) once they are
// many, so 12000 digits cost a fifth of SetString's time.
func decimalBig(z *big.Int, b []byte) *big.Int {
	if len(b) <= decimalSplit {
		z.SetString(string(b), 10)
		return z
	}
	m := 19
	for 2*m < len(b) {
		m *= 2
	}
	var lo big.Int
	decimalBig(z, b[:len(b)-m])
	decimalBig(&lo, b[len(b)-m:])
	z.Mul(z, bigPow10(int64(m)))
	return z.Add(z, &lo)
}

// gnumDigitsHook, when set (by a test), is told how many digits each
// exact conversion reads.
var gnumDigitsHook func(n int)

// bigPow10Cache holds recent powers of ten bigDecimalLD used, at k mod
// its size (at most about 2 MiB: k is below 17000): a column of numbers
// near the least denormal divides by the same few.
var bigPow10Cache [256]atomic.Pointer[bigPow10Entry]

type bigPow10Entry struct {
	k int64
	v *big.Int // not to be changed
}

// bigPow10 is 10^k (k ≥ 0), not to be changed.
func bigPow10(k int64) *big.Int {
	slot := &bigPow10Cache[k%int64(len(bigPow10Cache))]
	if e := slot.Load(); e != nil && e.k == k {
		return e.v
	}
	v := new(big.Int).Exp(big.NewInt(10), big.NewInt(k), nil)
	slot.Store(&bigPow10Entry{k: k, v: v})
	return v
}

// roundBig rounds n * 2^x (plus something below with sticky), n > 0.
func roundBig(n *big.Int, sticky, cut bool, x int64) (uint16, uint64) {
	if sh := n.BitLen() - 128; sh > 0 {
		sticky = sticky || n.TrailingZeroBits() < uint(sh)
		n.Rsh(n, uint(sh))
		x += int64(sh)
	}
	w := n.Bits() // 64-bit words on amd64 and arm64
	var v u128
	if bits.UintSize == 64 {
		for i := len(w) - 1; i >= 0; i-- {
			v = u128{v.lo, uint64(w[i])}
		}
	} else {
		for i := len(w) - 1; i >= 0; i-- {
			v = u128{v.hi<<32 | v.lo>>32, v.lo<<32 | uint64(w[i])}
		}
	}
	return roundLD(v, sticky, cut, x)
}

// u128 is an unsigned 128-bit integer.
type u128 struct{ hi, lo uint64 }

// shl4 is v*16 + d.
func (v u128) shl4(d uint64) u128 {
	return u128{v.hi<<4 | v.lo>>60, v.lo<<4 | d}
}

// roundLD rounds v * 2^x to a long double, to nearest with ties to even
// (sticky: the value is a little above v * 2^x), as its biased exponent
// and significand: a denormal below 2^-16382, infinity past the largest
// finite.
//
// A denormal is rounded as glibc's round_and_return does: from the 64
// bits after the first, a round bit and a sticky bit, shifted right to
// the denormal's last bit, the old round bit dropped on the way. So the
// 65th bit of the value does not count towards the sticky bit: 0.75 of
// the least denormal above an even one, written out, reads as a tie and
// rounds down. cut: glibc read fewer digits than there are (a decimal
// with more than 16447 after the point) and its sticky bit is set.
func roundLD(v u128, sticky, cut bool, x int64) (uint16, uint64) {
	if v.hi == 0 && v.lo == 0 {
		return 0, 0
	}
	// Normalize: bit 127 set.
	if v.hi == 0 {
		v, x = u128{v.lo, 0}, x-64
	}
	if lz := bits.LeadingZeros64(v.hi); lz > 0 {
		v = u128{v.hi<<lz | v.lo>>(64-lz), v.lo << lz}
		x -= int64(lz)
	}
	e := x + 127 // the value is in [2^e, 2^(e+1))
	if e > ldBias {
		return ldExpInf, ldTop
	}
	lsb := max(e-63, ldMinLSB) // the weight of the significand's last bit
	sh := lsb - x              // bits of v below it: at least 64
	var q uint64
	below := v.lo<<1 != 0 || sticky // below the 65th bit
	var half, rest bool             // the bit below q's last, and any below that
	if sh > 64 && !cut {
		// A denormal: glibc drops the 65th bit (v.lo's top).
		v.lo &^= 1 << 63
	}
	switch {
	case sh > 128:
		return 0, 0 // below half the least denormal
	case sh == 128:
		half, rest = true, v.hi<<1 != 0 || v.lo != 0 || below || cut
	case sh == 64:
		q, half, rest = v.hi, v.lo>>63 != 0, below
	default: // 64 < sh < 128
		k := sh - 64 // bits of v.hi below q
		q = v.hi >> k
		half = v.hi>>(k-1)&1 != 0
		rest = v.hi<<(65-k) != 0 || v.lo != 0 || below || cut
	}
	if half && (rest || q&1 != 0) {
		q++
		if q == 0 { // carried out: 2^64
			q, lsb = ldTop, lsb+1
		}
	}
	switch {
	case q == 0:
		return 0, 0
	case q < ldTop:
		return 0, q // a denormal (lsb is ldMinLSB)
	}
	b := lsb + 63 + ldBias
	if b >= ldExpInf {
		return ldExpInf, ldTop
	}
	return uint16(b), q
}
