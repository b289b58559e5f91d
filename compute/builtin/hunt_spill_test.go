package builtin_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
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

// TestHuntSpillLimitNoPartial: a job whose reply passes the disk budget
// (--spool-disk) fails with RESOURCE_EXHAUSTED alone, no part of its
// reply before it (on the raw-TCP port: the error line, not the reply's
// first megabytes and a reset). uniq went on reading after its write had
// failed and so ended the input: its first 1.1 MB went out, then the
// error (uniq -c of 6 MB under a budget of 1 MiB). With the budget it
// needs, each is GNU's output.
func TestHuntSpillLimitNoPartial(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	for i := range 150000 {
		fmt.Fprintf(&b, "%d %x line\n", i%7919, int64(i)*2654435761%1000003)
	}
	in := b.Bytes() // 2.8 MB, every line its own group
	for _, argv := range [][]string{
		{"uniq", "-c"}, {"uniq", "--group"}, {"uniq", "-D", "-w", "1"}, {"uniq", "--all-repeated=prepend", "-w", "2"},
		{"base64"}, {"cut", "-c1-"}, {"tac"}, {"sort", "-k2"},
	} {
		cfg := engine.Config{Spool: compute.SpoolConfig{MemBytes: 64 << 10, Dir: t.TempDir(), Disk: compute.NewDiskBudget(256 << 10)}}
		e := computetest.Engine(cfg)
		p, err := e.Compile(shquote.Join(argv))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		st, err := e.Run(t.Context(), p, bytes.NewReader(in), &out)
		if compute.CodeOf(err) != compute.CodeResourceExhausted || out.Len() != 0 {
			t.Errorf("%s past the disk budget: %d bytes of output, then %v; want RESOURCE_EXHAUSTED alone", shquote.Join(argv), out.Len(), err)
		}
		// A stage whose write failed stops: the rest of the input is
		// not read for nothing (uniq read on to its end).
		if st.InputBytes == int64(len(in)) {
			t.Errorf("%s past the disk budget read all of its input", shquote.Join(argv))
		}
		computetest.EmptyDir(t, cfg.Spool.Dir)
		cfg.Spool.Disk = compute.NewDiskBudget(64 << 20)
		computetest.DiffGNUEnv(t, cfg, in, argv...)
	}
}
