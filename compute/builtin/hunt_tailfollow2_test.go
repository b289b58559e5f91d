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
