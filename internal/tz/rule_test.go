package tz

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/testenv"
)

// glibcFormat is what GNU date prints of each time (line is Go's).
const glibcFormat = "+%Y-%m-%d %H:%M:%S %Z %z"

// line is t in loc as GNU date prints it with glibcFormat: its %z is
// the offset's sign, then its whole hours and minutes (-0000 for one
// less than a minute west), and -0000 too for zero in a zone whose
// abbreviation starts with a minus (gnulib's nstrftime; RFC 3339's
// "offset unknown").
func line(t int64, loc *time.Location) string {
	lt := time.Unix(t, 0).In(loc)
	name, off := lt.Zone()
	sign := '+'
	if off < 0 || off == 0 && strings.HasPrefix(name, "-") {
		sign = '-'
	}
	m := max(off, -off) / 60
	return fmt.Sprintf("%s %s %c%02d%02d", lt.Format("2006-01-02 15:04:05"), name, sign, m/60, m%60)
}

// rules are TZ strings that name no zone file, as people write them and
// as they go wrong: both hemispheres, half-hour and odd offsets, each
// kind of date, times of day past a day or before it, quoted names,
// defaults, and malformed strings glibc still reads part of.
var rules = []string{
	// Plain, and both hemispheres.
	"UTC0", "EST5", "JST-9", "EST5EDT", "EST5EDT,M3.2.0,M11.1.0",
	"CET-1CEST,M3.5.0,M10.5.0/3", "GMT0BST,M3.5.0/1,M10.5.0",
	"AEST-10AEDT,M10.1.0,M4.1.0/3", "NZST-12NZDT,M9.5.0,M4.1.0/3",
	"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", // America/Nuuk's
	"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", "IST-5:30", "<+0545>-5:45",
	"<-0930>9:30", "NST3:30NDT,M3.2.0,M11.1.0", "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45",
	"EST5EDT4", "EST5EDT3:30", "EST5EDT+4,M3.2.0,M11.1.0", "<-04>4<-03>,M9.1.6/24,M4.1.6/24",
	// Julian and zero-based days, and times past a day or before it.
	"EST5EDT,J60,J300", "EST5EDT,59,300", "EST5EDT,J1,J365", "EST5EDT,0,365",
	"EST5EDT,J59/23,J60/1", "EST5EDT,M3.2.0/-1,M11.1.0/26", "EST5EDT,M3.2.0/167,M11.1.0/-167",
	"EST5EDT,M3.2.0/2:30:15,M11.1.0/01:02:03", "EST5EDT,J365/25,J1/-25",
	"XXX3EDT4,0/0,J365/25", "<+00>0<+02>-2,M3.5.0/1,M10.5.0/3",
	"EST5EDT,M2.5.4,M12.5.6", "EST5EDT,M1.1.0/0,M12.5.6/24", "EST5EDT,M12.1.0,M1.1.0",
	"EST5EDT,M3.2.0", "EST5EDT,", "EST5EDT,M3.2.0,", "EST5EDT,M3.2.0/3,M3.2.0/3",
	// Offsets at and past their bounds.
	"EST25", "EST24:59:59", "EST-24:59:59", "EST24:60", "EST1:99:99", "ABC+-5", "ABC+ 5",
	"ABC5DEF-65535", "ABC99999999999999999999999", "AAA-70AAA", "ABC-24:59:59DEF",
	// Names.
	"<A1+>5<B2->4,M3.2.0,M11.1.0", "<ABCDEFGHIJKLMNOPQRSTUVWXYZ>5", "abc5def",
	// Malformed: glibc reads what it can.
	"", "garbage", "ABC", "ABC5DEF", "AB5", "<AB>5", "<A>5", "<ABC5", "ABC5junk", "ABC5 ",
	"ABC5,M3.2.0,M11.1.0", "ABC5DEF,M3.2.0,M11.1.0junk", "ABC5DEF,M3.2.0junk,M11.1.0",
	"EST5EDT,M3.2.0,junk", "EST5EDT,J0,J365", "EST5EDT,366,0", "EST5EDT,M3.6.0,M11.1.0",
	"EST5EDT,M3.0.0,M11.1.0", "EST5EDT,M3.2.7,M11.1.0", "EST5EDT,M3.2,M11.1.0",
	"EST5EDT,M3.2.0/,M11.1.0", "EST5EDT,M3.2.0/x,M11.1.0", "EST5EDT,M3.2.0/-x,M11.1.0",
	"ABC5DEF,M 3. 2. 0,M11.1.0", "ABC5DEF,M65539.2.0,M11.1.0", "ABC5DEF,M3.2.0,M11.1.0,junk",
	"EST5EDT,J60x,J300", "EST5EDT,Jx,J300", "Europe/Nowhere", "America",
}

