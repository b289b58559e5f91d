package text

import (
	"context"
	"math"
	"strconv"
	"strings"

	"github.com/halfclose/halfclose/compute"
)

// sortDebug is sort --debug: GNU's annotation of each output line and its
// warnings about the keys. It is built once with its stage and only read
// after: the runs of a --tcp-route pipeline share it.
type sortDebug struct {
	o *sortOpts // its tab and pre (keyBounds)
	// keys are GNU's keylist: the -k keys, or the global options' key
	// when there are none and it orders (a global -r alone does not).
	keys []sortKey
	// last: after the keys, the whole line is underlined too, as the
	// last-resort comparison it is without -s and -u (and alone without
	// keys).
	last     bool
	warnings []string // the lines GNU writes on stderr before it reads
}

// newSortDebug is --debug for o, given the -k keys (after they took the
// global options) and the global options' key.
func newSortDebug(o *sortOpts, nkeys int, global sortKey) *sortDebug {
	d := &sortDebug{o: o, last: !o.unique && !o.stable}
	gkeyOnly := false
	switch {
	case nkeys > 0:
		d.keys = o.keys
	case global.defaultCompare():
	default:
		gkeyOnly = true
		d.keys = []sortKey{global}
	}
	d.warnings = d.keyWarnings(global, gkeyOnly)
	return d
}

// start writes the warnings, as GNU does before it reads, and makes w
// (when not nil) the output --debug annotates: output does.
func (d *sortDebug) start(ctx context.Context, w *lineOut) {
	if d == nil {
		return
	}
	for _, line := range d.warnings {
		compute.Diagnose(ctx, line)
	}
	d.output(w)
}

// output makes w write the annotated lines, each ended by a newline (GNU
// ends them so under -z too). A nil d or w is left alone.
func (d *sortDebug) output(w *lineOut) {
	if d == nil || w == nil {
		return
	}
	w.debug = d
	w.eol = '\n'
}

// defaultCompare is GNU's default_key_compare: k sets no ordering
// (reversing is not one).
func (k *sortKey) defaultCompare() bool {
	r := *k
	r.reverse = false
	return !r.hasOrdering()
}

func (k *sortKey) numericAny() bool { return k.numeric || k.general || k.human }

// keyWarnings are GNU's key_warnings in the C locale, after its line on
// the collation: obsolete keys, keys of zero width, blanks that count,
// numeric keys spanning fields, the decimal point, and global options no
// key took. gkeyOnly: the one key is the global options'.
func (d *sortDebug) keyWarnings(global sortKey, gkeyOnly bool) []string {
	w := []string{"sort: text ordering performed using simple byte comparison"}
	tab := d.o.tab
	var basic, general, basicSpan, generalSpan bool
	unused := global // the global options no key has
	for i := range d.keys {
		k := &d.keys[i]
		n := strconv.Itoa(i + 1)
		if k.numericAny() {
			if k.general {
				general = true
			} else {
				basic = true
			}
		}
		if k.obsolete != "" {
			w = append(w, k.obsolete)
		}
		zero := k.gsword != math.MaxUint64 && k.geword < k.gsword
		if zero {
			w = append(w, "sort: key "+n+" has zero width and will be ignored")
		}
		implicit := k.numericAny() || k.month
		lineOffset := k.eword == 0 && k.echar != 0 // -k1.x,1.y
		if !zero && !gkeyOnly && tab < 0 && !lineOffset &&
			(!k.skipsb && !implicit || !k.skipsb && (k.schar != 0 || k.scharSet) || !k.skipeb && k.echar != 0) {
			w = append(w, "sort: leading blanks are significant in key "+n+"; consider also specifying 'b'")
		}
		if !gkeyOnly && k.numericAny() {
			// GNU's one-based numbers, wrapping as its size_t: no end is 0.
			sw, ew := k.gsword+1, k.geword+1
			if sw == 0 {
				sw++
			}
			if ew == 0 || sw < ew {
				w = append(w, "sort: key "+n+" is numeric and spans multiple fields")
				if k.general {
					generalSpan = true
				} else {
					basicSpan = true
				}
			}
		}
		if unused.ignore != nil && unused.ignore == k.ignore {
			unused.ignore = nil
		}
		unused.fold = unused.fold && !k.fold
		unused.skipsb = unused.skipsb && !k.skipsb
		unused.skipeb = unused.skipeb && !k.skipeb
		unused.month = unused.month && !k.month
		unused.numeric = unused.numeric && !k.numeric
		unused.general = unused.general && !k.general
		unused.human = unused.human && !k.human
		unused.random = unused.random && !k.random
		unused.version = unused.version && !k.version
		unused.reverse = unused.reverse && !k.reverse
	}
	// The C locale has no thousands separator: only the decimal point,
	// and the signs, can take a field separator into a number.
	warned := false
	if basicSpan || generalSpan {
		switch {
		case tab == '.':
			w = append(w, "sort: field separator '.' is treated as a decimal point in numbers")
			warned = true
		case tab == '-':
			w = append(w, "sort: field separator '-' is treated as a minus sign in numbers")
		case generalSpan && tab == '+':
			w = append(w, "sort: field separator '+' is treated as a plus sign in numbers")
		}
	}
	if (basic || general) && !warned {
		note := "note "
		if tab == '.' {
			note = ""
		}
		w = append(w, "sort: "+note+"numbers use '.' as a decimal point in this locale")
	}
	keylist := len(d.keys) > 0
	if !unused.defaultCompare() || unused.reverse && !d.last && keylist {
		opts := unused
		if d.last {
			opts.reverse = false
		}
		letters := opts.allLetters()
		if len(letters) == 1 {
			w = append(w, "sort: option '-"+letters+"' is ignored")
		} else {
			w = append(w, "sort: options '-"+letters+"' are ignored")
		}
	}
	if unused.reverse && d.last && keylist {
		w = append(w, "sort: option '-r' only applies to last-resort comparison")
	}
	return w
}

