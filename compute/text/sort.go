package text

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"hash/maphash"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/halfclose/halfclose/compute"
)

func registerSort(r *compute.Registry) {
	r.Register(&compute.Command{
		Name:    "sort",
		Summary: "sort lines (GNU sort, C locale), spilling to disk past the memory budget",
		Flags:   sortFlags,
		Build:   buildSort,
	})
}

// sortFlags is GNU sort's option table.
var sortFlags = compute.WithStd(
	compute.FlagSpec{Short: 'r', Long: "reverse", Summary: "reverse the result of comparisons"},
	compute.FlagSpec{Short: 'n', Long: "numeric-sort", Summary: "compare according to string numerical value"},
	compute.FlagSpec{Short: 'u', Long: "unique", Summary: "output only the first of an equal run"},
	compute.FlagSpec{Short: 'f', Long: "ignore-case", Summary: "fold lower case to upper case characters"},
	compute.FlagSpec{Short: 's', Long: "stable", Summary: "disable last-resort comparison"},
	compute.FlagSpec{Short: 'b', Long: "ignore-leading-blanks", Summary: "ignore leading blanks"},
	compute.FlagSpec{Short: 'k', Long: "key", Value: true, Summary: "sort via a key: POS1[,POS2], POS is F[.C][OPTS], OPTS from bdfghiMnRrV"},
	compute.FlagSpec{Short: 't', Long: "field-separator", Value: true, Summary: "use SEP instead of non-blank to blank transition"},
	compute.FlagSpec{Short: 'c', Summary: "check for sorted input; at a disorder exit 1, naming the line on stderr"},
	compute.FlagSpec{Short: 'C', Summary: "like -c, but do not report the first bad line"},
	compute.FlagSpec{Long: "check", Value: true, Optional: true, Summary: "-c, or with quiet or silent -C (diagnose-first is -c)"},
	compute.FlagSpec{Short: 'd', Long: "dictionary-order", Summary: "consider only blanks and alphanumeric characters"},
	compute.FlagSpec{Short: 'g', Long: "general-numeric-sort", Summary: "compare according to general numerical value (strtold's, as a long double)"},
	compute.FlagSpec{Short: 'h', Long: "human-numeric-sort", Summary: "compare human readable numbers (e.g., 2K 1G)"},
	compute.FlagSpec{Short: 'i', Long: "ignore-nonprinting", Summary: "consider only printable characters"},
	compute.FlagSpec{Short: 'M', Long: "month-sort", Summary: "compare (unknown) < 'JAN' < ... < 'DEC'"},
	compute.FlagSpec{Short: 'R', Long: "random-sort", Summary: "shuffle, but group identical keys (a random hash of each key, new for each job)"},
	compute.FlagSpec{Short: 'V', Long: "version-sort", Summary: "natural sort of (version) numbers within text"},
	compute.FlagSpec{Long: "sort", Value: true, Summary: "sort according to WORD: general-numeric (-g), human-numeric (-h), month (-M), numeric (-n), random (-R), version (-V)"},
	compute.FlagSpec{Long: "random-source", Value: true, Refuse: compute.RefuseFiles},
	compute.FlagSpec{Short: 'm', Long: "merge", Summary: "merge already sorted input; do not sort"},
	compute.FlagSpec{Short: 'o', Long: "output", Value: true, Refuse: compute.RefuseOutput},
	compute.FlagSpec{Short: 'z', Long: "zero-terminated", Summary: "line delimiter is NUL, not newline"},
	compute.FlagSpec{Short: 'S', Long: "buffer-size", Value: true, Summary: "checked as GNU's, then ignored: memory is the server's (--spool-mem)"},
	compute.FlagSpec{Short: 'T', Long: "temporary-directory", Value: true, Refuse: "a request names no directory: the spool is the server's (--spool-dir)"},
	compute.FlagSpec{Long: "parallel", Value: true, Summary: "checked as GNU's, then ignored: threads are the server's"},
	compute.FlagSpec{Long: "batch-size", Value: true, Summary: "checked as GNU's, then ignored: merges are the server's"},
	compute.FlagSpec{Long: "compress-program", Value: true, Refuse: "a request runs no program"},
	compute.FlagSpec{Long: "files0-from", Value: true, Refuse: compute.RefuseFiles},
	compute.FlagSpec{Long: "debug", Summary: "annotate the part of the line used to sort, and warn about questionable usage to stderr"},
	compute.FlagSpec{Short: 'y', Value: true, Summary: "ignored (Solaris compatibility)"},
)

// sortWords are GNU's arguments of --sort.
var sortWords = []string{"general-numeric", "human-numeric", "month", "numeric", "random", "version"}

// sortKey is one -k key, with GNU's zero-based field and character numbers.
type sortKey struct {
	sword, schar int // start field and character (0-based; < 0: wraps back, sortCharOffset)
	eword, echar int // end field (0-based) and char (0 = end of field; < 0: wraps back); eword<0: end of line
	skipsb       bool
	skipeb       bool
	numeric      bool
	general      bool // -g: general_numcompare (gnum.go)
	fold         bool
	reverse      bool
	month        bool
	human        bool       // -h: the unit after the number, then the number
	version      bool       // -V: gnulib's filevercmp
	random       bool       // -R: a random hash of the key (sortOpts.seed), then the key's bytes
	ignore       *[256]bool // bytes the key's comparison skips (-d, -i), or nil
	// obsolete is --debug's warning about a +POS1 -POS2 key, "" for -k.
	obsolete string
	// scharSet: GNU's schar is not 0, where schar says 0 (a whole key of
	// an obsolete +N.C past 2^64 fields, whose C GNU then ignores), for
	// --debug's warning about blanks.
	scharSet bool
	// gsword, geword: GNU's sword and eword as it holds them (size_t,
	// SIZE_MAX for none), which --debug's warnings compare: sword and
	// eword stop at sortFieldMax, where no line has a field to tell.
	gsword, geword uint64
}

// whole: GNU's sword is SIZE_MAX, the key starts at the line's start
// with no field to find (the global options' key, -k1, -k1.1, an
// obsolete +0): --debug then skips a -b key's blanks only up to its end.
func (k *sortKey) whole() bool { return k.gsword == math.MaxUint64 }

func (k *sortKey) hasOrdering() bool {
	return k.skipsb || k.skipeb || k.numeric || k.general || k.fold || k.reverse || k.month || k.human || k.version || k.random || k.ignore != nil
}

// sortNondictionary and sortNonprinting are GNU sort's -d and -i tables
// in the C locale: -d skips what is neither alphanumeric nor a blank
// (space, tab, newline), -i what is not printable ASCII.
var sortNondictionary, sortNonprinting = func() (d, p [256]bool) {
	for i := range 256 {
		c := byte(i)
		alnum := '0' <= c && c <= '9' || 'A' <= upper(c) && upper(c) <= 'Z'
		d[i] = !alnum && !isBlank(c)
		p[i] = c < ' ' || c > '~'
	}
	return d, p
}()

// orderingLetters is GNU's key_to_opts without b and r: the letters of
// k's comparison, for the error on incompatible ones.
func (k *sortKey) orderingLetters() string {
	var b []byte
	if k.ignore == &sortNondictionary {
		b = append(b, 'd')
	}
	if k.fold {
		b = append(b, 'f')
	}
	if k.general {
		b = append(b, 'g')
	}
	if k.human {
		b = append(b, 'h')
	}
	if k.ignore == &sortNonprinting {
		b = append(b, 'i')
	}
	if k.month {
		b = append(b, 'M')
	}
	if k.numeric {
		b = append(b, 'n')
	}
	if k.random {
		b = append(b, 'R')
	}
	if k.version {
		b = append(b, 'V')
	}
	return string(b)
}

// sortOpts is a sort's comparison.
type sortOpts struct {
	keys    []sortKey
	seed    maphash.Seed // -R's hash: random, one for each run (forRun)
	tab     int          // field separator byte, or -1 for blank transitions
	unique  bool
	stable  bool
	reverse bool // global -r: also reverses the last-resort comparison
	eol     byte // ends a line: '\n', or NUL with -z (a newline is then a blank)
	// lineCmp: lines compare as whole lines in byte order (reversed by
	// -r): no key, or one key of the whole line, with neither -n, -f nor
	// -b. Lines that share a prefix then order by what follows it
	// (sorter.off).
	lineCmp bool
	// pre: a key's start wraps back before its line (sortCharOffset):
	// every held line is prefixed with the pre bytes before it in GNU's
	// buffer, the lines before it each ended by a NUL, zeros before the
	// first. Output drops them.
	pre int
	// general: a key is -g, so -u may keep lines whose keys are the
	// same NaN (uniqueDup).
	general bool
	random  bool // a key is -R: each run hashes with a seed of its own
}

// forRun is o for one run of its stage. A stage is built once and may
// run many times (a --tcp-route pipeline is compiled once for all its
// connections), and each run of a sort -R shuffles anew, as each GNU
// sort draws its own random state: a run with an R key gets a copy of
// o with a fresh seed.
func (o *sortOpts) forRun() *sortOpts {
	if !o.random {
		return o
	}
	c := *o
	c.seed = maphash.MakeSeed()
	return &c
}

