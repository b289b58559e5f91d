package tz

import (
	"math"
	"os"
	"testing"
	"time"
)

// edges are times a zone is asked about: gzip's MTIME range and its
// edges, and int64's.
var edges = []int64{math.MinInt64, math.MinInt64 + 1, -1 << 62, -1 << 40, -1 << 31, -1, 0, 1<<31 - 1, 1<<32 - 1, 1 << 33, 1 << 40, 1 << 62, math.MaxInt64 - 1, math.MaxInt64}

// maxOffset is the largest offset glibc takes, which every zone Local
// builds keeps to: it clamps hh:mm:ss to 24:59:59, and a summer time
// without an offset is an hour east of that (AAA-70AAA is +2500).
const maxOffset = 25*3600 + 59*60 + 59

// checkEdges asks loc the time at each of edges.
func checkEdges(t *testing.T, loc *time.Location) {
	for _, x := range edges {
		if name, off := time.Unix(x, 0).In(loc).Zone(); off < -maxOffset || off > maxOffset {
			t.Errorf("@%d: %s offset %d past glibc's bound", x, name, off)
		}
	}
}

// FuzzParseRule: no TZ string makes the rule reader or the zone it
// builds panic or hang, at any time.
func FuzzParseRule(f *testing.F) {
	for _, s := range rules {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		loc, ok := Rule(s)
		if !ok {
			return
		}
		checkEdges(t, loc)
	})
}

// FuzzPosixRules: no posixrules file (glibc reads whatever TZDIR
// holds) and no summer time without a rule make the file reader or
// the zone it builds panic or hang, at any time.
func FuzzPosixRules(f *testing.F) {
	for _, zone := range []string{"America/New_York", "Europe/Dublin", "Australia/Sydney", "Asia/Tokyo"} {
		if data, err := os.ReadFile("/usr/share/zoneinfo/" + zone); err == nil {
			f.Add(data, "ABC5DEF")
		}
	}
	f.Add([]byte("TZif2"), "EST5EDT,")
	f.Fuzz(func(t *testing.T, data []byte, s string) {
		r := parseRule(s)
		loc, _, ok := r.onFileRules(s, data)
		if !ok {
			return
		}
		checkEdges(t, loc)
	})
}
