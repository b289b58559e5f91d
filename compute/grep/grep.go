package grep

import (
	"math"
	"strconv"
	"strings"

	"github.com/halfclose/halfclose/compute"
)

// grep is GNU grep 3.8 reading stdin with LC_ALL=C, with these differences:
//
// Patterns are compiled to Go RE2 (leftmost-longest, as POSIX). Basic (-G,
// the default) and extended (-E) syntax are translated with GNU's meaning
// (translate.go): the errors of both of GNU's parsers (glibc regex and
// gnulib's dfa), the dfa's reading for selecting lines and glibc regex's
// for what -o prints. Back-references (\1), repeat counts above 1000
// (also nested ones whose product is: re2Limit), and -o where glibc
// regex gets an assertion in a copied repetition wrong (glibcdup.go)
// are refused as unsupported; \< and \> are \b with
// their condition moved into what is beside them (wordmark.go). A newline
// in a pattern separates alternatives, as in GNU. Matching is on bytes:
// '.' and classes match one byte, -i folds ASCII only. -P (perl.go)
// translates the part of PCRE2's syntax RE2 keeps exactly, matched
// leftmost-first as PCRE2 does, and refuses the rest by name.
//
// Exit status 1 (no line selected) is not an error: the output is empty.
// Input with a NUL byte is binary: as GNU, output stops at the first of
// GNU's reads that holds a NUL (blocks.go models them; GNU prints "binary
// file matches" on stderr, a diagnostic here), and -c counts
// NUL-separated lines. GNU's reads of a pipe that delivers short reads
// are not those of a file, so the two may differ in how many lines before
// the NUL are printed; we follow GNU reading a regular file (after-context
// pending at that block is printed from the blocks after it as GNU does,
// context.go). -a reads NULs as any byte, -I makes such an input select no
// line (Run).
//
// -z reads NUL-ended lines: the input is read with its NULs and newlines
// swapped (swapNL), so that all of the above runs on newline-ended lines,
// the patterns compiled for the swapped bytes (fixTree); what is printed
// of the input is swapped back (writeText). Under -z nothing is binary.
// -T pads numbers to GNU's width for a pipe, or for a regular file when
// told (SetInputFile).

// Register adds grep to r.
func Register(r *compute.Registry) {
	r.Register(&compute.Command{
		Name:    "grep",
		Summary: "print lines that match patterns (GNU grep, C locale; patterns are RE2)",
		Flags:   grepFlags,
		Build:   buildGrep,
	})
}