func buildSort(env *compute.Env, args []string) (compute.Stage, error) {
	g := compute.NewGetopt("sort", sortFlags, compute.InOrder, args)
	f := &compute.Flags{}
	var keys []sortKey
	tab := -1      // -t's byte, -1 for none
	var check byte // sortCheckMode's answer so far
	for {
		it, ok, err := g.Next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if it.IsFlag {
			f.Uses = append(f.Uses, it.Flag)
			if it.Flag.Key == "y" && it.Flag.NextWord && strings.Trim(it.Flag.Value, "0123456789") != "" {
				// GNU ignores -y and a value in the next word that is all
				// digits; another next word is read again (-y -r is -r).
				g.Unread()
			}
			if it.Flag.Key == "sort" {
				// --sort=WORD is the WORD's letter (GNU's XARGMATCH).
				w, err := argmatch("sort", it.Flag, sortWords...)
				if err != nil {
					return nil, err
				}
				switch w {
				case "month":
					f.Uses = append(f.Uses, compute.FlagUse{Key: "M", Name: it.Flag.Name})
				case "numeric":
					f.Uses = append(f.Uses, compute.FlagUse{Key: "n", Name: it.Flag.Name})
				case "general-numeric":
					f.Uses = append(f.Uses, compute.FlagUse{Key: "g", Name: it.Flag.Name})
				case "human-numeric":
					f.Uses = append(f.Uses, compute.FlagUse{Key: "h", Name: it.Flag.Name})
				case "version":
					f.Uses = append(f.Uses, compute.FlagUse{Key: "V", Name: it.Flag.Name})
				case "random":
					f.Uses = append(f.Uses, compute.FlagUse{Key: "R", Name: it.Flag.Name})
				}
			}
			if it.Flag.Key == "k" {
				k, err := parseSortKey(it.Flag.Value)
				if err != nil {
					return nil, err
				}
				keys = append(keys, k)
			}
			// -t and the check modes are judged where GNU's option loop
			// judges them, so that of two errors on a line the first in
			// it is the one named, as GNU's (sort -c -C -k1dn: '-cC').
			if tab, err = sortTab(tab, it.Flag); err != nil {
				return nil, err
			}
			if check, err = sortCheckMode(check, it.Flag); err != nil {
				return nil, err
			}
			if err := sortResourceFlag(it.Flag); err != nil {
				return nil, err
			}
			continue
		}
		// An operand +POS1 [-POS2] is an obsolete key (GNU's traditional
		// usage); an operand that does not parse as one is a file.
		if k, ok, err := obsoleteSortKey(g, it.Operand); err != nil {
			return nil, err
		} else if ok {
			keys = append(keys, k)
			continue
		}
		f.Operands = append(f.Operands, it.Operand)
	}
	f.Operands = append(f.Operands, g.Rest()...)
	o := &sortOpts{tab: tab, unique: f.Has("u"), stable: f.Has("s"), reverse: f.Has("r"), eol: '\n'}
	if f.Has("z") {
		o.eol = 0
	}
	global := sortKey{eword: -1, gsword: math.MaxUint64, geword: math.MaxUint64, skipsb: f.Has("b"), skipeb: f.Has("b"), numeric: f.Has("n"), general: f.Has("g"), fold: f.Has("f"), reverse: f.Has("r"), month: f.Has("M"), human: f.Has("h"), version: f.Has("V"), random: f.Has("R")}
	switch {
	case f.Has("d"): // -i does not override -d, in either order
		global.ignore = &sortNondictionary
	case f.Has("i"):
		global.ignore = &sortNonprinting
	}
	for _, k := range keys {
		if !k.hasOrdering() {
			k.skipsb, k.skipeb, k.numeric, k.general, k.fold, k.reverse = global.skipsb, global.skipeb, global.numeric, global.general, global.fold, global.reverse
			k.month, k.human, k.version, k.random, k.ignore = global.month, global.human, global.version, global.random, global.ignore
		}
		o.keys = append(o.keys, k)
	}
	if len(o.keys) == 0 && global.hasOrdering() {
		o.keys = append(o.keys, global)
	}
	// GNU's check_ordering_compatibility: at most one of -n, -g, -h, -M
	// and -V or -d/-i (or both) a key, after the keys took the global
	// options.
	for _, k := range o.keys {
		if b2i(k.numeric)+b2i(k.general)+b2i(k.human)+b2i(k.month)+b2i(k.version || k.random || k.ignore != nil) > 1 {
			return nil, compute.Invalidf("sort: options '-%s' are incompatible", k.orderingLetters())
		}
	}
	if f.Has("debug") && check != 0 {
		// GNU's -c writes no line to annotate.
		return nil, compute.Invalidf("sort: options '-%c --debug' are incompatible", check)
	}
	o.lineCmp = len(o.keys) == 0
	for _, k := range o.keys {
		o.pre = max(o.pre, -k.schar)
		o.general = o.general || k.general
		o.random = o.random || k.random
	}
	if len(o.keys) == 1 {
		k := o.keys[0]
		o.lineCmp = k.sword == 0 && k.schar == 0 && k.eword < 0 && !k.skipsb && !k.numeric && !k.general && !k.fold && !k.month && !k.human && !k.version && !k.random && k.ignore == nil
	}
	if check != 0 && len(f.Operands) > 1 {
		// GNU checks one file: stdin once.
		return nil, compute.Invalidf("sort: extra operand %q not allowed with -%c", f.Operands[1], check)
	}
	// Files are GNU's last concern: after the keys' letters and -c's one
	// operand (sort -gV FILE names -gV).
	if err := compute.NoOperandsButStdin("sort", f); err != nil {
		return nil, err
	}
	if (check != 0 || f.Has("m")) && o.pre > 0 {
		// GNU's saved line (-m -u's, -c's previous one) is a copy of its
		// own: the bytes before it are the heap's.
		flag := "-m"
		if check != 0 {
			flag = "-" + string(check)
		}
		return nil, compute.Invalidf("sort: unsupported %s with a key that starts before its line (GNU reads heap bytes)", flag)
	}
	var debug *sortDebug
	if f.Has("debug") {
		if o.pre > 0 {
			// GNU underlines from the bytes before the line.
			return nil, compute.Invalidf("sort: unsupported --debug with a key that starts before its line (GNU reads heap bytes)")
		}
		debug = newSortDebug(o, len(keys), global)
	}
	switch {
	case check != 0:
		return &sortCheckStage{opts: o, quiet: check == 'C', lineLimit: env.LineLimit()}, nil
	case f.Has("m"):
		return &sortMergeStage{opts: o, debug: debug, lineLimit: env.LineLimit()}, nil
	}
	spool := env.Spool
	spool.Budget()
	return &sortStage{opts: o, debug: debug, spool: spool, lineLimit: env.LineLimit()}, nil
}

// parseSortKey parses a -k KEYDEF the way GNU sort does.
func parseSortKey(def string) (sortKey, error) {
	k := sortKey{eword: -1, geword: math.MaxUint64}
	bad := func(why string) (sortKey, error) {
		return sortKey{}, compute.Invalidf("sort: invalid key %q: %s", def, why)
	}
	n, s, ok := sortFieldCount(def)
	if !ok {
		return bad("invalid number at field start")
	}
	if n == 0 {
		return bad("field number is zero")
	}
	k.sword = n - 1
	raw, _, _ := sortCharCount(def)
	k.gsword = raw - 1
	if strings.HasPrefix(s, ".") {
		v, rest, ok := sortCharCount(s[1:])
		if !ok {
			return bad("invalid number after '.'")
		}
		if v == 0 {
			return bad("character offset is zero")
		}
		s = rest
		if k.schar, ok = sortCharOffset(v-1, true); !ok {
			return sortKey{}, unsupportedWrap(def)
		}
	}
	if k.sword == 0 && k.schar == 0 { // GNU's -k1 and -k1.1 too
		k.gsword = math.MaxUint64 // whole
	}
	s = sortKeyOpts(&k, s, false)
	if strings.HasPrefix(s, ",") {
		s1 := s[1:]
		if n, s, ok = sortFieldCount(s1); !ok {
			return bad("invalid number after ','")
		}
		if n == 0 {
			return bad("field number is zero")
		}
		k.eword = n - 1
		raw, _, _ := sortCharCount(s1)
		k.geword = raw - 1
		if strings.HasPrefix(s, ".") {
			v, rest, ok := sortCharCount(s[1:])
			if !ok {
				return bad("invalid number after '.'")
			}
			s = rest
			k.echar, _ = sortCharOffset(v, false)
		}
		s = sortKeyOpts(&k, s, true)
	}
	if s != "" {
		return bad("stray character in field spec")
	}
	return k, nil
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }

// keySpan returns the bytes of line that key k covers (GNU begfield and
// limfield).
func (o *sortOpts) keySpan(k *sortKey, full []byte) []byte {
	p, e := o.keyBounds(k, full)
	if e < p {
		e = p
	}
	return full[p:e]
}

