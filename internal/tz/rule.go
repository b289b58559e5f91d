package tz

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// rule is a POSIX TZ string as glibc's tzset reads it (its
// __tzset_parse_tz): the standard and summer zones, and the two
// changes, each kept as glibc keeps it, also what a malformed string
// leaves half set.
type rule struct {
	name   [2]string // abbreviations: standard, summer
	offset [2]int    // seconds east of UTC
	change [2]change // to summer (in standard time), back (in summer time)
	// summer: the string names a summer zone, and glibc works out
	// changes; else the zone is name[0] at offset[0] all year.
	summer bool
	// noRule: the summer zone came with no rule (EST5EDT), for which
	// glibc reads its posixrules file when it has one.
	noRule bool
}

// change is one of a rule's two changes of a year: a date and a time of
// that day.
type change struct {
	kind    changeKind
	m, n, d uint16 // month, week and weekday (kind m); the day (kinds n, j)
	secs    int    // time of day, in seconds: may be negative, or a day or more
}

type changeKind uint8

const (
	// kindN is n, the zero-based day of the year (February 29 counts):
	// also what a change glibc could not read is left as, day 0.
	kindN changeKind = iota
	kindJ            // Jn, 1 to 365, February 29 never counted
	kindM            // Mm.n.d
)

// parseRule reads s as glibc reads a TZ that names no zone file. glibc
// never rejects one: what it cannot read it leaves as it was (zero: UTC
// without an abbreviation, a change at day 0, 00:00), and stops. So
// does parseRule, which is why it returns no error.
func parseRule(s string) rule {
	p := &ruleParser{s: s}
	var r rule
	if !p.name(&r, 0) || !p.offset(&r, 0) || p.at(0) == 0 {
		// glibc keeps the name it read, even without an offset.
		return r
	}
	r.summer = true
	if p.name(&r, 1) {
		p.offset(&r, 1)
		if p.at(0) == 0 || (p.at(0) == ',' && p.at(1) == 0) {
			// glibc would read the rules of its posixrules file
			// here, when it has one (see Local); without, the
			// US rule below.
			r.noRule = true
		}
	}
	if p.change(&r.change[0], 0) {
		p.change(&r.change[1], 1)
	}
	return r
}

// ruleParser walks a TZ string as glibc's parser does: a C string, so
// past its end is a NUL.
type ruleParser struct {
	s string
	i int
}

func (p *ruleParser) at(k int) byte {
	if p.i+k < len(p.s) {
		return p.s[p.i+k]
	}
	return 0
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }

// name reads an abbreviation: three or more letters, or <...> of three
// or more letters, digits, + and -.
func (p *ruleParser) name(r *rule, which int) bool {
	j := p.i
	for j < len(p.s) && isLetter(p.s[j]) {
		j++
	}
	if j-p.i >= 3 {
		r.name[which] = p.s[p.i:j]
		p.i = j
		return true
	}
	if p.at(0) != '<' {
		return false
	}
	start := p.i + 1
	j = start
	for j < len(p.s) && (isLetter(p.s[j]) || isDigit(p.s[j]) || p.s[j] == '+' || p.s[j] == '-') {
		j++
	}
	if j >= len(p.s) || p.s[j] != '>' || j-start < 3 {
		return false
	}
	r.name[which] = p.s[start:j]
	p.i = j + 1
	return true
}

// offset reads [+-]hh[:mm[:ss]], west of UTC when unsigned or +. The
// summer offset may be missing (an hour east of the standard one).
// Each part is read as C's sscanf %hu reads it, and clamped to 24, 59
// and 59 as glibc does.
func (p *ruleParser) offset(r *rule, which int) bool {
	c := p.at(0)
	if which == 0 && c != '+' && c != '-' && !isDigit(c) {
		return false
	}
	sign := -1
	if c == '+' || c == '-' {
		if c == '-' {
			sign = 1
		}
		p.i++
	}
	hh, mm, ss, n, ok := p.hms()
	if !ok {
		if which == 0 {
			r.offset[0] = 0
			return false
		}
		r.offset[1] = r.offset[0] + 3600
		return true
	}
	hh, mm, ss = min(hh, 24), min(mm, 59), min(ss, 59)
	r.offset[which] = sign * (int(hh)*3600 + int(mm)*60 + int(ss))
	p.i += n
	return true
}