// grepFlags is GNU grep 3.8's option table. The digits are -NUM (context).
var grepFlags = func() []compute.FlagSpec {
	f := []compute.FlagSpec{
		// before --fixed-strings, as in GNU's table: an abbreviation of
		// both (--fixed-) is the first, in its messages too
		{Long: "fixed-regexp", Same: "F", Summary: "same as --fixed-strings"},
		{Short: 'F', Long: "fixed-strings", Summary: "patterns are strings"},
		{Short: 'E', Long: "extended-regexp", Summary: "patterns are extended regular expressions"},
		{Short: 'G', Long: "basic-regexp", Summary: "patterns are basic regular expressions (default)"},
		{Short: 'P', Long: "perl-regexp", Summary: "patterns are Perl regular expressions (PCRE2's, the part RE2 keeps exactly: perl.go)"},
		{Short: 'X', Value: true, Summary: "MATCHER (undocumented GNU): grep, egrep, fgrep or perl is -G, -E, -F or -P (awk, gawk and posixawk are refused)"},
		{Short: 'e', Long: "regexp", Value: true, Summary: "use PATTERN for matching (repeatable)"},
		{Short: 'f', Long: "file", Value: true, Refuse: "no files: give patterns with -e"},
		{Short: 'i', Long: "ignore-case", Summary: "ignore ASCII case distinctions"},
		{Short: 'y', Same: "i", Summary: "same as -i"},
		{Long: "no-ignore-case", Summary: "do not ignore case (the default)"},
		{Short: 'v', Long: "invert-match", Summary: "select non-matching lines"},
		{Short: 'c', Long: "count", Summary: "print only a count of selected lines"},
		{Short: 'n', Long: "line-number", Summary: "prefix each output line with its line number"},
		{Short: 'w', Long: "word-regexp", Summary: "match only whole words"},
		{Short: 'x', Long: "line-regexp", Summary: "match only whole lines"},
		{Short: 'o', Long: "only-matching", Summary: "print only the matched parts"},
		{Short: 'm', Long: "max-count", Value: true, Summary: "stop after NUM selected lines"},
		{Short: 'h', Long: "no-filename", Summary: "do not prefix lines with the input's name (the default)"},
		{Short: 'H', Long: "with-filename", Summary: "prefix lines with the input's name, (standard input)"},
		{Long: "label", Value: true, Summary: "use LABEL as the input's name"},
		{Short: 's', Long: "no-messages", Summary: "no-op"},
		{Short: 'q', Long: "quiet", Summary: "print nothing"},
		{Long: "silent", Same: "q", Summary: "same as --quiet"},
		{Short: 'l', Long: "files-with-matches", Summary: "print the input's name if a line is selected"},
		{Short: 'L', Long: "files-without-match", Summary: "print the input's name if no line is selected"},
		{Short: 'U', Long: "binary", Summary: "no-op"},
		{Short: 'u', Long: "unix-byte-offsets", Summary: "no-op (obsolete)"},
		{Long: "line-buffered", Summary: "no-op"},
		{Long: "color", Value: true, Optional: true, Summary: "WHEN: never or auto (no colors on a stream)"},
		{Long: "colour", Same: "color", Value: true, Optional: true, Summary: "same as --color"},
		{Long: "group-separator", Value: true, Summary: "print SEP between groups of context (default --)"},
		{Long: "no-group-separator", Same: "group-separator", Summary: "print no separator between groups of context"},
		{Short: 'A', Long: "after-context", Value: true, Summary: "print NUM lines of context after each selected line"},
		{Short: 'B', Long: "before-context", Value: true, Summary: "print NUM lines of context before each selected line"},
		{Short: 'C', Long: "context", Value: true, Summary: "print NUM lines of context around each selected line"},
		{Short: 'a', Long: "text", Summary: "read binary input (with NULs) as text"},
		{Long: "binary-files", Value: true, Summary: "TYPE of binary input: binary (the default), text (-a) or without-match (-I)"},
		{Short: 'I', Summary: "binary input selects no line (--binary-files=without-match)"},
		{Short: 'b', Long: "byte-offset", Summary: "prefix each output line (or -o match) with its byte offset in the input"},
		{Short: 'T', Long: "initial-tab", Summary: "put a tab before each output line's text, after its prefixes (padded numbers)"},
		{Short: 'Z', Long: "null", Summary: "print a NUL after the input's name, not ':', '-' or a newline"},
		{Short: 'z', Long: "null-data", Summary: "input and output lines end in NUL, not newline"},
		{Short: 'd', Long: "directories", Value: true, Refuse: compute.RefuseFiles},
		{Short: 'D', Long: "devices", Value: true, Refuse: compute.RefuseFiles},
		{Short: 'r', Long: "recursive", Refuse: compute.RefuseFiles},
		{Short: 'R', Long: "dereference-recursive", Refuse: compute.RefuseFiles},
		{Long: "include", Value: true, Refuse: compute.RefuseFiles},
		{Long: "exclude", Value: true, Refuse: compute.RefuseFiles},
		{Long: "exclude-from", Value: true, Refuse: compute.RefuseFiles},
		{Long: "exclude-dir", Value: true, Refuse: compute.RefuseFiles},
		{Short: 'V', Long: "version", Refuse: compute.RefuseInfo},
		{Long: "help", Refuse: compute.RefuseInfo},
	}
	for c := byte('0'); c <= '9'; c++ {
		f = append(f, compute.FlagSpec{Short: c, Summary: "-NUM is -C NUM (the digits of one word make one number, as GNU reads them)"})
	}
	return f
}()

type grepMode int

const (
	grepBasic grepMode = iota
	grepExtended
	grepFixed
	grepPerl
)

