// Package tz gives a Go program the local time zone glibc's tzset takes
// for the same environment, so that a time halfclosed lists (gzip -lv)
// is the one a GNU tool run with the server's TZ would list.
//
// Go reads TZ only as a zone file's name or a :path, and falls back to
// UTC for anything else; glibc reads what names no zone file as a POSIX
// rule (CET-1CEST,M3.5.0,M10.5.0/3), and never rejects one: what it
// cannot read it leaves as far as it got. Local says where the two
// differ, and what glibc takes there.
package tz

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Zone is what glibc takes for an environment's TZ.
type Zone struct {
	// Loc is glibc's zone for Go, nil when Go's own reading of the
	// environment (time.Local as it stands) is the same.
	Loc *time.Location
	// Source says where it comes from, for the log: "/etc/localtime"
	// (TZ unset), a zone file's path, "rule", "rule on" the posixrules
	// file's path, or "UTC".
	Source string
	// Note, when not empty, is a difference from glibc left in place
	// (see Local).
	Note string
}

// defaultDir is where glibc (as built by Debian and most others) and Go
// look for a zone name without a TZDIR.
const defaultDir = "/usr/share/zoneinfo"

// goSources are the directories Go's time package searches for a zone
// name, in its order (time.platformZoneSources on Unix).
var goSources = []string{"/usr/share/zoneinfo/", "/usr/share/lib/zoneinfo/", "/usr/lib/locale/TZ/", "/etc/zoneinfo"}

// maxZoneFile bounds what Local reads of a file TZ names: zone files
// are a few kilobytes, and TZ may name anything (Go's own limit).
const maxZoneFile = 10 << 20

// Local is the zone glibc's tzset takes with the environment getenv
// reads (os.LookupEnv): TZ unset, /etc/localtime (as Go); TZ="", the
// zone file Universal, else UTC; TZ=[:]name or [:]/path, that zone
// file (a name under TZDIR, else /usr/share/zoneinfo), and when there
// is none, name read as a POSIX rule, as glibc reads it, malformed or
// not; a summer zone without a rule (ABC5DEF) on the changes of the
// zone file posixrules there, else on the US rule M3.2.0,M11.1.0.
// Note says where the zone is not glibc's: a rule glibc reads past its
// tables for, abbreviations too long for a zone file, a posixrules
// with leap seconds.
func Local(getenv func(string) (string, bool)) Zone {
	tz, set := getenv("TZ")
	if !set {
		return Zone{Source: "/etc/localtime"}
	}
	name := tz
	if name == "" {
		name = "Universal"
	}
	if name[0] == ':' {
		name = name[1:]
	}
	if name == "" {
		return Zone{Source: "UTC"} // glibc's UTC, and Go's
	}
	dir, _ := getenv("TZDIR")
	if dir == "" {
		dir = defaultDir
	}
	path := name
	if !filepath.IsAbs(name) {
		path = dir + "/" + name
	}
	if loc := zoneFile(path, name); loc != nil {
		if goFile(tz) == filepath.Clean(path) {
			return Zone{Source: path}
		}
		return Zone{Loc: loc, Source: path}
	}
	r := parseRule(name)
	z := Zone{Source: "rule"}
	if r.noRule {
		// glibc's __tzfile_default: the changes of the posixrules
		// zone file, when there is one, moved to the rule's offsets.
		rules := dir + "/posixrules"
		if data := readZone(rules); data != nil {
			loc, taken, ok := r.onFileRules(name, data)
			switch {
			case ok:
				return Zone{Loc: loc, Source: "rule on " + rules}
			case taken:
				z.Note = "the posixrules zone file has leap seconds, or a TZ string glibc reads past its tables for: kept Go's UTC"
				return z
			}
		}
	}
	loc, ok := r.zone(name)
	if !ok {
		z.Note = "a rule glibc reads past its own tables for, or whose abbreviations are over 254 bytes: kept Go's UTC"
		return z
	}
	z.Loc = loc
	return z
}

// Rule is s read as glibc reads a TZ that names no zone file, with no
// posixrules file (a summer zone without a rule takes M3.2.0,M11.1.0),
// as a Go zone named s. ok is false where Local's Note would say so.
func Rule(s string) (loc *time.Location, ok bool) {
	return parseRule(s).zone(s)
}

// zoneFile is the zone file at path, nil when there is none there or it
// is not one (glibc then reads the name as a rule).
func zoneFile(path, name string) *time.Location {
	data := readZone(path)
	if data == nil {
		return nil
	}
	loc, err := time.LoadLocationFromTZData(name, data)
	if err != nil {
		return nil
	}
	return loc
}

// readZone is the file at path when it starts as a zone file does, nil
// when there is none or it does not.
func readZone(path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxZoneFile))
	if err != nil || !bytes.HasPrefix(data, []byte("TZif")) {
		return nil
	}
	return data
}

// goFile is the zone file Go's time package reads for TZ=tz (its
// initLocal), cleaned, or "" when it takes UTC. For TZ=UTC it is the
// file of that name under /usr/share/zoneinfo, and for TZ="" the file
// Universal, which glibc reads: Go's UTC and those are the same zone.
func goFile(tz string) string {
	if tz == "" {
		return filepath.Clean(defaultDir + "/Universal")
	}
	if tz[0] == ':' {
		tz = tz[1:]
	}
	switch {
	case tz == "":
		return ""
	case tz == "UTC":
		return filepath.Clean(defaultDir + "/UTC")
	case filepath.IsAbs(tz):
		if zoneFile(tz, tz) != nil {
			return filepath.Clean(tz)
		}
		return ""
	}
	for _, dir := range goSources {
		if p := dir + "/" + tz; zoneFile(p, tz) != nil {
			return filepath.Clean(p)
		}
	}
	return ""
}
