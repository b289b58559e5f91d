package text

import (
	"fmt"
	"math/big"
	"strings"
	"testing"
)

// TestStrtold compares strtold with what glibc 2.36's strtold stored (the
// class, then the sign and biased exponent, and the significand of the
// x87 long double), on the edges: rounding, the largest long double and
// past it, denormals (one whose 65th bit glibc drops), hex floats, NaN
// payloads, what is no number.
func TestStrtold(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in    string
		class int
		top   uint16 // sign and biased exponent
		mant  uint64
	}{
		{"1", 2, 0x3fff, 0x8000000000000000},
		{"-1", 2, 0xbfff, 0x8000000000000000},
		{"0.1", 2, 0x3ffb, 0xcccccccccccccccd},
		{"-0", 2, 0x8000, 0x0000000000000000},
		{"1e4932", 2, 0x7ffe, 0xd72cb2a95c7ef6cd},
		{"1.18973149535723176502e+4932", 2, 0x7ffe, 0xffffffffffffffff},
		{"1.18973149535723176508e+4932", 2, 0x7fff, 0x8000000000000000},
		{"3.6e-4951", 2, 0x0000, 0x0000000000000001},
		{"1.8e-4951", 2, 0x0000, 0x0000000000000000},
		{"1.9e-4951", 2, 0x0000, 0x0000000000000001},
		{"0x1p-16445", 2, 0x0000, 0x0000000000000001},
		{"0x1.8p-16446", 2, 0x0000, 0x0000000000000001},
		{"0x1.0000000000000003p-16383", 2, 0x0000, 0x4000000000000000},
		{"0x1.0000000000000002p-16383", 2, 0x0000, 0x4000000000000000},
		{"9007199254740993", 2, 0x4034, 0x8000000000000400},
		{"1.0000000000000000001", 2, 0x3fff, 0x8000000000000001},
		{"1.00000000000000000001", 2, 0x3fff, 0x8000000000000000},
		{"18446744073709551617", 2, 0x403f, 0x8000000000000000},
		{"  +12.5e-3x", 2, 0x3ff8, 0xcccccccccccccccd},
		{"0x1fffffffffffffffe8p0", 2, 0x4043, 0xffffffffffffffff},
		{"0xffffffffffffffff8", 2, 0x4043, 0x8000000000000000},
		{"1.7976931348623157e308", 2, 0x43fe, 0xfffffffffffff7ac},
		{"4.9e-324", 2, 0x3bcc, 0xfde4b4fb194fced9},
		{"3.14159265358979323846264338327950288", 2, 0x4000, 0xc90fdaa22168c235},
		{"123456789012345678901234567890e-40", 2, 0x3fda, 0xd92ffeb1b7608d71},
		{"1e-4940", 2, 0x0000, 0x0000000663278e62},
		{"2.5e-4940", 2, 0x0000, 0x0000000ff7e2e3f5},
		{"inf", 2, 0x7fff, 0x8000000000000000},
		{"-Infinity", 2, 0xffff, 0x8000000000000000},
		{"nan", 1, 0x7fff, 0xc000000000000000},
		{"-nan", 1, 0xffff, 0xc000000000000000},
		{"nan(0x100)", 1, 0x7fff, 0xc000000000000100},
		{"nan(abc)", 1, 0x7fff, 0xc000000000000000},
		{"nan(0xffffffffffffffffff)", 1, 0x7fff, 0xffffffffffffffff},
		{"x", 0, 0x0000, 0x0000000000000000},
		{".", 0, 0x0000, 0x0000000000000000},
		{"0x", 2, 0x0000, 0x0000000000000000},
		{"1e", 2, 0x3fff, 0x8000000000000000},
		{".5e1", 2, 0x4001, 0xa000000000000000},
		// 0.75 of the least denormal above an even one: glibc drops the
		// 65th bit and rounds it as a tie, to the even one.
		{denormalText(6907735185386448804, 3), 2, 0, 0x5fdd348d676d27a4},
		{denormalText(12345, 3), 2, 0, 12346},
	}
	for _, c := range cases {
		class, neg, exp, mant := strtold([]byte(c.in))
		top := exp
		if neg && class != gnumNone {
			top |= 0x8000
		}
		if class != c.class || top != c.top || mant != c.mant {
			t.Errorf("strtold(%.40q) = %d %04x%016x, glibc %d %04x%016x", c.in, class, top, mant, c.class, c.top, c.mant)
		}
	}
}