// grepStage is a compiled grep.
type grepStage struct {
	invert, lineNum, only bool
	// lineNL: -o with -x and -w, GNU's regexp matcher (not its -F one)
	// takes the line's newline into the match (EGexecute's match_lines
	// case), so each selected line prints whole, then two newlines.
	lineNL bool
	// count: no line is printed (-c, -l, -L, -q); as GNU, NULs are then
	// line ends and do not stop the output.
	count     bool
	showCount bool   // -c
	list      byte   // 'l' or 'L': print the input's name if a line is (not) selected
	firstOnly bool   // -l, -L, -q: stop at the first selected line
	withName  bool   // prefix output lines with label: -H or several inputs
	nullName  bool   // -Z: a NUL follows the label, in place of its separator
	byteOff   bool   // -b: prefix output with its byte offset (textFrame)
	label     string // the input's name: "(standard input)" or --label
	inputs    int    // "-" operands (at least 1): the others read an ended stdin
	maxCount  int64  // -1: no limit
	// noInvert: -v with a negative -m selects no line (GNU 3.8 prints at
	// most -m lines of a non-matching run, so none), but with -q.
	noInvert bool
	// binary is what a NUL in the input does (GNU's --binary-files):
	// binBinary stops the output at its block, binText nothing, and
	// binWithout makes the input one that selected no line.
	binary byte
	// silent: GNU exits before reading (-m 0; -v with only empty
	// patterns): no output at all.
	silent bool
	m      *grepMatcher
	// xo, when set, is what -o searches a line with that -v prints as
	// context though it does not match (-A's lines after the -m-th
	// selected one): GNU's regexp matcher given -o's start skips -x's
	// check (EGexecute), so the patterns without -x; under -w too (-x
	// -w, lineNL), a match must still take the whole line.
	xo *grepMatcher
	// lineLimit is the longest line held (Env.LineLimit).
	lineLimit int
	// before and after are the lines of context (-B, -A, -C, -NUM); -1:
	// not given. Either given turns group separators on (context.go).
	before, after int64
	// groupSep is the group separator and its newline; nil: none
	// (--no-group-separator).
	groupSep []byte
	// spool bounds the before-context held (context.go).
	spool compute.SpoolConfig
	// nul: -z, lines end in NUL. The input is read with its NULs and
	// newlines swapped (swapNL), so that everything past the read sees
	// newline-ended lines, and the patterns are compiled to match the
	// swapped bytes; what is printed of a line is swapped back (write).
	nul bool
	// eol ends each output line: '\n', or NUL under -z. (Counts, names
	// and group separators end in a newline either way, as in GNU.)
	eol byte
	// tab: -T, a tab between the prefixes and a line's text, numbers
	// right-aligned to numWidth.
	tab bool
	// numWidth is the width -T pads numbers to: GNU's offset_width, the
	// digits of a regular file's size (plus one with -n), or of the
	// largest intmax_t for a pipe (SetInputFile).
	numWidth int
	// warnings are what GNU writes on standard error as it reads its
	// flags (-u) and compiles the patterns (warn.go), reported when the
	// stage runs.
	warnings []string
}

// SetInputFile says the input is a regular file of size bytes: -T pads
// the numbers to the digits of its size (with -n, of its size plus one),
// as GNU does; for a pipe it pads to 19, the digits of INTMAX_MAX.
func (g *grepStage) SetInputFile(size int64) {
	if size < math.MaxInt64 && g.lineNum {
		size++
	}
	g.numWidth = len(strconv.FormatInt(size, 10))
}

