package builtin_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
)

// Hand-written acceptance cases for the commands' spill paths (hunt
// sort-spill): inputs past a small --spool-mem, so sort's runs are
// written to spill files and merged back, compared with the installed
// GNU tool. (SortMinBytes -1: no floor to sort's budget, so these small
// inputs make many runs.)

// TestHuntSpillSortWrapZ: sort -z with a key whose start wraps back
// before its line (-k1.18446744073709551615: GNU reads the bytes before
// the line in its buffer, the previous lines each ended by a NUL) keeps
// those bytes before every held line; a spilled run must not write them
// as they are, as they hold NULs, -z's line delimiter, and read back
// they split the line (a panic of the server on an empty one).
func TestHuntSpillSortWrapZ(t *testing.T) {
	t.Parallel()
	cfg := engine.Config{Spool: compute.SpoolConfig{MemBytes: 4 << 10, SortMinBytes: -1, Dir: t.TempDir()}}
	var b bytes.Buffer
	for i := range 3000 {
		b.WriteString(strings.Repeat("ab\n", i%7))
		b.WriteByte("xyz"[i%3])
		b.WriteByte(0)
	}
	for _, in := range [][]byte{b.Bytes(), bytes.Repeat([]byte{'\n'}, 20000), bytes.Repeat([]byte("q"), 9000)} {
		for _, argv := range [][]string{
			{"sort", "-z", "-k1.18446744073709551615"},
			{"sort", "-z", "-k1.18446744073709551614,1.3", "-s"},
			{"sort", "-zu", "-k1.18446744073709551615,1.2"},
			{"sort", "-z", "-r", "-k1.18446744073709551613"},
		} {
			computetest.DiffGNUEnv(t, cfg, in, argv...)
		}
	}
	computetest.EmptyDir(t, cfg.Spool.Dir)
}

// TestHuntSpillSortRuns: orderings whose ties the merge of spilled runs
// decides (which of equal lines -u keeps, -s's input order, the
// last-resort comparison) over lines with many equal keys spread across
// runs, few fields, CRs, NULs and no final newline, against GNU. (The
// hunt found no difference here; this keeps it so.)
func TestHuntSpillSortRuns(t *testing.T) {
	t.Parallel()
	cfg := engine.Config{Spool: compute.SpoolConfig{MemBytes: 8 << 10, SortMinBytes: -1, Dir: t.TempDir()}}
	var b bytes.Buffer
	for i := range 3000 {
		b.WriteString([]string{"1", "01", "a", "A", "b c", "B  c", "", "-0", "1\r", "a\x00"}[i*7%10])
		b.WriteString([]string{"", " x", "\tx", " X y", " 2"}[i*3%5])
		b.WriteString([]string{"", " 1", " 10", " -1"}[i%4])
		b.WriteByte('\n')
	}
	in := append(b.Bytes(), "a x 1"...)
	for _, argv := range [][]string{
		{"sort"}, {"sort", "-u"}, {"sort", "-ru"}, {"sort", "-s", "-k1,1"}, {"sort", "-s", "-k1,1", "-r"},
		{"sort", "-nu"}, {"sort", "-ns"}, {"sort", "-fu"}, {"sort", "-fs"}, {"sort", "-k2,2", "-u"}, {"sort", "-k3,3n", "-u"},
		{"sort", "-t", " ", "-k2,2", "-s"}, {"sort", "+1", "-2", "-u"}, {"sort", "-b", "-k2"}, {"sort", "-k1.18446744073709551615", "-u"},
		{"sort", "-gu"}, {"sort", "-hu"}, {"sort", "-Vu"}, {"sort", "-Mu"}, {"sort", "-du"}, {"sort", "-z", "-u"},
	} {
		computetest.DiffGNUEnv(t, cfg, in, argv...)
	}
	computetest.EmptyDir(t, cfg.Spool.Dir)
}