// allLetters is GNU's key_to_opts: k's option letters, b and r too.
func (k *sortKey) allLetters() string {
	var b []byte
	if k.skipsb || k.skipeb {
		b = append(b, 'b')
	}
	for _, c := range []byte(k.orderingLetters()) {
		if c == 'V' && k.reverse {
			b = append(b, 'r')
		}
		b = append(b, c)
	}
	if k.reverse && !k.version {
		b = append(b, 'r')
	}
	return string(b)
}

// write writes what GNU sort --debug writes for line to o (whose line
// delimiter output made a newline, also under -z): the line with each
// tab shown as '>', then a line underlining each key, the whole line
// last (sortDebug.last). It writes them a line at a time through o.tmp:
// a long line's annotation, a line for each of its keys, is never held
// whole.
func (d *sortDebug) write(o *lineOut, line []byte) error {
	o.tmp = o.tmp[:0]
	for _, c := range line {
		if c == '\t' {
			c = '>'
		}
		o.tmp = append(o.tmp, c)
	}
	if err := o.put(o.tmp); err != nil {
		return err
	}
	for i := range len(d.keys) + 1 {
		var k *sortKey
		if i < len(d.keys) {
			k = &d.keys[i]
		} else if len(d.keys) > 0 && !d.last {
			break
		}
		o.tmp = d.mark(o.tmp[:0], line, k)
		if err := o.put(o.tmp[:len(o.tmp)-1]); err != nil {
			return err
		}
	}
	return nil
}

// mark appends GNU's debug_key line for key k of line (nil: the whole
// line): blanks as wide as what precedes the key, then an underscore for
// each column of the key, or "^ no match for key" for an empty one. A
// numeric or month key is underlined only as far as GNU read its number
// or month, after its leading blanks.
func (d *sortDebug) mark(dst, line []byte, k *sortKey) []byte {
	p, e := 0, len(line)
	if k != nil {
		p, e = d.o.keyBounds(k, line)
		if k.whole() {
			p = 0
		}
		if k.skipsb && k.whole() || k.month || k.numericAny() {
			// GNU ends the key with a NUL here: the blanks are skipped
			// up to its end, or past it when it ends before it starts.
			for p < len(line) && p != e && isBlank(line[p]) {
				p++
			}
			end := p
			switch {
			case e < p:
				end = e
			case k.month:
				if sortMonth(line[p:e]) != 0 {
					end = p + 3
				}
			case k.general:
				end = p + strtoldLen(line[p:e])
			case k.numeric || k.human:
				q := p
				if q < e && line[q] == '-' {
					q++
				}
				if n, ok := rawNumberLen(line[q:e]); ok {
					end = q + n
					if k.human && end < e && isUnit(line[end]) {
						end++
					}
				}
			default:
				end = e
			}
			e = end
		}
	}
	for range debugWidth(line[:p]) {
		dst = append(dst, ' ')
	}
	w := 0
	if p < e {
		w = debugWidth(line[p:e])
	}
	if w == 0 {
		return append(dst, "^ no match for key\n"...)
	}
	for range w {
		dst = append(dst, '_')
	}
	return append(dst, '\n')
}