func buildGrep(env *compute.Env, args []string) (compute.Stage, error) {
	f, err := compute.ParseFlagsCheck("grep", grepFlags, compute.Permute, args, grepFlagCheck())
	if err != nil {
		return nil, err
	}
	mode, matcher := grepBasic, ""
	binary := byte(binBinary)
	fold, list, quiet, withName := false, byte(0), false, 0
	label := "(standard input)"
	before, after, context := int64(-1), int64(-1), int64(-1)
	maxCount, negMax := int64(-1), false // the last -m, and whether it was negative
	groupSep := []byte("--\n")
	var warnings []string // grepStage.warnings
	var num contextDigits // -NUM
	for i, u := range f.Uses {
		if num.add(u) {
			if i+1 < len(f.Uses) && isDigitKey(f.Uses[i+1].Key) && !num.tooLong() {
				continue
			}
			n, err := num.value()
			if err != nil {
				return nil, err
			}
			context = n
			continue
		}
		switch u.Key {
		case "A", "B", "C":
			n, err := contextArg(u.Value, u.Name)
			if err != nil {
				return nil, err
			}
			switch u.Key {
			case "A":
				after = n
			case "B":
				before = n
			default:
				context = n
			}
		case "group-separator":
			groupSep = nil // --no-group-separator
			if u.HasValue {
				groupSep = append([]byte(u.Value), '\n')
			}
		case "m":
			// GNU reads the count as it reads the flag: a bad one is
			// the error before a missing pattern or a later flag's.
			n, _, e := compute.XStrtoimax(u.Value, 10, "")
			if e != compute.NumOK && e != compute.NumOverflow {
				return nil, compute.Invalidf("grep: invalid max count %q for %s", u.Value, u.Name)
			}
			maxCount, negMax = n, n < 0
		case "F", "E", "G", "P", "X":
			k, err := setMatcher(matcher, u)
			if err != nil {
				return nil, err
			}
			matcher, mode = k, grepMatchers[k]
		case "i":
			fold = true
		case "no-ignore-case":
			fold = false
		case "l", "L":
			list = u.Key[0]
		case "q":
			quiet = true
		case "u":
			// GNU warns as it reads the flag, before anything else.
			warnings = append(warnings, "warning: --unix-byte-offsets (-u) is obsolete")
		case "H":
			withName = 1
		case "h":
			withName = -1
		case "label":
			label = u.Value
		case "a":
			binary = binText
		case "I":
			binary = binWithout
		case "binary-files":
			switch u.Value {
			case "binary":
				binary = binBinary
			case "text":
				binary = binText
			case "without-match":
				binary = binWithout
			default:
				return nil, compute.Invalidf("grep: unknown binary-files type %q for %s", u.Value, u.Name)
			}
		case "color":
			// No colors on a stream. GNU prints its help for a WHEN it
			// does not know (an empty one included): refused too.
			switch strings.ToLower(u.Value) {
			case "never", "no", "none", "auto", "tty", "if-tty":
			default:
				if u.HasValue {
					return nil, compute.Invalidf("grep: unsupported value %q for %s (no colors: use never or auto)", u.Value, u.Name)
				}
			}
		}
	}
	var pats []string
	if f.Has("e") {
		pats = f.Values("e")
	} else {
		if len(f.Operands) == 0 {
			return nil, compute.Invalidf("grep: no pattern given")
		}
		p := f.Operands[0]
		if mode != grepFixed && strings.HasPrefix(p, `\-`) {
			p = p[1:] // GNU drops the backslash of a leading \- in an operand
		}
		pats = []string{p}
		f.Operands = f.Operands[1:]
	}
	g := &grepStage{nullName: f.Has("Z"), byteOff: f.Has("b"), invert: f.Has("v"), showCount: f.Has("c"), lineNum: f.Has("n"), only: f.Has("o"), lineLimit: env.LineLimit(),
		maxCount: -1, label: label, inputs: max(1, len(f.Operands)), binary: binary,
		before: before, after: after, groupSep: groupSep, spool: env.Spool,
		nul: f.Has("z"), eol: '\n', tab: f.Has("T"), numWidth: len(strconv.FormatInt(math.MaxInt64, 10)),
		warnings: warnings}
	if g.nul {
		// GNU's binary detection looks for NULs only when they are not
		// the line end, and the C locale has no encoding errors: under
		// -z no input is binary (-a, -I and --binary-files change
		// nothing).
		g.eol, g.binary = 0, binText
	}
	// -A and -B stand whatever their place; -C and -NUM set the other.
	if g.after < 0 {
		g.after = context
	}
	if g.before < 0 {
		g.before = context
	}
	if quiet {
		list = 0
	}
	if quiet || list != 0 {
		g.showCount, g.firstOnly, g.list = false, true, list
	}
	g.count = g.showCount || g.firstOnly
	if withName == 1 || withName == 0 && len(f.Operands) > 1 {
		g.withName = true
	}
	if maxCount < 0 {
		// Not with -q: GNU 3.8 then exits 0 at the first line -v
		// selects (grep -vq -m -1 a, over a line without a).
		g.maxCount, g.noInvert = -1, negMax && g.invert && !quiet
	} else {
		g.maxCount = maxCount
	}
	if g.noInvert && !g.count && (g.before >= 0 || g.after >= 0) {
		// GNU then prints context from where its output last stopped in
		// its read buffer, which follows its reads, not the lines.
		return nil, compute.Invalidf("grep: unsupported flags: -v with a negative -m and context lines")
	}
	var all []string
	allEmpty := true
	for _, p := range pats {
		for _, q := range strings.Split(p, "\n") {
			all = append(all, q)
			allEmpty = allEmpty && q == ""
		}
	}
	// GNU stops before compiling the patterns when it is plain that no
	// line can be selected: -m 0, or -v with only empty patterns.
	if (g.maxCount == 0 || allEmpty && g.invert && !f.Has("w") && !f.Has("x")) && g.list != 'L' {
		g.silent = true // no operand is read either
		return g, nil
	}
	if err := compute.NoOperandsButStdin("grep", f); err != nil {
		return nil, err
	}
	if mode == grepPerl {
		p, err := perlPattern(all)
		if err != nil {
			return nil, err
		}
		if g.m, err = compilePerl(p, fold, f.Has("w"), f.Has("x"), g.nul, env.Patterns); err != nil {
			return nil, err
		}
		return g, nil
	}
	if g.only && !g.count {
		if err := checkCopiedAssertions(all, mode, fold); err != nil {
			return nil, err
		}
		if g.nul {
			if err := checkNewlineAnchors(all, mode, fold); err != nil {
				return nil, err
			}
		}
	}
	g.m, err = compileGrep(all, mode, fold, f.Has("w"), f.Has("x"), g.nul, env.Patterns)
	if err != nil {
		return nil, re2Limit(err, all, mode, fold)
	}
	if mode == grepExtended {
		g.warnings = append(g.warnings, ereWarnings(all)...)
	}
	_, kws := fgrepKeywords(all, mode)
	if g.only && f.Has("w") && f.Has("x") {
		g.lineNL = !kws
	}
	// GNU's regexp matcher, not its -F one (which keeps -x's check with
	// -o): -x -w, or -x with patterns GNU does not take as keywords.
	regexpX := g.lineNL || mode != grepFixed && !kws
	if g.only && g.invert && f.Has("x") && g.maxCount > 0 && g.after > 0 && !g.count && regexpX {
		if g.xo, err = compileGrep(all, mode, fold, false, false, g.nul, env.Patterns); err != nil {
			return nil, re2Limit(err, all, mode, fold)
		}
	}
	return g, nil
}

