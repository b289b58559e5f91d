package grep

import (
	"strconv"
	"strings"

	"github.com/halfclose/halfclose/compute"
)

// grep is GNU grep 3.8 reading stdin with LC_ALL=C, with these differences:
//
// Patterns are compiled to Go RE2 (leftmost-longest, as POSIX). Basic (-G,
// the default) and extended (-E) syntax are translated: BRE \( \) \{ \}
// \| \+ \? become their RE2 forms, POSIX bracket expressions keep '\'
// literal, {,n} means {0,n}, a repetition operator with nothing to repeat is
// ignored (-E) or literal (-G), stacked ones (a**) nest. \w \W \s \S \b \B
// \` \' are GNU's; \< and \> are approximated by \b. Back-references (\1)
// are not supported and are an error; repeat counts above 1000 are an
// error. A newline in a pattern separates alternatives, as in GNU.
// Matching is on bytes: '.' and classes match one byte, -i folds ASCII only.
//
// Exit status 1 (no line selected) is not an error: the output is empty.
// Input with a NUL byte is binary: as GNU, output stops at the first
// 96 KiB block (counted from the start of the input) that holds a NUL (GNU
// prints "binary file matches" on stderr, which a stream has not), and -c
// counts NUL-separated lines. GNU's blocks follow its reads, so for a pipe
// that delivers short reads the two may differ in how many lines before
// the NUL are printed; we follow GNU reading a regular file.

// Register adds grep to r.
func Register(r *compute.Registry) {
	r.Register(&compute.Command{
		Name:    "grep",
		Summary: "print lines that match patterns (GNU grep, C locale; patterns are RE2)",
		Flags:   grepFlags,
		Build:   buildGrep,
	})
}

var grepFlags = []compute.FlagSpec{
	{Short: 'F', Long: "fixed-strings", Summary: "patterns are strings"},
	{Short: 'E', Long: "extended-regexp", Summary: "patterns are extended regular expressions"},
	{Short: 'G', Long: "basic-regexp", Summary: "patterns are basic regular expressions (default)"},
	{Short: 'e', Long: "regexp", Value: true, Summary: "use PATTERN for matching (repeatable)"},
	{Short: 'i', Long: "ignore-case", Summary: "ignore ASCII case distinctions"},
	{Short: 'v', Long: "invert-match", Summary: "select non-matching lines"},
	{Short: 'c', Long: "count", Summary: "print only a count of selected lines"},
	{Short: 'n', Long: "line-number", Summary: "prefix each output line with its line number"},
	{Short: 'w', Long: "word-regexp", Summary: "match only whole words"},
	{Short: 'x', Long: "line-regexp", Summary: "match only whole lines"},
	{Short: 'o', Long: "only-matching", Summary: "print only the matched parts"},
	{Short: 'm', Long: "max-count", Value: true, Summary: "stop after NUM selected lines"},
	{Short: 'h', Long: "no-filename", Summary: "no-op: input is one stream"},
	{Short: 's', Long: "no-messages", Summary: "no-op"},
}

type grepMode int

const (
	grepBasic grepMode = iota
	grepExtended
	grepFixed
)

// grepStage is a compiled grep.
type grepStage struct {
	invert, count, lineNum, only bool
	maxCount                     int64 // -1: no limit
	m                            *grepMatcher
}

func buildGrep(env *compute.Env, args []string) (compute.Stage, error) {
	f, err := compute.ParseFlags("grep", grepFlags, args)
	if err != nil {
		return nil, err
	}
	mode := grepBasic
	for _, u := range f.Uses {
		switch u.Key {
		case "F":
			mode = grepFixed
		case "E":
			mode = grepExtended
		case "G":
			mode = grepBasic
		}
	}
	var pats []string
	if f.Has("e") {
		pats = f.Values("e")
	} else {
		if len(f.Operands) == 0 {
			return nil, compute.Invalidf("grep: no pattern given")
		}
		pats = []string{f.Operands[0]}
		f.Operands = f.Operands[1:]
	}
	if err := compute.NoOperandsButStdin("grep", f); err != nil {
		return nil, err
	}
	g := &grepStage{invert: f.Has("v"), count: f.Has("c"), lineNum: f.Has("n"), only: f.Has("o"), maxCount: -1}
	if u, ok := f.Value("m"); ok {
		n, err := strconv.ParseInt(u.Value, 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
				return nil, compute.Invalidf("grep: invalid max count %q for %s", u.Value, u.Name)
			}
			n = -1
			if !strings.HasPrefix(u.Value, "-") {
				n = 1<<63 - 1
			}
		}
		if n >= 0 { // GNU takes a negative count as no limit
			g.maxCount = n
		}
	}
	var all []string
	for _, p := range pats {
		all = append(all, strings.Split(p, "\n")...)
	}
	g.m, err = compileGrep(all, mode, f.Has("i"), f.Has("w"), f.Has("x"))
	if err != nil {
		return nil, err
	}
	return g, nil
}
