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
		var offs []int64
		spilled := false
		off := int64(0)
		for i := range 3000 {
			line := strings.Repeat("x", i%17) + strconv.Itoa(i)
			all = append(all, line)
			offs = append(offs, off)
			if err := b.push([]byte(line), false, off); err != nil {
				t.Fatal(err)
			}
			spilled = spilled || len(b.batches) > 0
			off += int64(len(line) + 1)
		}
		if n > 100 && !spilled {
			t.Errorf("n=%d: nothing spilled", n)
		}
		var got []string
		var gotOffs []int64
		if err := b.each(t.Context(), func(l []byte, off int64) { got, gotOffs = append(got, string(l)), append(gotOffs, off) }); err != nil {
			t.Fatal(err)
		}
		want := all[max(0, int64(len(all))-n):]
		if !slices.Equal(gotOffs, offs[len(all)-len(want):]) {
			t.Errorf("n=%d: offsets differ", n)
		}
		if !slices.Equal(got, want) || b.lines != int64(len(want)) || b.dropped != (n < 3000) {
			t.Errorf("n=%d: %d lines (held %d, dropped %v), want the last %d", n, len(got), b.lines, b.dropped, len(want))
		}
		b.reset()
		b.close()
	}
}