// What a NUL in the input does (grepStage.binary).
const (
	binBinary  = 'b'
	binText    = 't'
	binWithout = 'w'
)

// grepFlagCheck judges, as each flag is read, the values GNU's option
// loop judges (context lengths, -NUM's too many digits, -m,
// --binary-files, a second matcher), so that of two errors on a line the
// first is named, as in GNU (grep -m x -Q: the count). buildGrep reads
// them again, in the same order.
func grepFlagCheck() func(compute.FlagUse) error {
	matcher := ""
	var num contextDigits
	return func(u compute.FlagUse) error {
		if num.add(u) {
			if num.tooLong() {
				// GNU gives up at this digit: no flag after it is read
				_, err := num.value()
				return err
			}
			return nil
		}
		switch u.Key {
		case "A", "B", "C":
			_, err := contextArg(u.Value, u.Name)
			return err
		case "m":
			if _, _, e := compute.XStrtoimax(u.Value, 10, ""); e != compute.NumOK && e != compute.NumOverflow {
				return compute.Invalidf("grep: invalid max count %q for %s", u.Value, u.Name)
			}
		case "binary-files":
			switch u.Value {
			case "binary", "text", "without-match":
			default:
				return compute.Invalidf("grep: unknown binary-files type %q for %s", u.Value, u.Name)
			}
		case "F", "E", "G", "P", "X":
			k, err := setMatcher(matcher, u)
			if err != nil {
				return err
			}
			matcher = k
		}
		return nil
	}
}

// grepMatchers are GNU's matcher names: one matcher per command.
var grepMatchers = map[string]grepMode{"G": grepBasic, "E": grepExtended, "F": grepFixed, "P": grepPerl}