// keyBounds is where key k starts and ends in full, a line after its
// sortOpts.pre bytes (GNU's begfield and limfield): the end may be
// before the start (a key of zero width, which keySpan makes empty and
// --debug reads as GNU does), and the start in the pre bytes.
func (o *sortOpts) keyBounds(k *sortKey, full []byte) (start, end int) {
	line := full[o.pre:]
	lim := len(line)
	// begfield
	p := 0
	for sw := k.sword; p < lim && sw > 0; sw-- {
		if o.tab >= 0 {
			for p < lim && int(line[p]) != o.tab {
				p++
			}
			if p < lim {
				p++
			}
		} else {
			for p < lim && isBlank(line[p]) {
				p++
			}
			for p < lim && !isBlank(line[p]) {
				p++
			}
		}
	}
	if k.skipsb {
		for p < lim && isBlank(line[p]) {
			p++
		}
	}
	p = min(lim, p+k.schar) // >= -o.pre: a start wrapping back reads the prefix
	if k.eword < 0 {
		return o.pre + p, o.pre + lim
	}
	// limfield
	e := 0
	ew, ec := k.eword, k.echar
	if ec == 0 {
		ew++
	}
	for ; e < lim && ew > 0; ew-- {
		if o.tab >= 0 {
			for e < lim && int(line[e]) != o.tab {
				e++
			}
			if e < lim && (ew > 1 || ec != 0) {
				e++
			}
		} else {
			for e < lim && isBlank(line[e]) {
				e++
			}
			for e < lim && !isBlank(line[e]) {
				e++
			}
		}
	}
	if ec != 0 {
		if k.skipeb {
			for e < lim && isBlank(line[e]) {
				e++
			}
		}
		e = min(lim, e+ec)
	}
	return o.pre + p, o.pre + e
}

// compare is GNU sort's compare: the keys, then unless -s or -u the whole
// line in byte order, reversed by a global -r.
func (o *sortOpts) compare(a, b []byte) int {
	if len(o.keys) > 0 {
		if d := o.keyCompare(a, b); d != 0 || o.unique || o.stable {
			return d
		}
	}
	d := bytes.Compare(a[o.pre:], b[o.pre:])
	if o.reverse {
		return -d
	}
	return d
}

func (o *sortOpts) keyCompare(a, b []byte) int { return o.keyCompareFrom(0, a, b) }

// nanTwin reports whether a -g key of a is a NaN. sort -u asks it of a
// line that compares equal to the one written before it: GNU 9.1 then
// writes both, as its write_unique compares two NaNs by 16 bytes of
// which strtold filled 10, the other 6 left on the stack by the calls
// before (docs/protocol.md); -m -u and -c -u compare them equal.
func (o *sortOpts) nanTwin(a []byte) bool {
	if !o.general {
		return false
	}
	for i := range o.keys {
		k := &o.keys[i]
		if k.general {
			if class, _, _, _ := strtold(o.keySpan(k, a)); class == gnumNaN {
				return true
			}
		}
	}
	return false
}

// keyCompareFrom compares by the keys from the i'th on.
func (o *sortOpts) keyCompareFrom(i int, a, b []byte) int {
	for ; i < len(o.keys); i++ {
		k := &o.keys[i]
		ka, kb := o.keySpan(k, a), o.keySpan(k, b)
		var d int
		switch {
		case k.numeric:
			d = numCompare(ka, kb)
		case k.general:
			d = gnumCompare(ka, kb) // -f changes nothing strtold reads
		case k.human:
			d = humanCompare(ka, kb, k.fold)
		case k.month:
			d = sortMonth(ka) - sortMonth(kb)
		case k.version || k.random:
			if k.ignore != nil || k.fold {
				// GNU compares copies without the ignored bytes, folded.
				var ba, bb [256]byte
				ka, kb = keepBytes(ba[:0], ka, k.ignore, k.fold), keepBytes(bb[:0], kb, k.ignore, k.fold)
			}
			if k.random {
				d = o.randomCompare(ka, kb)
			} else {
				d = fileVerCompare(ka, kb)
			}
		case k.ignore != nil:
			d = ignoreCompare(ka, kb, k.ignore, k.fold)
		case k.fold:
			d = foldCompare(ka, kb)
		default:
			d = bytes.Compare(ka, kb)
		}
		if d != 0 {
			if k.reverse {
				return -d
			}
			return d
		}
	}
	return 0
}

// sortLine is a held line with a precomputed prefix of its first key (the
// whole line without keys): lines whose prefixes differ are ordered by
// them alone. It is 24 bytes: the line as a pointer and a 32-bit length
// (--max-line-bytes is at most 1 GiB).
type sortLine struct {
	p    *byte
	n    uint32
	key2 uint32 // lineCmp: the 4 bytes after key's (lineEntry); -g: the key's low bits (gnumKey); else 0
	key  uint64 // orders as the first key does, before its reversal
}

// line is the held line.
func (l *sortLine) line() []byte { return unsafe.Slice(l.p, l.n) }

func mkLine(b []byte, key uint64, key2 uint32) sortLine {
	l := sortLine{n: uint32(len(b)), key: key, key2: key2}
	if len(b) > 0 {
		l.p = &b[0]
	}
	return l
}

// entry returns line with its key.
func (o *sortOpts) entry(line []byte) sortLine {
	if len(o.keys) == 0 {
		return mkLine(line, prefixKey(line, false), 0)
	}
	k := &o.keys[0]
	span := o.keySpan(k, line)
	switch {
	case k.numeric:
		return mkLine(line, numKey(span), 0)
	case k.general:
		hi, lo := gnumKey(span)
		return mkLine(line, hi, lo)
	case k.month:
		return mkLine(line, uint64(sortMonth(span)), 0)
	case k.human:
		return mkLine(line, uint64(unitOrder(span, k.fold)+len(sortUnits)), 0)
	case k.random: // before -V, which it overrides as in GNU
		if k.ignore != nil || k.fold {
			var b [256]byte
			span = keepBytes(b[:0], span, k.ignore, k.fold)
		}
		return mkLine(line, maphash.Bytes(o.seed, span), 0)
	case k.version:
		return mkLine(line, 0, 0) // every line's: compareEnt compares the keys
	case k.ignore != nil:
		var kept [8]byte
		n := 0
		for _, c := range span {
			if !k.ignore[c] {
				kept[n] = c
				if n++; n == len(kept) {
					break
				}
			}
		}
		return mkLine(line, prefixKey(kept[:n], k.fold), 0)
	}
	return mkLine(line, prefixKey(span, k.fold), 0)
}

// lineEntry is line's entry for whole-line comparison when every line
// compared shares its first off bytes: the keys are the 12 bytes after
// them.
func lineEntry(line []byte, off int) sortLine {
	var k2 uint32
	if len(line) > off+8 {
		k2 = uint32(prefixKey(line[off+8:], false) >> 32)
	}
	return mkLine(line, prefixKey(line[min(off, len(line)):], false), k2)
}

// cmpLines compares entries of lineEntry with the same off.
func (o *sortOpts) cmpLines(a, b *sortLine, off int) int {
	var d int
	switch {
	case a.key != b.key:
		d = 1
		if a.key < b.key {
			d = -1
		}
	case a.key2 != b.key2:
		d = 1
		if a.key2 < b.key2 {
			d = -1
		}
	default:
		// Equal keys: the bytes up to off+12 or the shorter line's end
		// are equal.
		i := min(off+12, int(a.n), int(b.n))
		d = bytes.Compare(a.line()[i:], b.line()[i:])
	}
	if len(o.keys) > 0 && o.keys[0].reverse || len(o.keys) == 0 && o.reverse {
		return -d
	}
	return d
}

// cmp compares held entries: cmpLines at s.off when lines compare whole,
// else compareEnt.
func (s *sorter) cmp(a, b *sortLine) int {
	if s.o.lineCmp {
		return s.o.cmpLines(a, b, s.off)
	}
	return s.o.compareEnt(a, b)
}

// prefixKey is the first 8 bytes of s, big-endian, zero-padded, folded to
// upper case with fold.
func prefixKey(s []byte, fold bool) uint64 {
	var k uint64
	n := min(len(s), 8)
	for i := 0; i < n; i++ {
		c := s[i]
		if fold {
			c = upper(c)
		}
		k |= uint64(c) << (56 - 8*i)
	}
	return k
}

// numKey encodes a -n number so that keys order as numCompare does: two
// bits of sign class (negative, zero, positive), 18 bits of integer digit
// count, 10 digits of 4 bits (digit+1, 0 after the last), then a bit set
// when digits were cut off (the number is then larger than any whole one
// with the same prefix); the bits below the class are inverted for
// negatives.
func numKey(s []byte) uint64 {
	neg, ip, fp := parseNum(s)
	if len(ip) == 0 && len(fp) == 0 {
		return 1 << 62
	}
	const digits = 10
	var v uint64
	if len(ip) >= 1<<18-1 { // past every count: larger than every prefix
		v = 1<<61 - 1
	} else {
		v = uint64(len(ip))
		d, cut := 0, uint64(0)
		for _, part := range [2][]byte{ip, fp} {
			for _, c := range part {
				if d == digits {
					cut = 1
					break
				}
				v = v<<4 | uint64(c-'0'+1)
				d++
			}
		}
		v = (v<<(4*(digits-d)))<<1 | cut
	}
	if neg {
		return ^v & (1<<62 - 1)
	}
	return 2<<62 | v
}

// numKeyExact reports whether numKey's key holds the whole number.
func numKeyExact(key uint64) bool {
	switch key >> 62 {
	case 0:
		return key&1 == 1
	case 2:
		return key&1 == 0
	}
	return true
}

