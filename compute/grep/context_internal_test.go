package grep

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
)

// TestBeforeRingSpills: the before-context keeps exactly the last n
// lines, in order, when most of them went to its spill file.
func TestBeforeRingSpills(t *testing.T) {
	for _, n := range []int64{0, 1, 3, 50, 1000, 2999, 3000, 5000} {
		b := beforeRing{n: n, keep: true, spool: compute.SpoolConfig{MemBytes: 1, Dir: t.TempDir()}, memMax: 100, lineLimit: 1 << 20}
		var all []string
		spilled := false
		for i := range 3000 {
			line := strings.Repeat("x", i%17) + strconv.Itoa(i)
			all = append(all, line)
			if err := b.push([]byte(line), false); err != nil {
				t.Fatal(err)
			}
			spilled = spilled || len(b.batches) > 0
		}
		if n > 100 && !spilled {
			t.Errorf("n=%d: nothing spilled", n)
		}
		var got []string
		if err := b.each(func(l []byte) { got = append(got, string(l)) }); err != nil {
			t.Fatal(err)
		}
		want := all[max(0, int64(len(all))-n):]
		if !slices.Equal(got, want) || b.lines != int64(len(want)) || b.dropped != (n < 3000) {
			t.Errorf("n=%d: %d lines (held %d, dropped %v), want the last %d", n, len(got), b.lines, b.dropped, len(want))
		}
		b.reset()
		b.close()
	}
}
