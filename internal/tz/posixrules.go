package tz

import (
	"encoding/binary"
	"time"
)

// zoneFileData is what glibc reads of a zone file (RFC 8536): the
// version 2+ block when there is one, else version 1's.
type zoneFileData struct {
	when   []int64
	idx    []uint8
	types  []fileType
	leaps  int
	footer string // version 2+'s TZ string, "" when none
}

type fileType struct {
	offset      int
	dst         bool
	abbr        string
	isStd, isUT bool
}

// readZoneFile reads data as glibc's __tzfile_read does, as far as a
// zone's times go; ok is false where glibc gives up on it.
func readZoneFile(data []byte) (z zoneFileData, ok bool) {
	const headerLen = 44
	width := 4
	for {
		if len(data) < headerLen || string(data[:4]) != "TZif" {
			return z, false
		}
		version := data[4]
		// A count over the file's length cannot be; refused, the
		// sums below stay far inside an int also where it has 32
		// bits (a count of 2^32-1 would be -1 there).
		fits := true
		n := func(k int) int {
			v := binary.BigEndian.Uint32(data[20+4*k:])
			if uint64(v) > uint64(len(data)) {
				fits = false
				return 0
			}
			return int(v)
		}
		isut, isstd, leapcnt, timecnt, typecnt, charcnt := n(0), n(1), n(2), n(3), n(4), n(5)
		if !fits || isstd > typecnt || isut > typecnt {
			return z, false
		}
		size := timecnt*(width+1) + typecnt*6 + charcnt + leapcnt*(width+4) + isstd + isut
		body := data[headerLen:]
		if len(body) < size {
			return z, false
		}
		if width == 4 && version != 0 {
			data, width = body[size:], 8
			continue
		}
		p := body
		for i := range timecnt {
			if width == 4 {
				z.when = append(z.when, int64(int32(binary.BigEndian.Uint32(p[4*i:]))))
			} else {
				z.when = append(z.when, int64(binary.BigEndian.Uint64(p[8*i:])))
			}
		}
		p = p[timecnt*width:]
		z.idx = append(z.idx, p[:timecnt]...)
		p = p[timecnt:]
		for _, x := range z.idx {
			if int(x) >= typecnt {
				return z, false
			}
		}
		chars := p[typecnt*6 : typecnt*6+charcnt]
		for i := range typecnt {
			t := p[6*i:]
			if t[4] > 1 || int(t[5]) > charcnt {
				return z, false
			}
			abbr := chars[t[5]:]
			for k, c := range abbr {
				if c == 0 {
					abbr = abbr[:k]
					break
				}
			}
			z.types = append(z.types, fileType{offset: int(int32(binary.BigEndian.Uint32(t))), dst: t[4] == 1, abbr: string(abbr)})
		}
		p = p[typecnt*6+charcnt:]
		z.leaps = leapcnt
		p = p[leapcnt*(width+4):]
		for i := range isstd {
			z.types[i].isStd = p[i] != 0
		}
		p = p[isstd:]
		for i := range isut {
			z.types[i].isUT = p[i] != 0
		}
		p = p[isut:]
		if width == 8 && len(p) < 2 {
			return z, false // glibc's "no room for a TZ string"
		}
		if width == 8 && p[0] == '\n' {
			// glibc takes all that is left but the last byte
			// (the closing newline) as the TZ string.
			z.footer = string(p[1 : len(p)-1])
			for k := 0; k < len(z.footer); k++ {
				if z.footer[k] == 0 {
					z.footer = z.footer[:k]
					break
				}
			}
		}
		return z, true
	}
}

// onFileRules is r, a summer zone with no rule of its own, on the
// changes of the zone file data as glibc's __tzfile_default puts them:
// every change of the file, moved by the difference between r's offsets
// and the file's last ones, to r's standard or summer time as the file
// changes to its own; before the first, r's standard time; from the
// last, the file's own TZ string, names and offsets and all (glibc
// 2.36 does so), or its last change's zone when it has none. ok is
// false where glibc does not take the file (not a zone file, fewer than
// two types), and leaps too where it does but the result is not one
// Go can be given (leap seconds, a TZ string glibc reads past its
// tables with): not false then.
func (r rule) onFileRules(name string, data []byte) (loc *time.Location, taken, ok bool) {
	f, ok := readZoneFile(data)
	if !ok || len(f.types) < 2 {
		return nil, false, false
	}
	if f.leaps > 0 {
		return nil, true, false
	}
	if len(f.when) == 0 {
		return time.FixedZone(r.name[0], r.offset[0]), true, true
	}
	// The file's offsets the changes are moved from: its standard
	// one, of its last change to standard time; and for summer time
	// 0, not the file's, as glibc since its fix of bug 29951 (2.37,
	// in Debian's 2.36) has it: that fix stopped setting the summer
	// offset, which a process's first posixrules read finds zero.
	var ruleOff [2]int
	for i := len(f.when) - 1; i >= 0; i-- {
		if t := f.types[f.idx[i]]; !t.dst {
			ruleOff[0] = t.offset
			break
		}
	}
	types := []ltype{{r.offset[0], false, r.name[0]}, {r.offset[1], true, r.name[1]}}
	var tx []ztx
	summer := false
	for i, when := range f.when {
		t := f.types[f.idx[i]]
		switch {
		case t.isUT:
		case summer && !t.isStd:
			when += int64(r.offset[1] - ruleOff[1])
		default:
			when += int64(r.offset[0] - ruleOff[0])
		}
		k := 0
		if t.dst {
			k = 1
		}
		tx = append(tx, ztx{when, k})
		summer = t.dst
	}
	last := tx[len(tx)-1].when
	extend := ""
	if f.footer != "" {
		fr := parseRule(f.footer)
		base := len(types)
		if !fr.summer {
			types = append(types, ltype{fr.offset[0], false, fr.name[0]})
			tx[len(tx)-1] = ztx{last, base}
		} else {
			ftx, ok := fr.transitions()
			if !ok {
				return nil, true, false
			}
			types = append(types, ltype{fr.offset[0], false, fr.name[0]}, ltype{fr.offset[1], true, fr.name[1]})
			state := ftx[0].state
			for _, t := range ftx {
				if t.when > last {
					break
				}
				state = t.state
			}
			tx[len(tx)-1] = ztx{last, base + state}
			for _, t := range ftx {
				if t.when > last {
					tx = append(tx, ztx{t.when, base + t.state})
				}
			}
			extend = fr.extend()
		}
	}
	loc, ok = load(name, types, tx, extend)
	return loc, true, ok
}