// compareEnt is compare, using the precomputed keys.
func (o *sortOpts) compareEnt(a, b *sortLine) int {
	if a.key != b.key {
		return o.entOrder(a.key < b.key)
	}
	if a.key2 != b.key2 { // -g's low bits
		return o.entOrder(a.key2 < b.key2)
	}
	// Equal keys: a -g key is the whole comparison, a -n key when it
	// holds the whole number.
	if len(o.keys) == 0 || !o.keys[0].general && (!o.keys[0].numeric || !numKeyExact(a.key)) {
		return o.compare(a.line(), b.line())
	}
	// the first keys are equal
	if d := o.keyCompareFrom(1, a.line(), b.line()); d != 0 || o.unique || o.stable {
		return d
	}
	d := bytes.Compare(a.line()[o.pre:], b.line()[o.pre:])
	if o.reverse {
		return -d
	}
	return d
}

// entOrder is compareEnt's result for keys that differ, less telling
// whether a's is the smaller.
func (o *sortOpts) entOrder(less bool) int {
	d := 1
	if less {
		d = -1
	}
	if len(o.keys) > 0 && o.keys[0].reverse || len(o.keys) == 0 && o.reverse {
		d = -d
	}
	return d
}

// randomCompare is -R's order of two keys (after -d, -i and -f): by a
// hash of each keyed with the job's random seed, which groups equal keys
// and puts the groups in an order no earlier job gave, then, when the
// hashes collide, by the keys' bytes (as GNU's compare_random, whose
// hash is MD5 from a random state).
func (o *sortOpts) randomCompare(a, b []byte) int {
	ha, hb := maphash.Bytes(o.seed, a), maphash.Bytes(o.seed, b)
	switch {
	case ha < hb:
		return -1
	case ha > hb:
		return 1
	}
	return bytes.Compare(a, b)
}

