package builtin_test

import (
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
)

// TestGNUTailFollowPipe holds tail's following flags to GNU tail reading
// a pipe, as the stream is one: GNU ignores -f (and --follow,
// --follow=descriptor, an obsolete -Nf) for a standard input that is a
// pipe, checks the values of -s, --pid and --max-unchanged-stats, warns
// about --retry and --pid, and fails -F (--follow=name): standard input
// has no name. They were refused ("following is not supported"), where
// printf 'a\nb\n' | tail -f -n1 prints b and exits 0.
func TestGNUTailFollowPipe(t *testing.T) {
	t.Parallel()
	in := []byte("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl")
	var cases []diffCase
	for _, a := range []string{
		"-f", "-f -n1", "-fn2", "-f -c3", "-f -n +3", "-f -n0", "-f -n0 -v", "-f -n0 - -", "-f - -", "-f -q - -", "-fz -n1", "-fv",
		"--follow", "--follow=descriptor", "--follow=d -n2", "--fo -n1", "--follow=name", "--follow=n", "--follow=", "--follow=x",
		"-F", "-F -n0", "-F -f", "-f -F", "-F --retry", "-3f", "+2f", "-cf", "-f3",
		"--retry", "--retry -n1", "-f --retry", "--follow --retry", "--retry --pid=3", "--pid=3 --retry",
		"--pid=0", "--pid=1", "-f --pid=1", "--pid=-1", "--pid=+5", "--pid=' 5'", "--pid=5k", "--pid=2147483647", "--pid=2147483648", "--pid=99999999999999999999", "--pid=",
		"-s 1", "-s 1.5", "-s 0x1.8", "-s ' 2'", "-s inf", "-s INFINITY", "-s nan", "-s -0", "-s -1", "-s 1e999", "-s 1e-310",
		"-s 1e-320", "-s 1e-400", "-s 0x1p-1074", "-s ''", "-s 1,", "-s .", "-s 1_0", "-s 0x_1p0", "-s +.5", "-s1", "--sleep=2 -n1", "-s x -n y", "-n y -s x",
		"--max-unchanged-stats=5", "--max-unchanged-stats=-1", "--max-unchanged-stats=5k", "--max-unchanged-stats=99999999999999999999999", "--max=3",
	} {
		stages, err := engine.SplitPipeline("tail " + a)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, diffCase{argv: stages[0], input: in})
	}
	checkCases(t, cases)
}

// TestTailFollowRegularFile: from a regular file GNU tail -f follows for
// ever, so no output can be its; the job is refused, naming the flag.
func TestTailFollowRegularFile(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"tail -f", "tail -n1 --follow", "tail -3f", "tail --fo=d"} {
		_, _, _, err := computetest.RunPipelineDiag(t, engine.Config{}, text, []byte("a\nb\n"), true)
		if compute.CodeOf(err) != compute.CodeInvalid || !strings.Contains(err.Error(), "following a regular file never ends") {
			t.Errorf("%s from a regular file: err = %v, want CodeInvalid naming the flag", text, err)
		}
	}
}
