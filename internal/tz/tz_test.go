package tz

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/testenv"
)

// TestLocalSources: Local takes a zone file where glibc does (TZ a name
// under TZDIR or /usr/share/zoneinfo, or a path) and leaves Go's own
// reading in place where that is the same file, and reads a rule where
// glibc finds no file; each zone it gives tells the time as GNU date
// does with the same TZ and TZDIR.
func TestLocalSources(t *testing.T) {
	t.Parallel()
	date := testenv.Tool(t, "date")
	const zones = "/usr/share/zoneinfo"
	berlin, err := os.ReadFile(zones + "/Europe/Berlin")
	if err != nil {
		t.Skipf("SKIP: no zone data (%v)", err)
	}
	tokyo, err := os.ReadFile(zones + "/Asia/Tokyo")
	if err != nil {
		t.Skipf("SKIP: no zone data (%v)", err)
	}
	empty := t.TempDir()
	// A TZDIR whose Europe/Berlin is Tokyo's zone, and a copy of
	// Berlin's elsewhere.
	other := t.TempDir()
	if err := os.MkdirAll(filepath.Join(other, "Europe"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "Europe", "Berlin"), tokyo, 0o644); err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(t.TempDir(), "berlin")
	if err := os.WriteFile(copied, berlin, 0o644); err != nil {
		t.Fatal(err)
	}
	notZone := filepath.Join(t.TempDir(), "CET-1")
	if err := os.WriteFile(notZone, []byte("not a zone file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tz, tzdir string
		unset     bool   // TZ unset
		goOwn     bool   // Local leaves Go's reading
		source    string // Zone.Source
	}{
		{unset: true, goOwn: true, source: "/etc/localtime"},
		{tz: "Europe/Berlin", goOwn: true, source: zones + "/Europe/Berlin"},
		{tz: ":Europe/Berlin", goOwn: true, source: zones + "/Europe/Berlin"},
		{tz: "UTC", goOwn: true, source: zones + "/UTC"},
		{tz: "", goOwn: true, source: zones + "/Universal"},
		{tz: ":", goOwn: true, source: "UTC"},
		{tz: copied, goOwn: true, source: copied},
		{tz: ":" + copied, goOwn: true, source: copied},
		{tz: "EST5EDT", goOwn: true, source: zones + "/EST5EDT"},
		// glibc reads TZDIR, Go does not.
		{tz: "Europe/Berlin", tzdir: other, source: other + "/Europe/Berlin"},
		{tz: "Europe/Berlin", tzdir: empty, source: "rule"},
		{tz: "EST5EDT", tzdir: empty, source: "rule"},
		{tz: "", tzdir: empty, source: "rule"},
		// Not a zone file: a rule, CET-1; a directory, UTC
		// without a name.
		{tz: notZone, source: "rule"},
		{tz: zones, source: "rule"},
		{tz: "CET-1CEST,M3.5.0,M10.5.0/3", source: "rule"},
	} {
		if strings.HasPrefix(c.source, zones+"/") {
			// Debian's tzdata-legacy has EST5EDT and Universal:
			// a machine may have Berlin and Tokyo without them.
			if _, err := os.Stat(c.source); err != nil {
				t.Logf("TZ=%q: no %s, this case not run", c.tz, c.source)
				continue
			}
		}
		env := map[string]string{"TZ": c.tz}
		if c.unset {
			delete(env, "TZ")
		}
		if c.tzdir != "" {
			env["TZDIR"] = c.tzdir
		}
		z := Local(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if z.Source != c.source || (z.Loc == nil) != c.goOwn || z.Note != "" {
			t.Errorf("TZ=%q TZDIR=%q: Local took %q (Go's own: %v, note %q), want %q (Go's own: %v)",
				c.tz, c.tzdir, z.Source, z.Loc == nil, z.Note, c.source, c.goOwn)
			continue
		}
		if c.unset {
			continue // the machine's /etc/localtime: Go's and glibc's
		}
		loc := z.Loc
		if loc == nil {
			// Go's own reading of a zone name or path.
			name := c.tz
			if name != "" && name[0] == ':' {
				name = name[1:]
			}
			if filepath.IsAbs(name) {
				data, err := os.ReadFile(name)
				if err == nil {
					loc, err = time.LoadLocationFromTZData(name, data)
				}
				if err != nil {
					t.Fatalf("TZ=%q: %v", c.tz, err)
				}
			} else if loc, err = time.LoadLocation(name); err != nil {
				t.Fatalf("TZ=%q: %v", c.tz, err)
			}
		}
		dir := c.tzdir
		ts := instants(3, 50)
		want := glibcLinesDir(t, date, dir, c.tz, ts)
		for i, s := range ts {
			if got := line(s, loc); got != want[i] {
				t.Errorf("TZ=%q TZDIR=%q @%d: Go %q, GNU date %q", c.tz, c.tzdir, s, got, want[i])
				break
			}
		}
	}
}