// hms is sscanf(s, "%hu%n:%hu%n:%hu%n", ...) at the cursor: the parts
// read (mm and ss zero when absent), how many bytes the last part read
// ended at, and whether hh was read. It does not move the cursor.
func (p *ruleParser) hms() (hh, mm, ss uint16, n int, ok bool) {
	s := p.s[p.i:]
	v, k, ok := scanU16(s)
	if !ok {
		return 0, 0, 0, 0, false
	}
	hh, n = v, k
	if n < len(s) && s[n] == ':' {
		if v, k, ok := scanU16(s[n+1:]); ok {
			mm, n = v, n+1+k
			if n < len(s) && s[n] == ':' {
				if v, k, ok := scanU16(s[n+1:]); ok {
					ss, n = v, n+1+k
				}
			}
		}
	}
	return hh, mm, ss, n, true
}

// scanU16 is C's sscanf %hu: white space, a sign, decimal digits (at
// least one), the number's low 16 bits (strtoul's, so a number over
// 2^64-1 is all ones and a negative one wraps). It returns the value,
// the bytes read, and whether there was a number.
func scanU16(s string) (uint16, int, bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || '\t' <= s[i] && s[i] <= '\r') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var v uint64
	over := false
	for i < len(s) && isDigit(s[i]) {
		d := uint64(s[i] - '0')
		if v > (math.MaxUint64-d)/10 {
			over = true
		}
		v = v*10 + d
		i++
	}
	if i == start {
		return 0, 0, false
	}
	if over {
		v = math.MaxUint64 // strtoul's ERANGE value, sign or not
	} else if neg {
		v = -v
	}
	return uint16(v), i, true
}

// change reads a date and an optional /time (02:00 by default) into c,
// as glibc's parse_rule does: a comma before it is skipped, and a
// missing date (end of string) is the US rule, M3.2.0 to summer and
// M11.1.0 back. On failure c keeps what was read before it.
func (p *ruleParser) change(c *change, which int) bool {
	if p.at(0) == ',' {
		p.i++
	}
	switch ch := p.at(0); {
	case ch == 'J' || isDigit(ch):
		c.kind = kindN
		if ch == 'J' {
			c.kind = kindJ
			p.i++
			if !isDigit(p.at(0)) {
				return false
			}
		}
		j := p.i
		var d uint64
		for j < len(p.s) && isDigit(p.s[j]) {
			if d <= 365 {
				d = d*10 + uint64(p.s[j]-'0')
			}
			j++
		}
		if d > 365 || c.kind == kindJ && d == 0 {
			return false
		}
		c.d = uint16(d)
		p.i = j
	case ch == 'M':
		c.kind = kindM
		if !p.mdate(c) || c.m < 1 || c.m > 12 || c.n < 1 || c.n > 5 || c.d > 6 {
			return false
		}
	case ch == 0:
		c.kind = kindM
		if which == 0 {
			c.m, c.n, c.d = 3, 2, 0
		} else {
			c.m, c.n, c.d = 11, 1, 0
		}
	default:
		return false
	}
	switch p.at(0) {
	case 0, ',':
		c.secs = 2 * 3600
	case '/':
		p.i++
		if p.at(0) == 0 {
			return false
		}
		sign := 1
		if p.at(0) == '-' {
			sign = -1
			p.i++
		}
		hh, mm, ss, n, ok := p.hms()
		if !ok {
			hh, mm, ss, n = 2, 0, 0, 0
		}
		p.i += n
		c.secs = sign * (int(hh)*3600 + int(mm)*60 + int(ss))
	default:
		return false
	}
	return true
}

// mdate is sscanf(s, "M%hu.%hu.%hu%n", &m, &n, &d, &consumed) == 3: it
// sets the parts it reads, in order, also when a later one fails, and
// moves the cursor past all three when all are read.
func (p *ruleParser) mdate(c *change) bool {
	s := p.s[p.i+1:] // past the M
	parts := [3]*uint16{&c.m, &c.n, &c.d}
	n := 0
	for k, part := range parts {
		if k > 0 {
			if n >= len(s) || s[n] != '.' {
				return false
			}
			n++
		}
		v, w, ok := scanU16(s[n:])
		if !ok {
			return false
		}
		*part = v
		n += w
	}
	p.i += 1 + n
	return true
}