// debugWidth is GNU's debug_width in the C locale: gnulib's mbsnwidth,
// one column for a printable byte and for each byte over 0x7f, none for
// a control character, then one more for each tab.
func debugWidth(s []byte) int {
	n := 0
	for _, c := range s {
		if c >= ' ' && c != 0x7f || c == '\t' {
			n++
		}
	}
	return n
}

// isUnit is whether c is a unit of -h (GNU's unit_order, unfolded).
func isUnit(c byte) bool { return c == 'k' || strings.IndexByte(sortUnits, c) >= 0 }

// rawNumberLen is GNU's traverse_raw_number in the C locale (no
// thousands separator): how far digits, then a '.' and digits, reach in
// s (a NUL ends it), and whether there was a digit. A '.' after the
// digits is taken even with no digit after it.
func rawNumberLen(s []byte) (int, bool) {
	i, digit := 0, false
	for i < len(s) && isDigit(s[i]) {
		i, digit = i+1, true
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i, digit = i+1, true
		}
	}
	return i, digit
}

// strtoldLen is how many bytes of s glibc's strtold reads in the C
// locale (strtold reads the value), 0 when it reads no number: isspace
// blanks, a sign, then "infinity" or "inf", "nan" (with "(CHARS)" when
// they close), a hexadecimal number (with a 'p' exponent) or a decimal
// one (with an 'e' exponent). A NUL ends s.
func strtoldLen(s []byte) int {
	// A NUL stops every scan below: it is no blank, sign, digit, '.',
	// letter, '_' or ')'.
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	t := s[i:]
	j := 0
	switch {
	case hasPrefixFold(t, "infinity"):
		j = len("infinity")
	case hasPrefixFold(t, "inf"):
		j = len("inf")
	case hasPrefixFold(t, "nan"):
		j = len("nan")
		if j < len(t) && t[j] == '(' {
			c := j + 1
			for c < len(t) && (isDigit(t[c]) || 'a' <= t[c]|0x20 && t[c]|0x20 <= 'z' || t[c] == '_') {
				c++
			}
			if c < len(t) && t[c] == ')' {
				j = c + 1
			}
		}
	case len(t) > 2 && t[0] == '0' && t[1]|0x20 == 'x' && (isHex(t[2]) || len(t) > 3 && t[2] == '.' && isHex(t[3])):
		j = 2
		for j < len(t) && isHex(t[j]) {
			j++
		}
		if j < len(t) && t[j] == '.' {
			j++
			for j < len(t) && isHex(t[j]) {
				j++
			}
		}
		if j < len(t) && t[j]|0x20 == 'p' {
			j += expLen(t[j+1:])
		}
	case len(t) > 0 && isDigit(t[0]), len(t) > 1 && t[0] == '.' && isDigit(t[1]):
		for j < len(t) && isDigit(t[j]) {
			j++
		}
		if j < len(t) && t[j] == '.' {
			j++
			for j < len(t) && isDigit(t[j]) {
				j++
			}
		}
		if j < len(t) && t[j]|0x20 == 'e' {
			j += expLen(t[j+1:])
		}
	default:
		return 0
	}
	return i + j
}

// expLen is the length of an exponent's letter and what follows it in s
// (a sign and digits), 0 when no digit follows: the letter is then not
// read.
func expLen(s []byte) int {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	if i == len(s) || !isDigit(s[i]) {
		return 0
	}
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return 1 + i
}