// denormalText is (4x+f) * 2^-16447 in decimal: x least denormals and
// f quarters of one.
func denormalText(x uint64, f int64) string {
	v := new(big.Int).SetUint64(x)
	v.Lsh(v, 2).Add(v, big.NewInt(f))
	v.Mul(v, new(big.Int).Exp(big.NewInt(5), big.NewInt(16447), nil))
	d := fmt.Sprintf("%016448s", v.String())
	return strings.TrimRight(d[:len(d)-16447]+"."+d[len(d)-16447:], "0")
}

// TestGNumKeyOrder: keys that are no number, then NaNs, then numbers; -0
// and 0 equal; the order of numbers and of NaNs' bytes.
func TestGNumKeyOrder(t *testing.T) {
	t.Parallel()
	order := []string{"x", "nan", "-nan", "nan(0x100)", "nan(1)", "-inf", "-1e4000", "-1", "-0x1p-16445", "0", "0x1p-16445", "1e-4000", "1", "1.0000000000000000001", "1e4000", "inf"}
	for i := range order {
		for j := range order {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := gnumCompare([]byte(order[i]), []byte(order[j])); got != want {
				t.Errorf("gnumCompare(%q, %q) = %d, want %d", order[i], order[j], got, want)
			}
		}
	}
	for _, eq := range [][2]string{{"-0", "0"}, {"0x0", "-0.0e5"}, {"1", "1.00000000000000000001"}, {"nan", "NAN"}, {"", "abc"}, {"inf", "1e5000"}} {
		if d := gnumCompare([]byte(eq[0]), []byte(eq[1])); d != 0 {
			t.Errorf("gnumCompare(%q, %q) = %d, want 0", eq[0], eq[1], d)
		}
	}
}

// TestStrtoldLongDigitsBounded: a number of 12000 digits far from a
// rounding boundary is rounded from a prefix of its digits, as glibc
// rounds a large integer part from its own digits: converting all of
// them exactly cost 600 µs a key (40 times glibc's strtold), paid on
// every comparison of a -g key after the first. Near a boundary the
// digits needed are read, and the result is the same.
func TestStrtoldLongDigitsBounded(t *testing.T) {
	var converted int
	gnumDigitsHook = func(n int) { converted += n }
	t.Cleanup(func() { gnumDigitsHook = nil })
	digits := strings.Repeat("1234567890", 1200)
	for _, c := range []struct {
		in   string
		top  uint16 // glibc's, as in TestStrtold
		mant uint64
	}{
		{digits + "e-10000", 0x59ef, 0xe4d9fb079ab00130},                            // about 1.2e1999
		{"0." + strings.Repeat("0", 4000) + digits, 0x0c14, 0x9a4fa7bc5d0afa9f},     // about 1.2e-4001
		{digits + "e-11900", 0x4148, 0x907f05d0bfa34a56},                            // about 1.2e99, beyond approxLD's powers
		{"1" + strings.Repeat("0", 11999) + "1e-11000", 0x4cf8, 0xf38db1f9dd3dac05}, // 1e1000 and a tail
	} {
		converted = 0
		class, _, exp, mant := strtold([]byte(c.in))
		if class != gnumNum || exp != c.top || mant != c.mant {
			t.Errorf("strtold(%.30q...) = %d %04x%016x, glibc 2 %04x%016x", c.in, class, exp, mant, c.top, c.mant)
		}
		if converted > 256 {
			t.Errorf("strtold(%.30q...): %d digits converted exactly, want at most 256", c.in, converted)
		}
	}
}