// monthStart is glibc's __mon_yday: the days of the year before each
// month, and 365 or 366 at the end, for common and leap years, in the
// order they lie in memory.
var monthStart = [26]int64{
	0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365,
	0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366,
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// at is when c happens in year (a UTC year), seconds since the epoch,
// as glibc's compute_change has it: from January 1 of the year (of
// 1970 for any year before, as glibc does), the day, the time of day,
// less the offset of the zone it is told in. ok is false where glibc
// would read outside its month table (a month glibc refused, left set).
func (c change) at(year int, offset int) (t int64, ok bool) {
	if year > 1970 {
		t = time.Date(year, time.January, 1, 0, 0, 0, 0, time.UTC).Unix()
	}
	leap := 0
	if isLeap(year) {
		leap = 1
	}
	switch c.kind {
	case kindJ:
		t += (int64(c.d) - 1) * 86400
		if c.d >= 60 && leap == 1 {
			t += 86400
		}
	case kindN:
		t += int64(c.d) * 86400
	case kindM:
		i := leap*13 + int(c.m)
		if i-1 < 0 || i >= len(monthStart) {
			return 0, false
		}
		t += monthStart[i-1] * 86400
		m1 := (int(c.m)+9)%12 + 1
		yy0 := year
		if c.m <= 2 {
			yy0--
		}
		yy1, yy2 := yy0/100, yy0%100
		dow := ((26*m1-2)/10 + 1 + yy2 + yy2/4 + yy1/4 - 2*yy1) % 7
		if dow < 0 {
			dow += 7
		}
		d := int(c.d) - dow
		if d < 0 {
			d += 7
		}
		for k := 1; k < int(c.n); k++ {
			if int64(d+7) >= monthStart[i]-monthStart[i-1] {
				break
			}
			d += 7
		}
		t += int64(d) * 86400
	}
	return t - int64(offset) + int64(c.secs), true
}

// The years for which a rule's zone spells out its changes. Before
// them the zone stays as it was at the start of firstYear (glibc counts
// a year before 1970 from 1970, so its changes there say little). After
// them Go reads the rule itself (the zone file's footer, see extend),
// as glibc does from 1970 on; where Go's syntax cannot say the rule,
// the zone stays as it is at the start of lastYear+1. glibc's range is
// time_t's, but a gzip member's time (0 to 2^32-1) lies between 1970
// and 2106, and a log's now well inside too.
const (
	firstYear = 1900
	lastYear  = 2500
)

// zone is r as a Go zone, named name: a zone file (RFC 8536) whose
// transitions are r's for every year from firstYear to lastYear, and
// whose TZ string is r where Go's syntax can say it. ok is
// false when r is one glibc reads past its tables for.
func (r rule) zone(name string) (*time.Location, bool) {
	if !r.summer {
		return time.FixedZone(r.name[0], r.offset[0]), true
	}
	tx, ok := r.transitions()
	if !ok {
		return nil, false
	}
	// Type 0, which no transition uses, is the first transition's:
	// Go takes it for the times before.
	std, dst := ltype{r.offset[0], false, r.name[0]}, ltype{r.offset[1], true, r.name[1]}
	types := []ltype{std, std, dst}
	if tx[0].state == 1 {
		types[0] = dst
	}
	ztxs := make([]ztx, len(tx))
	for i, t := range tx {
		ztxs[i] = ztx{t.when, 1 + t.state}
	}
	return load(name, types, ztxs, r.extend())
}

// maxGoChange is the largest time of day Go's TZ syntax has for a
// change (tzcode's 167:59:59, which Go takes to 168:59:59); glibc's
// goes to 65535 hours, minutes and seconds each.
const maxGoChange = 168*3600 + 59*60 + 59

// extend is r in Go's TZ syntax (a zone file's footer, RFC 8536 3.3),
// which Go reads for every time after the last transition: from 1970
// on its reading is glibc's (each UTC year's two changes, in summer
// between them, or outside them when the change back comes first).
// "" when Go's syntax cannot say r: a change time past maxGoChange, a
// weekday 7 or a Julian day 0 glibc refused but kept.
func (r rule) extend() string {
	b := []byte{}
	for k := range 2 {
		b = append(b, '<')
		b = append(b, r.name[k]...)
		b = append(b, '>')
		b = appendHMS(b, -r.offset[k])
	}
	for _, c := range r.change {
		b = append(b, ',')
		switch c.kind {
		case kindJ:
			if c.d < 1 || c.d > 365 {
				return ""
			}
			b = fmt.Appendf(b, "J%d", c.d)
		case kindN:
			if c.d > 365 {
				return ""
			}
			b = fmt.Appendf(b, "%d", c.d)
		case kindM:
			if c.m < 1 || c.m > 12 || c.d > 6 {
				return ""
			}
			// glibc's week loop makes a week 0 the first and
			// one past 5 the last.
			b = fmt.Appendf(b, "M%d.%d.%d", c.m, min(max(c.n, 1), 5), c.d)
		}
		if c.secs > maxGoChange || c.secs < -maxGoChange {
			return ""
		}
		b = appendHMS(append(b, '/'), c.secs)
	}
	return string(b)
}

// appendHMS appends secs as [-]h:mm:ss.
func appendHMS(b []byte, secs int) []byte {
	if secs < 0 {
		b, secs = append(b, '-'), -secs
	}
	return fmt.Appendf(b, "%d:%02d:%02d", secs/3600, secs/60%60, secs%60)
}

// transitions are r's changes from firstYear to lastYear, worked out as
// glibc works them out: each UTC year's two changes, in summer between
// them, or outside them when the change back comes first in the year.
// The first is the state at the start of firstYear. ok is false when r
// is one glibc reads past its tables for.
// After them, one more at the start of lastYear+1, whether the state
// changes there or not: from it Go reads the rule itself (extend),
// and glibc's reading of that year is Go's.
func (r rule) transitions() (tx []transition, ok bool) {
	state := -1
	for y := firstYear; y <= lastYear+1; y++ {
		start := time.Date(y, time.January, 1, 0, 0, 0, 0, time.UTC).Unix()
		end := time.Date(y+1, time.January, 1, 0, 0, 0, 0, time.UTC).Unix()
		on, ok0 := r.change[0].at(y, r.offset[0])
		off, ok1 := r.change[1].at(y, r.offset[1])
		if !ok0 || !ok1 {
			return nil, false
		}
		summer := func(t int64) int {
			var in bool
			if on > off {
				in = t < off || t >= on
			} else {
				in = t >= on && t < off
			}
			if in {
				return 1
			}
			return 0
		}
		// The changes may come in either order, or not in this
		// year at all: look at each piece of the year from its start.
		points := []int64{start}
		if on > start && on < end {
			points = append(points, on)
		}
		if off > start && off < end {
			points = append(points, off)
		}
		if len(points) == 3 && points[1] > points[2] {
			points[1], points[2] = points[2], points[1]
		}
		if y > lastYear {
			tx = append(tx, transition{start, summer(start)})
			break
		}
		for _, t := range points {
			if s := summer(t); s != state {
				tx = append(tx, transition{t, s})
				state = s
			}
		}
	}
	return tx, true
}

type transition struct {
	when  int64
	state int // 0 standard, 1 summer
}

// ltype is a zone file's local time type.
type ltype struct {
	offset int
	dst    bool
	abbr   string
}

// ztx is a zone file's transition: when, to which type.
type ztx struct {
	when int64
	typ  int
}

// load is the zone of types and tx, and after the last of tx the rule
// extend (none when ""): a version 2 zone file, whose version 1 block
// Go skips; ok false when the abbreviations are too long for one (a
// zone file indexes them with a byte).
func load(name string, types []ltype, tx []ztx, extend string) (*time.Location, bool) {
	var abbr []byte
	at := map[string]int{}
	for _, t := range types {
		if _, ok := at[t.abbr]; !ok {
			if len(abbr) > math.MaxUint8 {
				return nil, false
			}
			at[t.abbr] = len(abbr)
			abbr = append(append(abbr, t.abbr...), 0)
		}
	}
	var b []byte
	header := func(timecnt, typecnt, charcnt int) {
		b = append(b, "TZif2"...)
		b = append(b, make([]byte, 15)...)
		for _, n := range []int{0, 0, 0, timecnt, typecnt, charcnt} { // isut, isstd, leap, time, type, char
			b = binary.BigEndian.AppendUint32(b, uint32(n))
		}
	}
	header(0, 1, 1)
	b = append(b, 0, 0, 0, 0, 0, 0, 0) // version 1: one type, UTC
	header(len(tx), len(types), len(abbr))
	for _, t := range tx {
		b = binary.BigEndian.AppendUint64(b, uint64(t.when))
	}
	for _, t := range tx {
		b = append(b, byte(t.typ))
	}
	for _, t := range types {
		b = binary.BigEndian.AppendUint32(b, uint32(int32(t.offset)))
		dst := byte(0)
		if t.dst {
			dst = 1
		}
		b = append(b, dst, byte(at[t.abbr]))
	}
	b = append(b, abbr...)
	b = append(append(append(b, '\n'), extend...), '\n')
	loc, err := time.LoadLocationFromTZData(name, b)
	if err != nil {
		return nil, false
	}
	return loc, true
}