// ignoreCompare compares a and b skipping the bytes ignore marks, folded
// to upper case with fold (GNU's CMP_WITH_IGNORE): the first kept bytes
// that differ, else the one with kept bytes left is greater.
func ignoreCompare(a, b []byte, ignore *[256]bool, fold bool) int {
	i, j := 0, 0
	for {
		for i < len(a) && ignore[a[i]] {
			i++
		}
		for j < len(b) && ignore[b[j]] {
			j++
		}
		if i == len(a) || j == len(b) {
			return b2i(i < len(a)) - b2i(j < len(b))
		}
		ca, cb := a[i], b[j]
		if fold {
			ca, cb = upper(ca), upper(cb)
		}
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
		i++
		j++
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sortUnits are the units -h knows, in order: K (or k) is 1, Y is 8.
const sortUnits = "KMGTPEZY"

// unitOrder is GNU sort's find_unit_order after leading blanks: the order
// of the unit right after s's number (digits, then '.' and digits), 0 for
// none or a number of only zeros, negated for a negative number. With
// fold the unit is read in upper case (GNU translates the key first: -hf
// reads 1m as 1M).
func unitOrder(s []byte, fold bool) int {
	i := 0
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	neg := i < len(s) && s[i] == '-'
	if neg {
		i++
	}
	var top byte
	digits := func() {
		for ; i < len(s) && isDigit(s[i]); i++ {
			top = max(top, s[i])
		}
	}
	digits()
	if i < len(s) && s[i] == '.' {
		i++
		digits()
	}
	if top <= '0' || i == len(s) {
		return 0
	}
	c := s[i]
	if fold {
		c = upper(c)
	}
	order := strings.IndexByte(sortUnits, c) + 1
	if c == 'k' {
		order = 1
	}
	if neg {
		return -order
	}
	return order
}

// humanCompare is GNU's human_numcompare: the units' orders, then the
// numbers.
func humanCompare(a, b []byte, fold bool) int {
	if d := unitOrder(a, fold) - unitOrder(b, fold); d != 0 {
		return d
	}
	return numCompare(a, b)
}

// keepBytes appends to dst the bytes of s that ignore (if not nil) does
// not mark, folded to upper case with fold.
func keepBytes(dst, s []byte, ignore *[256]bool, fold bool) []byte {
	for _, c := range s {
		if ignore != nil && ignore[c] {
			continue
		}
		if fold {
			c = upper(c)
		}
		dst = append(dst, c)
	}
	return dst
}

func isAlpha(c byte) bool { return 'A' <= upper(c) && upper(c) <= 'Z' }

// fileVerCompare is gnulib's filenvercmp (coreutils 9.1), sort -V's
// comparison: an empty string first, then ".", "..", other names starting
// with "."; then the names without their file suffixes
// ((\.[A-Za-z~][A-Za-z0-9~]*)*$) as Debian versions, and when those are
// equal and a suffix is not empty, the whole names.
func fileVerCompare(a, b []byte) int {
	switch {
	case len(a) == 0:
		return -b2i(len(b) > 0)
	case len(b) == 0:
		return 1
	case a[0] == '.' && b[0] != '.':
		return -1
	case a[0] != '.' && b[0] == '.':
		return 1
	case a[0] == '.':
		for _, name := range []string{".", ".."} {
			ai, bi := string(a) == name, string(b) == name
			if ai || bi {
				return b2i(!ai) - b2i(!bi)
			}
		}
	}
	ap, bp := filePrefixLen(a), filePrefixLen(b)
	if d := debianVerCompare(a[:ap], b[:bp]); d != 0 || ap == len(a) && bp == len(b) {
		return d
	}
	return debianVerCompare(a, b)
}

// filePrefixLen is the length of s without its file suffix: the longest
// tail of ".x…" parts, each a '.', a letter or '~', then letters, digits
// or '~'.
func filePrefixLen(s []byte) int {
	for i := 0; ; i++ {
		prefix := i
		for i+1 < len(s) && s[i] == '.' && (isAlpha(s[i+1]) || s[i+1] == '~') {
			i += 2
			for i < len(s) && (isAlpha(s[i]) || isDigit(s[i]) || s[i] == '~') {
				i++
			}
		}
		if i == len(s) {
			return prefix
		}
	}
}

// verOrder is the weight of s[i] between non-digit parts of versions:
// '~' before the end, the end before letters, letters before the other
// bytes (digits weigh 0: they end the part).
func verOrder(s []byte, i int) int {
	switch {
	case i == len(s):
		return -1
	case isDigit(s[i]):
		return 0
	case isAlpha(s[i]):
		return int(s[i])
	case s[i] == '~':
		return -2
	}
	return int(s[i]) + 256
}

// debianVerCompare is gnulib's verrevcmp: versions compared as
// alternating non-digit parts (byte by byte, verOrder's weights) and
// numbers (leading zeros skipped, a longer number greater, else the first
// digit that differs).
func debianVerCompare(a, b []byte) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isDigit(a[i]) || j < len(b) && !isDigit(b[j]) {
			if oa, ob := verOrder(a, i), verOrder(b, j); oa != ob {
				return oa - ob
			}
			i++
			j++
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		first := 0
		for i < len(a) && j < len(b) && isDigit(a[i]) && isDigit(b[j]) {
			if first == 0 {
				first = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		switch {
		case i < len(a) && isDigit(a[i]):
			return 1
		case j < len(b) && isDigit(b[j]):
			return -1
		case first != 0:
			return first
		}
	}
	return 0
}

// sortMonths are the C locale's month abbreviations, in GNU's order.
var sortMonths = [12]string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}

// sortMonth is GNU sort's getmonth in the C locale: after leading blanks,
// the month whose abbreviation the key starts with (any case), 1 to 12;
// 0 for none.
func sortMonth(s []byte) int {
	i := 0
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	s = s[i:]
	if len(s) < 3 {
		return 0
	}
	for m, name := range sortMonths {
		if upper(s[0]) == name[0] && upper(s[1]) == name[1] && upper(s[2]) == name[2] {
			return m + 1
		}
	}
	return 0
}

func foldCompare(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if ca, cb := upper(a[i]), upper(b[i]); ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// thousandsSep is the byte GNU sort 9.1 skips in a number's integer part
// in the C locale, which has no thousands separator: sort then sets its
// separator to CHAR_MAX+1, 128, meant to match no char, and gnulib's
// strnumcmp of that release reads the bytes as unsigned char, so 0x80
// matches it. It applies to -n and to -h's number (after the units), not
// to -h's unit, which is found with signed chars.
const thousandsSep = 0x80

// parseNum splits a GNU -n number (C locale: leading blanks, optional '-',
// digits, optional '.' and digits; no '+', no exponent) into its sign,
// integer digits without leading zeros and fraction digits without
// trailing zeros. Anything else reads as 0. As in GNU, thousandsSep bytes
// among the leading zeros and after each integer digit are skipped.
func parseNum(s []byte) (neg bool, ip, fp []byte) {
	i := 0
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	for i < len(s) && (s[i] == '0' || s[i] == thousandsSep) {
		i++
	}
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	ip = s[i:j]
	if j > i && j < len(s) && s[j] == thousandsSep {
		ip = nil
		for j = i; j < len(s) && (isDigit(s[j]) || s[j] == thousandsSep); j++ {
			if s[j] != thousandsSep {
				ip = append(ip, s[j])
			}
		}
	}
	if j < len(s) && s[j] == '.' {
		k := j + 1
		for k < len(s) && isDigit(s[k]) {
			k++
		}
		fp = s[j+1 : k]
		for len(fp) > 0 && fp[len(fp)-1] == '0' {
			fp = fp[:len(fp)-1]
		}
	}
	if len(ip) == 0 && len(fp) == 0 {
		neg = false
	}
	return neg, ip, fp
}

// numCompare compares as GNU strnumcmp does.
func numCompare(a, b []byte) int {
	na, ia, fa := parseNum(a)
	nb, ib, fb := parseNum(b)
	if na != nb {
		if na {
			return -1
		}
		return 1
	}
	d := len(ia) - len(ib)
	if d == 0 {
		d = bytes.Compare(ia, ib)
	}
	if d == 0 {
		d = bytes.Compare(fa, fb)
	}
	if d < 0 {
		d = -1
	} else if d > 0 {
		d = 1
	}
	if na {
		return -d
	}
	return d
}

// sortMergeStage is sort -m: the input is one sorted file to merge, so
// its lines are written in the order read, under -u only the first of
// each run of lines that compare equal to it (GNU's mergefps over one
// input; nothing checks the order). It holds two lines at most.
type sortMergeStage struct {
	opts      *sortOpts
	debug     *sortDebug // --debug, or nil
	lineLimit int
}

// Run writes the lines as they are read.
func (st *sortMergeStage) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	done, release := compute.DoneFlag(ctx)
	defer release()
	o := st.opts.forRun()
	lr := newLineReader("sort", in, lineBufSize, st.lineLimit)
	lr.delim = o.eol
	w := newLineOut(out, sortRunBuf, false)
	w.eol = o.eol
	st.debug.start(ctx, w)
	var saved []byte
	have := false
	for {
		line, _, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if done.Load() {
			return ctx.Err()
		}
		if !o.unique {
			if err := w.line(line); err != nil {
				return err
			}
			continue
		}
		if have && o.compare(saved, line) != 0 {
			if err := w.line(saved); err != nil {
				return err
			}
			have = false
		}
		if !have {
			saved = append(growLine(saved[:0], len(line), st.lineLimit), line...)
			have = true
		}
	}
	if have {
		if err := w.line(saved); err != nil {
			return err
		}
	}
	return w.flush()
}

// sortTab is the -t byte after u, given the one before (-1 for none):
// u's byte when u is -t, as GNU reads it (one byte, or "\\0" for NUL).
func sortTab(tab int, u compute.FlagUse) (int, error) {
	if u.Key != "t" {
		return tab, nil
	}
	var t int
	switch {
	case u.Value == "":
		return 0, compute.Invalidf("sort: empty tab for %s", u.Name)
	case len(u.Value) == 1:
		t = int(u.Value[0])
	case u.Value == `\0`:
		t = 0
	default:
		return 0, compute.Invalidf("sort: multi-character tab %q for %s", u.Value, u.Name)
	}
	if tab >= 0 && tab != t {
		return 0, compute.Invalidf("sort: incompatible tabs for %s", u.Name)
	}
	return t, nil
}

// sortCheckMode is GNU's checkonly after u, given the mode before: 'c'
// for -c, --check and --check=diagnose-first, 'C' for -C and
// --check=quiet or silent, 0 for none; two different ones are an error,
// as in GNU.
func sortCheckMode(mode byte, u compute.FlagUse) (byte, error) {
	var m byte
	switch u.Key {
	case "c":
		m = 'c'
	case "C":
		m = 'C'
	case "check":
		m = 'c'
		if u.HasValue {
			w, err := argmatch("sort", u, "quiet", "silent", "diagnose-first")
			if err != nil {
				return 0, err
			}
			if w != "diagnose-first" {
				m = 'C'
			}
		}
	default:
		return mode, nil
	}
	if mode != 0 && mode != m {
		return 0, compute.Invalidf("sort: options '-cC' are incompatible")
	}
	return m, nil
}

// sortCheckStage is sort -c and -C: it writes nothing, and at the first
// line out of order (under -u, also one equal to the line before it) it
// stops reading and exits 1, as GNU does; -c also names the line on stderr
// (compute.Diagnose), as GNU's "sort: -:N: disorder: LINE". That is the
// job's answer, not a failure: it comes, as any, once the whole input has
// arrived (the engine reads what the stage leaves to the end). It holds two
// lines at most.
type sortCheckStage struct {
	opts      *sortOpts
	quiet     bool
	lineLimit int
}

// Run reads the lines and compares each with the one before it.
func (st *sortCheckStage) Run(ctx context.Context, in io.Reader, _ io.Writer) error {
	done, release := compute.DoneFlag(ctx)
	defer release()
	o := st.opts.forRun()
	lr := newLineReader("sort", in, lineBufSize, st.lineLimit)
	lr.delim = o.eol
	var prev []byte
	for n := uint64(1); ; n++ {
		line, _, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if done.Load() {
			return ctx.Err()
		}
		if n > 1 {
			if d := o.compare(prev, line); d > 0 || (o.unique && d == 0) {
				if !st.quiet {
					compute.Diagnose(ctx, "sort: -:"+strconv.FormatUint(n, 10)+": disorder: "+string(line[:min(len(line), compute.MaxDiagnosticBytes)]))
				}
				compute.SetExitStatus(ctx, 1)
				return nil
			}
		}
		prev = append(growLine(prev[:0], len(line), st.lineLimit), line...)
	}
}

// sortStage sorts with bounded memory: lines collect in blocks up to the
// spool's memory budget, then are sorted and written to an unlinked spill
// file charged to the disk budget; at the end the runs are merged.
//
// What it holds at most: the budget's blocks and index (a line longer than
// a block is held in the buffer it was read into, not copied, and counts
// against the budget like a block), the read buffer, and the next line
// being gathered — so the budget plus two lines of lineLimit, plus buffers
// of a few hundred KiB. The merge holds a buffer and a line per run it
// reads: 16 to 64 runs at once (fanIn), fewer only when 16 of the longest
// line seen pass half the budget. A budget under compute.MinSortMem
// (512 KiB) is rounded up to it (SpoolConfig.SortMem).
type sortStage struct {
	opts      *sortOpts
	debug     *sortDebug // --debug, or nil
	spool     compute.SpoolConfig
	lineLimit int
}

const (
	sortLineOverhead = int64(unsafe.Sizeof(sortLine{})) // bytes charged per held line
	sortRunBuf       = 64 << 10                         // a spill run's write buffer; the most a merge reads a run through
	sortOutBuf       = 256 << 10                        // two for the output

	// sortFanMin and sortFanMax bound how many runs a merge reads at
	// once (GNU's --batch-size is 16): fewer only for lines so long that
	// sortFanMin of them do not fit in half the budget.
	sortFanMin = 16
	sortFanMax = 64
)

// lineOut gathers lines into a buffer for w. With async, a goroutine
// writes each full buffer while the next one fills (two buffers); close
// ends it. A buffer starts small and doubles up to size as lines fill it:
// a small output never allocates size.
type lineOut struct {
	w     io.Writer
	strip int // bytes dropped from the start of each line (sortOpts.pre)
	// hexPre: the first hexPre bytes of each line are written in hex (a
	// spill run's copy of sortOpts.pre under -z, where those bytes hold
	// NULs, the delimiter; sorter.runLine reads them back).
	hexPre int
	tmp    []byte     // the line with its hexPre bytes encoded
	eol    byte       // ends each line: '\n', or NUL (sort -z)
	debug  *sortDebug // --debug: each line is written annotated (sortDebug.write)
	buf    []byte
	size   int // the most a buffer grows to
	// async
	full   chan []byte
	free   chan []byte
	done   chan struct{}
	err    error // the goroutine's first write error (read after a free buffer)
	failed atomic.Bool
}

func newLineOut(w io.Writer, size int, async bool) *lineOut {
	o := &lineOut{w: w, buf: make([]byte, 0, min(size, smallBufSize)), eol: '\n', size: size}
	if async {
		o.full = make(chan []byte, 1)
		o.free = make(chan []byte, 1)
		o.free <- make([]byte, 0, min(size, smallBufSize))
		o.done = make(chan struct{})
		go o.run()
	}
	return o
}

func (o *lineOut) run() {
	defer close(o.done)
	for b := range o.full {
		if o.err == nil {
			if err := o.write(b); err != nil {
				o.err = err
				o.failed.Store(true)
			}
		}
		o.free <- b[:0]
	}
}

// write is the goroutine's write of b: a panic in w (the next stage's
// pipe, the reply spool) fails the job, and the goroutine goes on taking
// buffers, so that line and close never wait for it in vain.
func (o *lineOut) write(b []byte) (err error) {
	defer compute.Recover("sort: output", &err)
	_, err = o.w.Write(b)
	return err
}

// line appends b and the line delimiter.
func (o *lineOut) line(b []byte) error {
	b = b[o.strip:]
	if o.debug != nil {
		return o.debug.write(o, b)
	}
	if o.hexPre > 0 {
		o.tmp = hex.AppendEncode(o.tmp[:0], b[:o.hexPre])
		o.tmp = append(o.tmp, b[o.hexPre:]...)
		b = o.tmp
	}
	return o.put(b)
}

// put appends b as it is and the line delimiter.
func (o *lineOut) put(b []byte) error {
	if len(o.buf)+len(b)+1 > cap(o.buf) && cap(o.buf) < o.size {
		o.buf = slices.Grow(o.buf, min(max(2*cap(o.buf), len(o.buf)+len(b)+1), o.size)-len(o.buf))
	}
	if len(o.buf)+len(b)+1 > cap(o.buf) {
		if err := o.send(); err != nil {
			return err
		}
		if len(b)+1 > o.size {
			// Longer than a buffer: written where it is, after the rest.
			if err := o.wait(); err != nil {
				return err
			}
			if _, err := o.w.Write(b); err != nil {
				return err
			}
		} else {
			if len(b)+1 > cap(o.buf) { // the async pair's other buffer, smaller
				o.buf = slices.Grow(o.buf, min(max(2*cap(o.buf), len(b)+1), o.size))
			}
			o.buf = append(o.buf, b...)
		}
		o.buf = append(o.buf, o.eol)
		return nil
	}
	o.buf = append(o.buf, b...)
	o.buf = append(o.buf, o.eol)
	return nil
}

// send hands the buffer over (writes it, unless async).
func (o *lineOut) send() error {
	if len(o.buf) == 0 {
		return nil
	}
	if o.full == nil {
		_, err := o.w.Write(o.buf)
		o.buf = o.buf[:0]
		return err
	}
	if o.failed.Load() {
		return o.wait()
	}
	o.full <- o.buf
	o.buf = <-o.free
	return nil
}

// wait returns once every buffer sent is written, with the first error.
func (o *lineOut) wait() error {
	if o.full == nil {
		return nil
	}
	b := <-o.free
	o.free <- b
	return o.err
}

// flush writes everything.
func (o *lineOut) flush() error {
	if err := o.send(); err != nil {
		return err
	}
	return o.wait()
}

// close ends the goroutine (after what was sent is written).
func (o *lineOut) close() {
	if o.full != nil {
		close(o.full)
		<-o.done
		o.full = nil
	}
}

// sortRun is a sorted run in a spill file.
type sortRun struct {
	f        *os.File
	level    int // merges it went through: about fanIn^level spills
	reserved int64
	disk     *compute.DiskBudget
}

func (r *sortRun) close() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
		r.disk.Release(r.reserved)
		r.reserved = 0
	}
}

