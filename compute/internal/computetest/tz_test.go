package computetest

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/testenv"
)

// TestTZLikeGlibc: Go's zone from UseTZ (tzLocation) tells the time as
// GNU date does with the oracles' TZ on a machine without zone data
// (TZDIR empty, as a system without Debian's tzdata): every local time
// and offset the same, at the epoch, around each summer shift (the
// minutes that do not exist and those that come twice), at 2^31-1 and
// 2^32-1 (gzip's largest MTIME), and every 7 hours and a bit through a
// year.
func TestTZLikeGlibc(t *testing.T) {
	t.Parallel()
	loc, err := tzLocation()
	if err != nil {
		t.Fatal(err)
	}
	stamps := []int64{0, 1, 1<<31 - 1, 1<<32 - 1}
	for _, shift := range []int64{1696089600, 1712413800, 2058966000, 2075297400} { // 2023, 2024, 2035
		for d := int64(-7200); d <= 7200; d += 600 {
			stamps = append(stamps, shift+d)
		}
	}
	for s := int64(1700000000); s < 1700000000+366*86400; s += 7*3600 + 77 {
		stamps = append(stamps, s)
	}
	var in bytes.Buffer
	var want strings.Builder
	for _, s := range stamps {
		fmt.Fprintf(&in, "@%d\n", s)
		want.WriteString(time.Unix(s, 0).In(loc).Format("2006-01-02 15:04:05 -0700\n"))
	}
	cmd := exec.Command(testenv.Tool(t, "date"), "-f", "-", "+%F %T %z")
	cmd.Env = []string{"LC_ALL=C", "TZ=" + TZ, "TZDIR=" + t.TempDir()}
	cmd.Stdin = &in
	got, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	g, w := strings.Split(string(got), "\n"), strings.Split(want.String(), "\n")
	if len(g) != len(w) {
		t.Fatalf("GNU date printed %d lines for %d times", len(g)-1, len(w)-1)
	}
	for i := range w {
		if g[i] != w[i] {
			t.Errorf("@%d: Go %q, GNU date %q", stamps[i], w[i], g[i])
		}
	}
}
