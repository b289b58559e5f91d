package builtin_test

import (
	"testing"

	"github.com/halfclose/halfclose/compute/engine"
)

// tailCases are diffCases of tail's flags (pipeline text after "tail ")
// over one input of twelve lines.
func tailCases(t *testing.T, flags []string) []diffCase {
	t.Helper()
	in := []byte("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl")
	var cases []diffCase
	for _, a := range flags {
		stages, err := engine.SplitPipeline("tail " + a)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, diffCase{argv: stages[0], input: in})
	}
	return cases
}

// TestGNUTailPIDMinusZero: GNU reads --pid with xdectoumax, whose
// strtoumax takes no '-' at all (after leading blanks), so --pid=-0 is
// an invalid PID; it was taken as 0.
func TestGNUTailPIDMinusZero(t *testing.T) {
	t.Parallel()
	checkCases(t, tailCases(t, []string{
		"--pid=-0", "--pid=' -0'", "-f --pid=-0", "--pid=' -1'", "--pid=' +1'", "--pid=+0", "--pid=00", "--pid=0x5", "--pid=05",
		"--pid=5 --pid=0", "--pid=0 --pid=5", "--pid=3 -F", "--pid=1 -n0", "--pid=1 --retry -f", "-F --retry --pid=1",
		"--pid=2147483647 -f", "--pid=4294967296", "--pid=18446744073709551616",
		"--max-unchanged-stats=-0", "--max-unchanged-stats=' 5'", "--max-unchanged-stats=18446744073709551615",
		"--max-unchanged-stats=18446744073709551616", "--max-unchanged-stats=", "--max-unchanged-stats=1b",
	}))
}

// TestGNUTailSleepTiny holds -s at the denormals to GNU, whose xstrtod
// refuses a nonzero result that glibc's strtod flags ERANGE: tiny as x86
// judges it (after rounding to 53 bits, so 0x1.fffffffffffffp-1023 is,
// though its double is DBL_MIN) and inexact, where glibc drops the round
// bit it kept past the 53 (0x1.ffffffffffffe8p-1023 is exact for it, and
// -0x1.00000000000008p-1075 rounds to -0, which -s takes). They were
// judged by the correctly rounded double.
func TestGNUTailSleepTiny(t *testing.T) {
	t.Parallel()
	checkCases(t, tailCases(t, []string{
		"-s 0x1.fffffffffffffp-1023", "-s 0x1.fffffffffffff8p-1023", "-s 0x1.ffffffffffffe8p-1023", "-s 0x1.ffffffffffffe4p-1023",
		"-s 0x1.00000000000008p-1023", "-s 0x1.0000000000001p-1023", "-s 0x1.00000000000008p-1030", "-s 0x1.00000000000018p-1030",
		"-s 0x1.00000000000008p-1075", "-s -0x1.00000000000008p-1075", "-s 0x1.0000000000001p-1075", "-s -0x1p-1075", "-s 0x1p-1075",
		"-s 0x1.8p-1073", "-s 0x1.4p-1073", "-s 0x1p-1074", "-s 0x1.8p-1074", "-s 0x1p-1022", "-s 0x1p-1023", "-s 0x1.ffffffffffffffp-1023",
		"-s 2.2250738585072011e-308", "-s 2.2250738585072012e-308", "-s 2.2250738585072013e-308", "-s 2.2250738585072014e-308",
		"-s 4.9e-324", "-s 5e-324", "-s 2.4703282292062328e-324", "-s 2.4703282292062327e-324", "-s -4e-324", "-s -2e-324", "-s 1e-310", "-s 1e-400",
		"-s 1e-4000000000", "-s 1e4000000000", "-s 0x1p1024", "-s 0x1.fffffffffffff7p1023", "-s 0x1.fffffffffffff8p1023", "-s 1.7976931348623159e308",
	}))
}