// Write reserves disk budget for p, then writes it.
func (r *sortRun) Write(p []byte) (int, error) {
	if err := r.disk.Reserve(int64(len(p))); err != nil {
		return 0, err
	}
	r.reserved += int64(len(p))
	n, err := r.f.Write(p)
	if err != nil {
		return n, compute.SpoolError("sort: spill write failed", err)
	}
	return n, nil
}

type sorter struct {
	ctx     context.Context
	done    *atomic.Bool // ctx is done: checked per line and every 256 comparisons
	maxLine int          // the longest line read
	o       *sortOpts
	spool   compute.SpoolConfig
	mem     int64
	block   int
	// nextCap is the capacity of the next new block: the first is
	// small and each doubles up to block, so a small sort holds a few
	// KiB, not a budget's eighth.
	nextCap int
	// blockBytes is the capacity of blocks: a long line's block counts
	// what it holds, not a block's size.
	blockBytes int64
	blocks     [][]byte // full blocks, the last one being filled
	free       [][]byte
	lines      []sortLine
	runs       []*sortRun

	// For whole-line comparison (sortOpts.lineCmp): the held lines share
	// their first runLCP bytes (those of runFirst), every line read its
	// first allLCP bytes (allPrefix, a copy); off is the prefix the
	// entries compared skip.
	runFirst  []byte
	runLCP    int
	allPrefix []byte
	allLCP    int
	off       int
	// split: after sortHeld, lines[:split] and lines[split:] are sorted
	// (by two goroutines), to be merged as they are written.
	split int
}

// sortLCPMax bounds the shared prefix tracked (and copied).
const sortLCPMax = 256

// commonPrefix is the length of the common prefix of a and b.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// track updates the shared prefixes with line, the next line held.
func (s *sorter) track(line []byte) {
	if len(s.lines) == 0 {
		s.runFirst, s.runLCP = line, min(len(line), sortLCPMax)
	} else if s.runLCP > 0 {
		s.runLCP = commonPrefix(s.runFirst[:s.runLCP], line)
	}
	if s.allPrefix == nil {
		s.allPrefix = bytes.Clone(line[:min(len(line), sortLCPMax)])
		s.allLCP = len(s.allPrefix)
	} else if s.allLCP > 0 {
		s.allLCP = commonPrefix(s.allPrefix[:s.allLCP], line)
	}
}

func (s *sorter) held() int64 {
	return s.blockBytes + int64(cap(s.lines))*sortLineOverhead
}

// full reports whether holding one more line of n bytes could pass the
// budget, counting a new block and a grown index (old and new at once).
func (s *sorter) full(n int) bool {
	need := s.held()
	if k := len(s.blocks); k == 0 || cap(s.blocks[k-1])-len(s.blocks[k-1]) < n {
		need += int64(s.newBlockCap(n))
	}
	if len(s.lines) == cap(s.lines) {
		need += int64(indexGrowth(cap(s.lines))+cap(s.lines)) * sortLineOverhead
	}
	return need > s.mem
}

// newBlockCap is the capacity of the block add starts for a line of n
// bytes that does not fit in the current one.
func (s *sorter) newBlockCap(n int) int {
	switch {
	case n > s.block:
		return n // at least: a long line's own buffer may be larger
	case len(s.free) > 0:
		return s.block
	}
	return max(n, s.nextCap)
}

// indexGrowth is how many entries an index of c grows by: doubling while
// small (a small sort's index stays small), then by a quarter, not
// double: the old and new index are both live while copying, and count
// against the budget.
func indexGrowth(c int) int {
	return max(32, min(c, 1024), c/4)
}

// add copies line into the current block and holds it. A line longer
// than a block becomes a block of its own: own, when not nil, is a buffer
// holding just line that add may keep rather than copy.
func (s *sorter) add(line, own []byte) {
	n := len(s.blocks)
	if n == 0 || cap(s.blocks[n-1])-len(s.blocks[n-1]) < len(line) {
		var b []byte
		if len(line) > s.block {
			if own != nil {
				b = own[:0]
			} else {
				b = make([]byte, 0, len(line))
			}
		} else if k := len(s.free); k > 0 {
			b, s.free = s.free[k-1][:0], s.free[:k-1]
		} else {
			b = make([]byte, 0, s.newBlockCap(len(line)))
			s.nextCap = min(2*cap(b), s.block)
		}
		s.blocks = append(s.blocks, b)
		s.blockBytes += int64(cap(b))
		n++
	}
	if len(s.lines) == cap(s.lines) {
		s.lines = slices.Grow(s.lines, indexGrowth(cap(s.lines)))
	}
	b := s.blocks[n-1]
	start := len(b)
	b = append(b, line...)
	s.blocks[n-1] = b
	held := b[start:len(b):len(b)]
	if s.o.lineCmp {
		s.track(held)
		s.lines = append(s.lines, lineEntry(held, 0))
	} else {
		s.lines = append(s.lines, s.o.entry(held))
	}
}

// errSortCanceled unwinds an in-memory sort whose context is done: the
// comparison panics with it and sortHeld recovers, so a sort of a large
// budget stops within 256 comparisons of a cancel.
var errSortCanceled = errors.New("sort canceled")

// sortParallelMin is the fewest held lines sorted by two goroutines.
const sortParallelMin = 512

// sortHeld sorts the held lines, in two halves on two goroutines when
// there are many and two cores (lines[:split] and lines[split:], merged
// as they are written); it returns ctx's error, the lines in no
// particular order, when ctx is done first.
func (s *sorter) sortHeld() error {
	s.off = 0
	if s.o.lineCmp && s.runLCP > 0 {
		// Keys from after the prefix every held line shares.
		s.off = s.runLCP
		for i := range s.lines {
			s.lines[i] = lineEntry(s.lines[i].line(), s.off)
		}
	}
	n := len(s.lines)
	s.split = n
	if n < sortParallelMin || runtime.GOMAXPROCS(0) < 2 {
		return s.sortPart(s.lines)
	}
	s.split = n / 2
	var wg sync.WaitGroup
	var err1 error
	wg.Go(func() { err1 = s.sortPart(s.lines[:s.split]) })
	err2 := s.sortPart(s.lines[s.split:])
	wg.Wait()
	if err1 != nil {
		return err1
	}
	return err2
}

// sortPart sorts lines.
func (s *sorter) sortPart(lines []sortLine) (err error) {
	n := 0
	cmp := func(a, b sortLine) int {
		if n++; n&255 == 0 && s.done.Load() {
			panic(errSortCanceled)
		}
		return s.cmp(&a, &b)
	}
	defer func() {
		if r := recover(); r != nil {
			if r != errSortCanceled { //nolint:errorlint // our own sentinel, never wrapped
				// A fault of the comparison: sortHeld runs half the
				// lines on a goroutine of its own, where a panic would
				// end the process.
				err = compute.Panicked("sort", r)
				return
			}
			err = s.ctx.Err()
		}
	}()
	if s.o.stable || s.o.unique {
		slices.SortStableFunc(lines, cmp)
	} else {
		slices.SortFunc(lines, cmp)
	}
	return nil
}

// newOut is newLineOut ending each line in the sort's delimiter.
func (s *sorter) newOut(w io.Writer, size int, async bool) *lineOut {
	o := newLineOut(w, size, async)
	o.eol = s.o.eol
	return o
}

// runOut is newOut for a spill run: a line's pre bytes (sortOpts.pre)
// are kept, in hex under -z, whose delimiter they may hold.
func (s *sorter) runOut(r *sortRun) *lineOut {
	o := s.newOut(r, sortRunBuf, false)
	if s.o.eol == 0 {
		o.hexPre = s.o.pre
	}
	return o
}

