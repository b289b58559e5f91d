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
// GNU tool.

// TestHuntSpillSortWrapZ: sort -z with a key whose start wraps back
// before its line (-k1.18446744073709551615: GNU reads the bytes before
// the line in its buffer, the previous lines each ended by a NUL) keeps
// those bytes before every held line; a spilled run must not write them
// as they are, as they hold NULs, -z's line delimiter, and read back
// they split the line (a panic of the server on an empty one).
func TestHuntSpillSortWrapZ(t *testing.T) {
	t.Parallel()
	cfg := engine.Config{Spool: compute.SpoolConfig{MemBytes: 4 << 10, Dir: t.TempDir()}}
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