// xMatchers are the names GNU's undocumented -X MATCHER takes (its
// matchers table, compared whole: no abbreviation), as the key of the
// flag each is (-X egrep is -E), or a reason it is refused here.
var xMatchers = map[string]struct{ key, refuse string }{
	"grep":     {key: "G"},
	"egrep":    {key: "E"},
	"fgrep":    {key: "F"},
	"awk":      {key: "awk", refuse: "awk regular expressions are not implemented"},
	"gawk":     {key: "gawk", refuse: "awk regular expressions are not implemented"},
	"posixawk": {key: "posixawk", refuse: "awk regular expressions are not implemented"},
	"perl":     {key: "P"},
}

// setMatcher is GNU's setmatcher for the flag u (-E, -F, -G or -X NAME)
// after the matcher (a key, "" for none) set so far: a second matcher
// that is not the same one is a conflict (-E -X egrep is none), judged
// before whether this one is supported; a -X name GNU does not know is
// an invalid matcher.
func setMatcher(matcher string, u compute.FlagUse) (string, error) {
	k, why := u.Key, ""
	if k == "X" {
		m, ok := xMatchers[u.Value]
		if !ok {
			return "", compute.Invalidf("grep: invalid matcher %q for -X", u.Value)
		}
		k, why = m.key, m.refuse
	}
	if matcher != "" && matcher != k {
		return "", compute.Invalidf("grep: conflicting matchers specified (%s)", matcherName(u))
	}
	if why != "" {
		return "", compute.Invalidf("grep: unsupported flag %q (%s)", matcherName(u), why)
	}
	return k, nil
}

// matcherName is how an error names a matcher flag: -E, or -X and its
// name.
func matcherName(u compute.FlagUse) string {
	if u.Key == "X" {
		return u.Name + " " + u.Value
	}
	return u.Name
}

// maxContextDigits is how many digits of a -NUM GNU reads: more is an
// error (its buffer holds an intmax_t's digits and sign).
const maxContextDigits = 21

func isDigitKey(k string) bool { return len(k) == 1 && '0' <= k[0] && k[0] <= '9' }

// contextDigits reads -NUM as GNU's get_nondigit_option does: the digits
// of a run of digit flags make one number, but a digit starts the number
// again unless the optind before the digit ahead of it equals the optind
// after that digit. So the digits of one word join (-12 is 12), those of
// two words do not (-1 -2 is 2), and after operands GNU skipped to reach
// the word, its first digit is dropped (grep PAT -23 is 3). One past
// maxContextDigits, GNU stops reading flags and fails on the digits so
// far and "...": buildGrep and grepFlagCheck both read the flags through
// one, so that error comes before any flag after it, as in GNU.
type contextDigits struct {
	digits     []byte
	wasDigit   bool
	callStart  int // optind after the last flag that is no digit
	prevOptind int // GNU's prev_digit_optind
	optind     int // GNU's this_digit_optind
}

// add takes the next flag, u, and reports whether it is a digit, which
// joins the number or starts a new one.
func (d *contextDigits) add(u compute.FlagUse) bool {
	if !isDigitKey(u.Key) {
		d.wasDigit, d.callStart = false, u.Optind
		return false
	}
	if !d.wasDigit {
		d.optind = d.callStart
	}
	switch {
	case !d.wasDigit || d.prevOptind != d.optind:
		d.digits = d.digits[:0]
	case d.digits[0] == '0':
		d.digits = d.digits[:0] // GNU drops a leading zero
	}
	if len(d.digits) == maxContextDigits {
		// GNU appends "..." to the digits so far and fails
		d.digits = append(d.digits, "..."...)
	} else {
		d.digits = append(d.digits, u.Key[0])
	}
	d.wasDigit, d.prevOptind, d.optind = true, d.optind, u.Optind
	return true
}

// tooLong reports whether the number has more digits than GNU reads.
func (d *contextDigits) tooLong() bool { return len(d.digits) > maxContextDigits }

// value is the number so far, as GNU's context_length_arg reads it.
func (d *contextDigits) value() (int64, error) { return contextArg(string(d.digits), "-NUM") }

// contextArg reads a context length as GNU's context_length_arg: an
// intmax_t as xstrtoimax reads it, at least 0, the maximum on overflow.
func contextArg(v, name string) (int64, error) {
	n, _, e := compute.XStrtoimax(v, 10, "")
	if e != compute.NumOK && e != compute.NumOverflow || n < 0 {
		return 0, compute.Invalidf("grep: invalid context length argument %q for %s", v, name)
	}
	return n, nil
}