// runLine is a line read back from a spill run as it was held: the hex
// of its pre bytes (runOut) decoded in place.
func (s *sorter) runLine(line []byte) ([]byte, error) {
	n := s.o.pre
	if n == 0 || s.o.eol != 0 {
		return line, nil
	}
	var pre [sortPreMax]byte
	if len(line) < 2*n {
		return nil, compute.Internal("sort: spill read failed", io.ErrUnexpectedEOF)
	}
	if _, err := hex.Decode(pre[:n], line[:2*n]); err != nil {
		return nil, compute.Internal("sort: spill read failed", err)
	}
	copy(line[n:], pre[:n])
	return line[n:], nil
}

// spill sorts the held lines into a new run and frees them.
func (s *sorter) spill() error {
	if err := s.sortHeld(); err != nil {
		return err
	}
	f, err := s.spool.TempFile()
	if err != nil {
		return err
	}
	r := &sortRun{f: f, disk: s.spool.Disk}
	s.runs = append(s.runs, r)
	w := s.runOut(r)
	if err := s.writeLines(w); err != nil {
		return err
	}
	clear(s.lines)
	s.lines = s.lines[:0]
	s.runFirst, s.runLCP = nil, 0
	for _, b := range s.blocks {
		if cap(b) == s.block {
			s.free = append(s.free, b)
		}
	}
	s.blocks = s.blocks[:0]
	s.blockBytes = 0
	return s.compact()
}

// fanIn is how many runs one merge reads at once: each holds a buffer
// (mergeBuf) and its current line, half the budget for the buffers and
// half for the lines (the longest seen, when longer than a buffer). It
// is sortFanMin to sortFanMax, the buffers shrinking below sortRunBuf to
// fit (at compute.MinSortMem, 16 KiB each), and fewer when that many of
// the longest line seen pass half the budget: under sortFanMin only when
// sortFanMin of them do (at least 2).
func (s *sorter) fanIn() int {
	n := min(max(s.mem/(2*sortRunBuf), sortFanMin), sortFanMax)
	return int(max(2, min(n, s.mem/(2*int64(max(s.maxLine, 1))))))
}

// mergeBuf is the size of the buffer a merge of fanIn runs reads each
// run through.
func (s *sorter) mergeBuf(fanIn int) int {
	return int(min(max(s.mem/int64(2*fanIn), smallBufSize), sortRunBuf))
}

// compact merges the newest runs into one while fanIn of them have the
// same level, as a counter in base fanIn carries. So the spill files open
// at once stay under fanIn a level, log_fanIn(spills) levels, instead of
// one a spill: a small memory budget once made one spill file a line,
// all open until the end ("too many open files"). Merging neighbours in
// place keeps the runs in input order, which the merge's ties need (-s).
// Each line is rewritten once a level, as the final merge would.
func (s *sorter) compact() error {
	for {
		fanIn, n := s.fanIn(), len(s.runs)
		if n < fanIn {
			break
		}
		if s.runs[n-fanIn].level != s.runs[n-1].level {
			break // levels only fall from the first run to the last
		}
		s.free = nil // the merge's buffers take the place of the blocks
		if err := s.mergeTail(n - fanIn); err != nil {
			return err
		}
	}
	if sortRunsHook != nil {
		sortRunsHook(len(s.runs))
	}
	return nil
}

// mergeTail merges s.runs[i:] into one run in their place, a level
// above the first of them.
func (s *sorter) mergeTail(i int) error {
	group := s.runs[i:]
	f, err := s.spool.TempFile()
	if err != nil {
		return err
	}
	r := &sortRun{f: f, disk: s.spool.Disk, level: group[0].level + 1}
	err = s.merge(group, s.runOut(r))
	for _, g := range group {
		g.close()
	}
	if sortMergeHook != nil {
		sortMergeHook(len(group), r.level)
	}
	clear(group)
	s.runs = append(s.runs[:i], r)
	return err
}

// sortRunsHook, when set (by a test), is told how many runs are open after
// each spill.
var sortRunsHook func(open int)

// sortMergeHook, when set (by a test), is told of each merge into a spill
// run: how many runs it read and the new run's level.
var sortMergeHook func(runs, level int)

// writeLines writes the held lines sorted (merging the halves sortHeld
// sorted; on a tie the first half's, the earlier input, goes first),
// dropping equal ones under -u.
func (s *sorter) writeLines(w *lineOut) error {
	a, b := s.lines[:s.split], s.lines[s.split:]
	var prev *sortLine
	for n := 0; len(a)+len(b) > 0; n++ {
		if n&1023 == 0 && s.done.Load() {
			return s.ctx.Err()
		}
		var l *sortLine
		if len(b) == 0 || len(a) > 0 && s.cmp(&a[0], &b[0]) <= 0 {
			l, a = &a[0], a[1:]
		} else {
			l, b = &b[0], b[1:]
		}
		if s.o.unique && prev != nil && s.cmp(prev, l) == 0 && !s.o.nanTwin(l.line()) {
			continue
		}
		prev = l
		if err := w.line(l.line()); err != nil {
			return err
		}
	}
	return w.flush()
}

func (s *sorter) cleanup() {
	for _, r := range s.runs {
		r.close()
	}
	s.runs = nil
}

// Run reads every line, then writes them sorted.
func (st *sortStage) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	done, release := compute.DoneFlag(ctx)
	defer release()
	st.debug.start(ctx, nil)
	s := &sorter{ctx: ctx, done: done, o: st.opts.forRun(), spool: st.spool, mem: st.spool.SortMem()}
	s.block = int(min(max(s.mem/8, 4<<10), 1<<20))
	s.nextCap = min(smallBufSize, s.block)
	defer s.cleanup()
	lr := newLineReader("sort", in, int(min(max(s.mem/8, 4<<10), lineBufSize)), st.lineLimit)
	lr.delim = s.o.eol
	var full []byte
	if s.o.pre > 0 {
		full = make([]byte, s.o.pre)
	}
	for {
		line, _, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if done.Load() {
			return ctx.Err()
		}
		s.maxLine = max(s.maxLine, len(line)+s.o.pre)
		if s.full(len(line)) && len(s.lines) > 0 {
			if err := s.spill(); err != nil {
				return err
			}
		}
		own, _ := lr.takeLong(line)
		if s.o.pre > 0 {
			// The line after the bytes before it (full keeps them).
			full = append(full[:s.o.pre], line...)
			line, own = full, nil
		}
		s.add(line, own)
		if s.o.pre > 0 {
			full = append(full, 0)
			copy(full, full[len(full)-s.o.pre:])
		}
		if s.held() > s.mem {
			if err := s.spill(); err != nil {
				return err
			}
		}
	}
	// The output is written by a goroutine of its own while the next
	// buffer fills.
	bw := s.newOut(out, sortOutBuf, true)
	bw.strip = s.o.pre
	defer bw.close()
	st.debug.output(bw)
	if len(s.runs) == 0 {
		if err := s.sortHeld(); err != nil {
			return err
		}
		return s.writeLines(bw)
	}
	if len(s.lines) > 0 {
		if err := s.spill(); err != nil {
			return err
		}
	}
	s.blocks, s.free, s.lines = nil, nil, nil
	// Too many runs for one merge: merge the newest (the smallest: the
	// levels fall from the first run to the last) into one, as few as
	// leave fanIn, fanIn at a time. Merging neighbours keeps the runs in
	// input order (-s).
	fanIn := s.fanIn()
	for n := len(s.runs); n > fanIn; n = len(s.runs) {
		k := min(fanIn, n-fanIn+1)
		if err := s.mergeTail(n - k); err != nil {
			return err
		}
	}
	return s.merge(s.runs, bw)
}

// mergeSrc is one run being merged.
type mergeSrc struct {
	lr   *lineReader
	ent  sortLine
	s    *sorter
	idx  int  // run order
	done bool // the run is exhausted
}

// loserTree is a tournament over the runs being merged: tree[0] is the
// run with the least line, tree[n] for n ≥ 1 the loser of the match at
// node n (the leaves, k to 2k-1, are the runs). Taking the least line and
// reading its run's next costs one comparison per level (a heap: two).
type loserTree struct {
	s    *sorter
	srcs []*mergeSrc
	tree []int
}

// less orders runs by their current line, then by run order (the merge
// is stable); an exhausted run is after every other.
func (t *loserTree) less(a, b int) bool {
	sa, sb := t.srcs[a], t.srcs[b]
	if sa.done || sb.done {
		return !sa.done
	}
	if d := t.s.cmp(&sa.ent, &sb.ent); d != 0 {
		return d < 0
	}
	return a < b
}

func (t *loserTree) init() {
	k := len(t.srcs)
	t.tree = make([]int, k)
	win := make([]int, 2*k)
	for i := range k {
		win[k+i] = i
	}
	for n := k - 1; n >= 1; n-- {
		a, b := win[2*n], win[2*n+1]
		if t.less(a, b) {
			win[n], t.tree[n] = a, b
		} else {
			win[n], t.tree[n] = b, a
		}
	}
	if k > 1 {
		t.tree[0] = win[1]
	}
}

// replay plays run w's new line from its leaf up.
func (t *loserTree) replay(w int) {
	for n := (w + len(t.srcs)) / 2; n > 0; n /= 2 {
		if t.less(t.tree[n], w) {
			t.tree[n], w = w, t.tree[n]
		}
	}
	t.tree[0] = w
}