// instants are the times checked for every rule: each year's start and
// a grid through a common and a leap year, and through the years gzip
// can name at their ends, and seeded ones from 1901 to 2106.
func instants(seed, n uint64) []int64 {
	var ts []int64
	for _, y := range []int{1901, 1969, 1970, 1971, 2000, 2023, 2024, 2037, 2038, 2100, 2105, 2106} {
		start := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		for d := int64(-3); d <= 3; d++ {
			ts = append(ts, start+d*3600)
		}
	}
	for _, y := range []int{2023, 2024} {
		start := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		for t := start; t < start+366*86400; t += 5*3600 + 77 {
			ts = append(ts, t)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	for range n {
		ts = append(ts, int64(rng.Uint64N(1<<32+1<<31))-1<<31)
	}
	return append(ts, 0, 1<<31-1, 1<<32-1)
}

// farInstants are times past the years a rule's zone spells out (to
// 2500), where Go reads the rule itself: a grid through years to
// 5881580, the last before glibc's count of days overflows an int.
func farInstants() []int64 {
	var ts []int64
	for _, y := range []int{2500, 2501, 2502, 2600, 3000, 10000, 1000000, 5881580} {
		start := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		for t := start - 86400; t < start+367*86400; t += 9*86400 + 3599 {
			ts = append(ts, t)
		}
	}
	return ts
}

// glibcLinesDir is what GNU date prints for each of ts with TZ=tz and
// TZDIR=dir, unset when dir is "".
func glibcLinesDir(t *testing.T, date, dir, tz string, ts []int64) []string {
	t.Helper()
	var in bytes.Buffer
	for _, s := range ts {
		fmt.Fprintf(&in, "@%d\n", s)
	}
	cmd := exec.Command(date, "-f", "-", glibcFormat)
	cmd.Env = []string{"LC_ALL=C", "TZ=" + tz}
	if dir != "" {
		cmd.Env = append(cmd.Env, "TZDIR="+dir)
	}
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("TZ=%q date: %v", tz, err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(ts) {
		t.Fatalf("TZ=%q: GNU date printed %d lines for %d times", tz, len(lines), len(ts))
	}
	return lines
}

// checkRule compares the zone Local takes for TZ=tz and TZDIR=dir (a
// directory without tzdata's zones) with GNU date's local time,
// abbreviation and offset at each of ts.
func checkRule(t *testing.T, date, dir, tz string, ts []int64, around bool) {
	t.Helper()
	z := Local(func(k string) (string, bool) {
		switch k {
		case "TZ":
			return tz, true
		case "TZDIR":
			return dir, true
		}
		return "", false
	})
	if z.Note != "" {
		t.Errorf("TZ=%q TZDIR=%q: %s", tz, dir, z.Note)
	}
	loc := z.Loc
	if loc == nil {
		loc = time.UTC // Go's own reading, with no zone file
	}
	if around {
		// Each side of every change the zone has from 1901 to the
		// end of the years gzip can name.
		for tt := int64(-1 << 31); tt < 1<<32; {
			_, end := time.Unix(tt, 0).In(loc).ZoneBounds()
			if end.IsZero() || end.Unix() >= 1<<32 {
				break
			}
			tt = end.Unix()
			ts = append(ts, tt-1, tt)
		}
	}
	want := glibcLinesDir(t, date, dir, tz, ts)
	bad := 0
	for i, s := range ts {
		if got := line(s, loc); got != want[i] {
			if bad++; bad <= 5 {
				t.Errorf("TZ=%q @%d: Go %q, GNU date %q", tz, s, got, want[i])
			}
		}
	}
	if bad > 5 {
		t.Errorf("TZ=%q: %d of %d times differ", tz, bad, len(ts))
	}
}

// TestRulesLikeGlibc: for every spelling in rules, the zone Local takes
// tells every time of instants, and of farInstants where Go's syntax
// can say the rule, and each side of each of its changes from 1901 to
// 2106, as GNU date does with the same TZ and no zone data.
func TestRulesLikeGlibc(t *testing.T) {
	t.Parallel()
	date := testenv.Tool(t, "date")
	empty := t.TempDir()
	ts := instants(testenv.Uint(t, "TZRULE_SEED", 1), 200)
	far := append(farInstants(), ts...)
	unsaid := 0
	for _, tz := range rules {
		if r := parseRule(tz); r.summer && r.extend() == "" {
			// Go's TZ syntax cannot say it: after 2500 the
			// zone stays as it is at 2501's start.
			unsaid++
			checkRule(t, date, empty, tz, ts, true)
			continue
		}
		checkRule(t, date, empty, tz, far, true)
	}
	t.Logf("%d of %d rules not checked past 2500", unsaid, len(rules))
}

// TestRulesGenerated: TZRULE_N (default 60; make fuzz runs more) TZ
// strings drawn from the pieces of a rule, well formed and not, each
// compared with GNU date at seeded times (TZRULE_SEED), and at
// farInstants where Go's syntax can say the rule.
func TestRulesGenerated(t *testing.T) {
	t.Parallel()
	date := testenv.Tool(t, "date")
	empty := t.TempDir()
	n := testenv.Uint(t, "TZRULE_N", 60)
	seed := testenv.Uint(t, "TZRULE_SEED", 1)
	rng := rand.New(rand.NewPCG(seed, 1))
	ts := instants(seed, 100)
	far := append(farInstants(), ts...)
	past := 0
	for range n {
		tz := genRule(rng)
		if _, ok := Rule(tz); !ok {
			// A month glibc refused and then reads its table
			// with (M13.1.0): no meaning to compare.
			past++
			continue
		}
		if r := parseRule(tz); !r.summer || r.extend() != "" {
			checkRule(t, date, empty, tz, far, false)
		} else {
			checkRule(t, date, empty, tz, ts, false)
		}
		if t.Failed() {
			t.Fatalf("TZRULE_SEED=%d", seed)
		}
	}
	t.Logf("%d rules, %d of them past glibc's month table (not compared), %d times each", n, past, len(ts))
}

// genRule draws a TZ string: names, offsets and changes, each usually
// well formed, sometimes not.
func genRule(rng *rand.Rand) string {
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	num := func(max int) string { return fmt.Sprint(rng.IntN(max + 1)) }
	name := func() string {
		return pick("EST", "CEST", "<+05>", "<-0330>", "<A1>", "AB", "<AB>", "abcdef", "", "X")
	}
	offset := func() string {
		s := pick("", "+", "-") + num(26)
		if rng.IntN(2) == 0 {
			s += ":" + num(61)
			if rng.IntN(2) == 0 {
				s += ":" + num(61)
			}
		}
		return pick(s, s, s, "", "x", "+")
	}
	date := func() string {
		return pick("M"+num(13)+"."+num(6)+"."+num(7), "J"+num(366), num(366),
			"M"+fmt.Sprint(1+rng.IntN(12))+"."+fmt.Sprint(1+rng.IntN(5))+"."+num(6), "", "x")
	}
	change := func() string {
		s := date()
		if rng.IntN(2) == 0 {
			s += "/" + pick("", "-") + num(170)
			if rng.IntN(2) == 0 {
				s += ":" + num(60)
			}
		}
		return s
	}
	s := name() + offset()
	if rng.IntN(5) > 0 {
		s += name()
		if rng.IntN(2) == 0 {
			s += offset()
		}
		if rng.IntN(5) > 0 {
			s += "," + change()
			if rng.IntN(5) > 0 {
				s += "," + change()
			}
		}
	}
	if rng.IntN(8) == 0 {
		s += pick("junk", ",", " ", "/")
	}
	return s
}

// TestPosixRulesLikeGlibc: a summer time without a rule (ABC5DEF) takes
// the changes of the zone file posixrules under TZDIR, as glibc does:
// moved to the rule's offsets, and from the file's last change its own
// TZ string. posixrules as the machine has it (Debian's: New York's),
// and as copies of zones of both hemispheres, of one whose summer time
// is negative (Dublin) and of one with no summer time since 1951
// (Tokyo); each compared with GNU date each side of every change from
// 1901 to 2106, and at farInstants (the file's TZ string, read by Go).
func TestPosixRulesLikeGlibc(t *testing.T) {
	t.Parallel()
	date := testenv.Tool(t, "date")
	const zones = "/usr/share/zoneinfo"
	ts := append(instants(5, 100), farInstants()...)
	specs := []string{"ABC5DEF", "ABC-3DEF", "<+0530>-5:30<+0630>", "ABC5DEF4:30", "ABC5DEF,", "ABC5DEF-1", "EST5EDT", "<-03>3<-02>"}
	for _, zone := range []string{"", "Europe/Berlin", "Australia/Sydney", "Europe/Dublin", "Asia/Tokyo", "America/Sao_Paulo"} {
		dir := zones
		if zone != "" {
			data, err := os.ReadFile(zones + "/" + zone)
			if err != nil {
				t.Skipf("SKIP: no zone data (%v)", err)
			}
			dir = t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "posixrules"), data, 0o644); err != nil {
				t.Fatal(err)
			}
		} else if _, err := os.Stat(zones + "/posixrules"); err != nil {
			t.Logf("no %s/posixrules: the machine's not checked", zones)
			continue
		}
		for _, tz := range specs {
			if zone == "" && tz == "EST5EDT" {
				continue // a zone file of its own there
			}
			checkRule(t, date, dir, tz, ts, true)
		}
	}
}