// merge k-way merges runs into w.
func (s *sorter) merge(runs []*sortRun, w *lineOut) error {
	s.off = 0
	if s.o.lineCmp {
		s.off = s.allLCP
	}
	t := &loserTree{s: s}
	buf := s.mergeBuf(len(runs))
	for i, r := range runs {
		if _, err := r.f.Seek(0, io.SeekStart); err != nil {
			return compute.SpoolError("sort: spill read failed", err)
		}
		src := &mergeSrc{lr: newLineReader("sort", r.f, buf, s.maxLine+s.o.pre+1), idx: i, s: s}
		src.lr.delim = s.o.eol
		if err := src.advance(); err != nil {
			return err
		}
		t.srcs = append(t.srcs, src)
	}
	if len(t.srcs) == 0 {
		return w.flush()
	}
	t.init()
	var prev []byte
	have := false
	for n := 0; ; n++ {
		if n&1023 == 0 && s.done.Load() {
			return s.ctx.Err()
		}
		top := t.srcs[t.tree[0]]
		if top.done {
			break
		}
		line := top.ent.line()
		if !s.o.unique || !have || s.o.compare(prev, line) != 0 || s.o.nanTwin(line) {
			if err := w.line(line); err != nil {
				return err
			}
			if s.o.unique {
				prev = append(prev[:0], line...)
				have = true
			}
		}
		if err := top.advance(); err != nil {
			return err
		}
		t.replay(t.tree[0])
	}
	return w.flush()
}

// advance reads the run's next line, or marks it done at its end.
func (m *mergeSrc) advance() error {
	line, _, err := m.lr.next()
	if err == io.EOF {
		m.done = true
		return nil
	}
	if err != nil {
		return compute.SpoolError("sort: spill read failed", err)
	}
	if line, err = m.s.runLine(line); err != nil {
		return err
	}
	if m.s.o.lineCmp {
		m.ent = lineEntry(line, m.s.off)
	} else {
		m.ent = m.s.o.entry(line)
	}
	return nil
}

// sortFieldMax stands for GNU's SIZE_MAX field and character numbers: an
// overflowing count, far past any line (a quarter of the int range where
// int has 32 bits, so that it builds there).
const sortFieldMax = min(1<<40, math.MaxInt>>2)

// sortFieldCount reads a count at the start of s as GNU sort's
// parse_field_count (xstrtoumax: leading blanks and '+' allowed, what
// follows the digits is left for the caller, an overflow is the maximum).
// ok is false when s does not start with a number.
func sortFieldCount(s string) (n int, rest string, ok bool) {
	v, rest, e := compute.XStrtoumax(s, 10, "")
	if e&compute.NumInvalid != 0 {
		return 0, s, false
	}
	if e&compute.NumOverflow != 0 || v > sortFieldMax {
		v = sortFieldMax
	}
	return int(v), rest, true
}

// sortKeyOpts reads the ordering letters of a key from s (GNU's: it
// stops where they stop) and returns what follows them.
func sortKeyOpts(k *sortKey, s string, end bool) (rest string) {
	for ; s != ""; s = s[1:] {
		switch s[0] {
		case 'b':
			if end {
				k.skipeb = true
			} else {
				k.skipsb = true
			}
		case 'n':
			k.numeric = true
		case 'g':
			k.general = true
		case 'f':
			k.fold = true
		case 'r':
			k.reverse = true
		case 'd':
			k.ignore = &sortNondictionary
		case 'i':
			if k.ignore == nil { // -i does not override -d
				k.ignore = &sortNonprinting
			}
		case 'M':
			k.month = true
		case 'h':
			k.human = true
		case 'V':
			k.version = true
		case 'R':
			k.random = true
		default:
			return s
		}
	}
	return ""
}

// sortCharCount reads a character number as sortFieldCount does, an
// overflow being 2^64-1 (GNU's SIZE_MAX).
func sortCharCount(s string) (v uint64, rest string, ok bool) {
	v, rest, e := compute.XStrtoumax(s, 10, "")
	if e&compute.NumInvalid != 0 {
		return 0, s, false
	}
	if e&compute.NumOverflow != 0 {
		v = math.MaxUint64
	}
	return v, rest, true
}

// sortWrapWindow: GNU sort adds a (0-based) character number to a
// pointer into its buffer, begfield's MIN (lim, ptr + schar) and
// limfield's MIN (lim, ptr + echar). A number within this window of 2^64
// wraps the pointer back by 2^64-v bytes (user addresses are below
// 2^47); a larger one than the line is its end.
const sortWrapWindow = 1 << 40

// sortPreMax is the farthest back a key's start may wrap: GNU then reads
// the bytes before the line in its buffer (the lines before, each ending
// in a NUL), and before its buffer the top bytes of the malloc chunk's
// size, zero for a buffer under 16 MiB. Farther back is the heap.
const sortPreMax = 5

// sortCharOffset is v as keySpan's offset: negative when it wraps back.
// ok is false for a start that wraps farther back than sortPreMax.
func sortCharOffset(v uint64, start bool) (int, bool) {
	switch {
	case v > math.MaxUint64-sortWrapWindow:
		d := int(math.MaxUint64 - v + 1)
		return -d, !start || d <= sortPreMax
	case v > sortFieldMax:
		return sortFieldMax, true
	}
	return int(v), true
}

// obsoleteKeyWarning is GNU sort --debug's warning about an obsolete key,
// from GNU's numbers for it (zero-based, SIZE_MAX for a key that starts
// with no field to find), with GNU's arithmetic: it names the fields
// only, as GNU does, and its numbers wrap as GNU's size_t.
func obsoleteKeyWarning(sword, eword, echar uint64, end bool) string {
	if sword == math.MaxUint64 {
		sword++
	}
	old := "+" + strconv.FormatUint(sword, 10)
	now := "-k " + strconv.FormatUint(sword+1, 10)
	if end {
		old += " -" + strconv.FormatUint(eword+1, 10)
		now += "," + strconv.FormatUint(eword+1+uint64(b2i(echar == math.MaxUint64)), 10)
	}
	return "sort: obsolescent key '" + old + "' used; consider '" + now + "' instead"
}

func unsupportedWrap(def string) error {
	return compute.Invalidf("sort: unsupported character offset in %q (GNU reads it before its buffer: heap bytes)", def)
}

// obsoleteSortKey parses an operand +POS1, and a following -POS2 word, as
// GNU sort's obsolete key syntax: +F.C (counted from 0) starts the key,
// -F.C ends it. ok is false when op is no such key (it is then a file).
func obsoleteSortKey(g *compute.Getopt, op string) (sortKey, bool, error) {
	if !strings.HasPrefix(op, "+") {
		return sortKey{}, false, nil
	}
	k := sortKey{eword: -1, geword: math.MaxUint64}
	n, s, ok := sortFieldCount(op[1:])
	if !ok {
		return sortKey{}, false, nil
	}
	k.sword = n
	gsword, _, _ := sortCharCount(op[1:]) // GNU's sword and schar
	gschar := uint64(0)
	if strings.HasPrefix(s, ".") {
		v, rest, ok := sortCharCount(s[1:])
		if !ok {
			return sortKey{}, false, nil
		}
		s = rest
		gschar = v
		if k.schar, ok = sortCharOffset(v, true); !ok && gsword != math.MaxUint64 {
			return sortKey{}, false, unsupportedWrap(op)
		}
	}
	if s = sortKeyOpts(&k, s, false); s != "" {
		return sortKey{}, false, nil
	}
	switch {
	case gsword == math.MaxUint64:
		// A field number past 2^64 is GNU's SIZE_MAX, its mark of a key
		// with no field to find: the key starts at the line's start,
		// whatever its character number.
		k.sword, k.schar = 0, 0
		k.scharSet = gschar != 0
	case gsword == 0 && gschar == 0:
		gsword = math.MaxUint64 // GNU: no field to find (sortKey.whole)
	}
	k.gsword = gsword
	next, ok := g.Peek()
	if !ok || len(next) < 2 || next[0] != '-' || !isDigit(next[1]) {
		k.obsolete = obsoleteKeyWarning(gsword, 0, 0, false)
		return k, true, nil
	}
	g.Skip()
	bad := func(why string) (sortKey, bool, error) {
		return sortKey{}, false, compute.Invalidf("sort: invalid key %q: %s", next, why)
	}
	ew, s, ok := sortFieldCount(next[1:])
	if !ok {
		return bad("invalid number after '-'")
	}
	ec := 0
	geword, _, _ := sortCharCount(next[1:]) // GNU's eword and echar
	gechar := uint64(0)
	if strings.HasPrefix(s, ".") {
		v, rest, ok := sortCharCount(s[1:])
		if !ok {
			return bad("invalid number after '.'")
		}
		s = rest
		gechar = v
		ec, _ = sortCharOffset(v, false)
	}
	if ec == 0 && ew > 0 {
		ew--
	}
	if gechar == 0 && geword > 0 {
		geword--
	}
	k.eword, k.echar, k.geword = ew, ec, geword
	if geword == math.MaxUint64 {
		// 2^64-1 fields (or more) and a character: GNU's eword is
		// SIZE_MAX, its mark of a key with no end.
		k.eword = -1
	}
	k.obsolete = obsoleteKeyWarning(gsword, geword, gechar, geword != math.MaxUint64)
	if s = sortKeyOpts(&k, s, true); s != "" {
		return bad("stray character in field spec")
	}
	return k, true, nil
}
