// Package textgen draws command lines of the text tools halfclose runs
// (tr, uniq, wc, base64, tac, head, tail) as a user of GNU's option parser
// may write them, with inputs built for their flags, for the generated
// differential runs against GNU coreutils: in process
// (compute/builtin's TestTextDiffGenerated) and through a real halfclosed
// over gRPC and its TCP command port (e2e's TestTextDiffRandom).
//
// Flags come in every spelling getopt_long takes: a short flag with its
// value attached (-n5) or in the next word (-n 5), short flags clustered
// (-cd, -cw0), a long flag whole or abbreviated to a prefix (--skip-f=1,
// --w 0) with its value after '=' or in the next word, operands ("-")
// before flags (permutation) and "--". Values run to GNU's edges: zero,
// negative, huge (past 2^64), with suffixes, blanks and '+'. Inputs are
// empty, without a final newline, with NULs, CRs, bytes over 0x7f, long
// lines and repeated lines; tail's following flags with the values GNU
// checks (-s, --pid, --max-unchanged-stats). Nothing drawn can make GNU
// wait for ever (-f only on a pipe, which GNU does not follow; no repeat
// count of billions in tr).
package textgen

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Commands are the tools drawn, in the order Case picks them.
var Commands = []string{"tr", "uniq", "wc", "base64", "tac", "head", "tail"}

// Case draws one command line (argv[0] the tool) and its input.
func Case(r *rand.Rand) (argv []string, input []byte) {
	g := &gen{r: r}
	switch Commands[r.IntN(len(Commands))] {
	case "tr":
		return g.tr()
	case "uniq":
		return g.uniq()
	case "wc":
		return g.wc()
	case "base64":
		return g.base64()
	case "tac":
		return g.tac()
	case "head":
		return g.headTail("head")
	default:
		return g.headTail("tail")
	}
}

type gen struct{ r *rand.Rand }

func (g *gen) n(k int) int             { return g.r.IntN(k) }
func (g *gen) chance(p float64) bool   { return g.r.Float64() < p }
func (g *gen) pick(s ...string) string { return s[g.r.IntN(len(s))] }
func (g *gen) shuffle(words [][]string) {
	g.r.Shuffle(len(words), func(i, j int) { words[i], words[j] = words[j], words[i] })
}

// flag is one flag of a tool: short letter (0: none), long name ("":
// none), and whether it takes a value.
type flag struct {
	short byte
	long  string
	value bool
}

// spell writes f with value v in one of getopt_long's spellings, as one
// or two words. longs are all of the tool's long names, for the prefixes
// that name f alone.
func (g *gen) spell(f flag, v string, longs []string) []string {
	useLong := f.long != "" && (f.short == 0 || g.chance(0.5))
	if !useLong {
		s := "-" + string(f.short)
		if !f.value {
			return []string{s}
		}
		if g.chance(0.5) {
			return []string{s + v}
		}
		return []string{s, v}
	}
	name := f.long
	if g.chance(0.5) {
		name = g.prefix(f.long, longs)
	}
	if !f.value {
		return []string{"--" + name}
	}
	if g.chance(0.5) {
		return []string{"--" + name + "=" + v}
	}
	return []string{"--" + name, v}
}

// prefix is a prefix of name that no other of longs starts with (name
// itself when there is none shorter), now and then one that is ambiguous.
func (g *gen) prefix(name string, longs []string) string {
	var ok []string
	for k := 1; k < len(name); k++ {
		p, n := name[:k], 0
		for _, l := range longs {
			if strings.HasPrefix(l, p) {
				n++
			}
		}
		if n == 1 || g.chance(0.03) {
			ok = append(ok, p)
		}
	}
	if len(ok) == 0 {
		return name
	}
	return ok[g.n(len(ok))]
}

// cluster joins some runs of value-less short flags into one word (-cd),
// the last of a run possibly a short flag with its value (-cw0).
func cluster(g *gen, words [][]string) [][]string {
	var out [][]string
	for _, w := range words {
		if len(out) > 0 && g.chance(0.4) {
			prev := out[len(out)-1]
			if len(prev) == 1 && isShortBool(prev[0]) && len(w) >= 1 && len(w[0]) >= 2 && w[0][0] == '-' && w[0][1] != '-' {
				out[len(out)-1] = append([]string{prev[0] + w[0][1:]}, w[1:]...)
				continue
			}
		}
		out = append(out, w)
	}
	return out
}

func isShortBool(w string) bool {
	return len(w) >= 2 && w[0] == '-' && w[1] != '-' && !strings.ContainsAny(w[1:], "0123456789")
}

// number draws a count as a user or an edge case writes it.
func (g *gen) number(max int) string {
	switch g.n(12) {
	case 0:
		return "0"
	case 1:
		return g.pick("99999999999999999999", "18446744073709551615", "18446744073709551616", "9223372036854775807", "4294967296")
	case 2:
		return g.pick("-1", "x", "", "1x", " 2", "+2", "0x3", "010", "1k")
	}
	return strconv.Itoa(g.n(max))
}

// assemble shuffles the flag words, puts the operands among them (a "-"
// before flags is permuted past them by GNU), and sometimes a "--".
func (g *gen) assemble(tool string, flags [][]string, operands []string) []string {
	g.shuffle(flags)
	flags = cluster(g, flags)
	argv := []string{tool}
	dashdash := g.chance(0.1)
	for i, w := range flags {
		if len(operands) > 0 && g.chance(0.15) && !dashdash {
			argv = append(argv, operands[0])
			operands = operands[1:]
		}
		argv = append(argv, w...)
		_ = i
	}
	if dashdash {
		argv = append(argv, "--")
	}
	return append(argv, operands...)
}

// lines draws text: lines of words from a small alphabet (so they repeat),
// with blanks, tabs, CRs, NULs and high bytes, maybe a long line, maybe
// no final newline.
func (g *gen) lines() []byte {
	var b bytes.Buffer
	switch g.n(10) {
	case 0:
		return nil
	case 1:
		return []byte(g.pick("\n", "x", "\n\n", "\x00", "\r\n", "\xff"))
	}
	nl := 1 + g.n(30)
	prev := ""
	for range nl {
		var line string
		if prev != "" && g.chance(0.4) {
			line = prev
			if g.chance(0.3) {
				line = strings.ToUpper(line)
			}
		} else {
			var w strings.Builder
			for range g.n(5) {
				if g.chance(0.5) {
					w.WriteString(g.pick(" ", "  ", "\t", " \t"))
				}
				for range 1 + g.n(4) {
					w.WriteString(g.pick("a", "b", "A", "B", "1", "9", "\x00", "\r", "\xe9", "\xc3\xa9", "\x80", "\xff", "-", "=", "\v", "\f", "\x1b"))
				}
			}
			if g.chance(0.03) {
				w.WriteString(strings.Repeat(g.pick("ab", "\xe9x", "a\tb"), 2000+g.n(3000)))
			}
			line = w.String()
		}
		prev = line
		b.WriteString(line)
		b.WriteByte('\n')
	}
	out := b.Bytes()
	if g.chance(0.3) {
		out = out[:len(out)-1]
	}
	return out
}

// zeroLines turns some newlines into NULs, for -z.
func (g *gen) zeroLines(in []byte) []byte {
	if !g.chance(0.7) {
		return in
	}
	return bytes.ReplaceAll(in, []byte("\n"), []byte("\x00"))
}

var trLongs = []string{"complement", "delete", "squeeze-repeats", "truncate-set1", "help", "version"}

var trClasses = []string{"alnum", "alpha", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space", "upper", "xdigit"}

// trSet draws a SET of tr's syntax, ASCII only (high bytes as octal
// escapes, as a user writes them in a pipeline's text).
func (g *gen) trSet(second bool) string {
	var b strings.Builder
	for range 1 + g.n(4) {
		switch g.n(14) {
		case 0, 1, 2:
			b.WriteString(g.pick("a", "b", "c", "A", "1", " ", "x", "-", "z"))
		case 3:
			lo := g.pick("a", "A", "0", "\\000", "\\200", "b")
			hi := g.pick("c", "z", "Z", "9", "\\377", "\\177", "a")
			b.WriteString(lo + "-" + hi)
		case 4, 5:
			b.WriteString("[:" + trClasses[g.n(len(trClasses))] + ":]")
		case 6:
			b.WriteString("[=" + g.pick("a", "b", "\\n", "=", ":", "*") + "=]")
		case 7:
			c := g.pick("x", "y", "\\n", "-", "*", "]")
			b.WriteString("[" + c + "*" + g.pick("", "", "2", "3", "010", "08", "0", "x", "00") + "]")
		case 8:
			b.WriteString(g.pick("\\n", "\\t", "\\\\", "\\r", "\\a", "\\v", "\\f", "\\b", "\\q", "\\-"))
		case 9:
			b.WriteString(fmt.Sprintf("\\%o", g.n(256)))
		case 10:
			b.WriteString(g.pick("\\400", "\\0", "\\18", "\\1234", "\\777"))
		case 11:
			b.WriteString(g.pick("[", "]", "[a", "[:", "[:alpha", "[=", "a]", "[]"))
		case 12:
			b.WriteString(g.pick("\\200", "\\351", "\\303", "\\377", "\\000"))
		default:
			b.WriteString(g.pick("abc", "aaa", "a-a", "\\-a", "a\\-z"))
		}
	}
	if g.chance(0.05) {
		b.WriteString("\\") // an unescaped backslash at the end
	}
	if second && g.chance(0.05) {
		return ""
	}
	return b.String()
}

func (g *gen) tr() ([]string, []byte) {
	var flags [][]string
	del, sq := g.chance(0.3), g.chance(0.3)
	if g.chance(0.3) {
		flags = append(flags, g.spell(flag{short: g.pick("c", "C")[0], long: "complement"}, "", trLongs))
	}
	if del {
		flags = append(flags, g.spell(flag{short: 'd', long: "delete"}, "", trLongs))
	}
	if sq {
		flags = append(flags, g.spell(flag{short: 's', long: "squeeze-repeats"}, "", trLongs))
	}
	if g.chance(0.2) {
		flags = append(flags, g.spell(flag{short: 't', long: "truncate-set1"}, "", trLongs))
	}
	g.shuffle(flags)
	flags = cluster(g, flags)
	argv := []string{"tr"}
	for _, w := range flags {
		argv = append(argv, w...)
	}
	nsets := 2
	switch {
	case del && !sq:
		nsets = 1
	case sq && !del:
		nsets = 1 + g.n(2)
	}
	if g.chance(0.05) {
		nsets = g.n(4) // a missing or extra operand
	}
	if g.chance(0.05) {
		argv = append(argv, "--")
	}
	for i := range nsets {
		argv = append(argv, g.trSet(i > 0))
	}
	return argv, g.lines()
}

var uniqLongs = []string{"count", "repeated", "all-repeated", "skip-fields", "skip-chars", "check-chars", "unique", "ignore-case", "zero-terminated", "group", "help", "version"}

func (g *gen) uniq() ([]string, []byte) {
	var flags [][]string
	for _, f := range []flag{{'c', "count", false}, {'d', "repeated", false}, {'u', "unique", false}, {'i', "ignore-case", false}, {'z', "zero-terminated", false}} {
		if g.chance(0.2) {
			flags = append(flags, g.spell(f, "", uniqLongs))
		}
	}
	for _, f := range []flag{{'f', "skip-fields", true}, {'s', "skip-chars", true}, {'w', "check-chars", true}} {
		if g.chance(0.25) {
			flags = append(flags, g.spell(f, g.number(5), uniqLongs))
		}
	}
	if g.chance(0.15) {
		flags = append(flags, []string{"-D"})
	}
	if g.chance(0.15) {
		f := "--" + g.prefix("all-repeated", uniqLongs)
		if g.chance(0.7) {
			f += "=" + g.pick("none", "prepend", "separate", "n", "p", "s", "x", "")
		}
		flags = append(flags, []string{f})
	}
	if g.chance(0.15) {
		f := "--" + g.prefix("group", uniqLongs)
		if g.chance(0.7) {
			f += "=" + g.pick("separate", "prepend", "append", "both", "a", "b", "p", "s", "x")
		}
		flags = append(flags, []string{f})
	}
	if g.chance(0.1) { // the obsolete -N (-f N) and +N (-s N)
		flags = append(flags, []string{g.pick("-", "+") + strconv.Itoa(g.n(4))})
	}
	var operands []string
	for range g.n(3) {
		operands = append(operands, "-")
	}
	in := g.lines()
	for _, w := range flags {
		if strings.HasPrefix(w[0], "-z") || w[0] == "--zero-terminated" || strings.HasPrefix(w[0], "--z") {
			in = g.zeroLines(in)
			break
		}
	}
	return g.assemble("uniq", flags, operands), in
}

var wcLongs = []string{"bytes", "chars", "lines", "words", "max-line-length", "files0-from", "total", "debug", "help", "version"}

func (g *gen) wc() ([]string, []byte) {
	var flags [][]string
	for _, f := range []flag{{'c', "bytes", false}, {'m', "chars", false}, {'l', "lines", false}, {'w', "words", false}, {'L', "max-line-length", false}} {
		if g.chance(0.35) {
			flags = append(flags, g.spell(f, "", wcLongs))
		}
	}
	var operands []string
	for range g.n(3) {
		operands = append(operands, "-")
	}
	return g.assemble("wc", flags, operands), g.lines()
}

var base64Longs = []string{"decode", "ignore-garbage", "wrap", "help", "version"}

func (g *gen) base64() ([]string, []byte) {
	var flags [][]string
	decode := g.chance(0.6)
	if decode {
		flags = append(flags, g.spell(flag{'d', "decode", false}, "", base64Longs))
	}
	if g.chance(0.3) {
		flags = append(flags, g.spell(flag{'i', "ignore-garbage", false}, "", base64Longs))
	}
	if g.chance(0.4) {
		flags = append(flags, g.spell(flag{'w', "wrap", true}, g.number(80), base64Longs))
	}
	var operands []string
	if g.chance(0.2) {
		operands = append(operands, "-")
	}
	raw := g.lines()
	if !decode {
		return g.assemble("base64", flags, operands), raw
	}
	return g.assemble("base64", flags, operands), g.encoded(raw)
}

// encoded is base64 of data as a decoder meets it: wrapped or not,
// several padded chunks one after another, whitespace, garbage, missing or
// extra padding.
func (g *gen) encoded(data []byte) []byte {
	var b bytes.Buffer
	for len(data) > 0 || b.Len() == 0 {
		k := len(data)
		if g.chance(0.3) {
			k = g.n(len(data) + 1)
		}
		b.WriteString(base64.StdEncoding.EncodeToString(data[:k]))
		data = data[k:]
		if len(data) == 0 {
			break
		}
	}
	enc := b.Bytes()
	var out []byte
	for i, c := range enc {
		if g.chance(0.05) {
			out = append(out, g.pick("\n", " ", "\t", "\r\n", "\v", "\f", "*", "!", "-", "_", "=", "\x00", "\xff")...)
		}
		if c == '=' && g.chance(0.1) {
			continue
		}
		out = append(out, c)
		if (i+1)%76 == 0 && g.chance(0.8) {
			out = append(out, '\n')
		}
	}
	if g.chance(0.5) {
		out = append(out, '\n')
	}
	if g.chance(0.1) {
		out = append(out, g.pick("=", "==", "A", "AB", "ABC", "\n\n")...)
	}
	return out
}

var tacLongs = []string{"before", "regex", "separator", "help", "version"}

func (g *gen) tac() ([]string, []byte) {
	var flags [][]string
	sep := ""
	if g.chance(0.3) {
		flags = append(flags, g.spell(flag{'b', "before", false}, "", tacLongs))
	}
	regex := g.chance(0.3)
	if regex {
		flags = append(flags, g.spell(flag{'r', "regex", false}, "", tacLongs))
	}
	if g.chance(0.6) {
		sep = g.pick("", ",", "\n", "ab", "a", "aa", "\xe9", "\r\n", "--", "\t")
		if regex && g.chance(0.7) {
			sep = TacRegex(g.r)
		}
		flags = append(flags, g.spell(flag{'s', "separator", true}, sep, tacLongs))
	}
	var operands []string
	for range g.n(3) {
		operands = append(operands, "-")
	}
	in := g.lines()
	if sep != "" && g.chance(0.6) {
		var b bytes.Buffer
		if g.chance(0.5) {
			b.WriteString(sep)
		}
		for range g.n(8) {
			b.WriteString(g.pick("x", "yy", "", "a", "b", "\n", sep, sep+sep))
			b.WriteString(sep)
		}
		if g.chance(0.5) {
			b.WriteString(g.pick("tail", "a", ""))
		}
		in = b.Bytes()
	}
	return g.assemble("tac", flags, operands), in
}

// tacAtoms are the pieces TacRegex joins: every token of GNU tac's regex
// syntax (glibc's default, the Emacs one), over the bytes "ab\n x_\xe9".
var tacAtoms = []string{"a", "b", "x", " ", "\n", ".", "[ab]", "[^a]", "[^\n]", "[a-x]", "[]a]",
	"\\(a\\|b\\)", "\\(ab\\)", "\\(\\)", "\\w", "\\W", "\\s", "\\S", "\\b", "\\B", "\\<", "\\>",
	"^", "$", "\\`", "\\'", "*", "+", "?", "{", "\\.", "\\+", "\xe9"}

// TacRegex draws a tac -r separator: branches (\|, maybe empty) of one
// to four pieces, each an atom, a bracket (ranges, negation, ']' and '-'
// where they are literals, bytes >= 0x80) or a group of the same grammar
// nested up to three deep, maybe repeated (*, + or ?); never empty, never
// a back-reference. A group holding an assertion (^ $ \` \' \b \B \< \>)
// or a repetition is not repeated: there glibc's matcher misses matches
// (\(.+\>x*\)+ finds nothing in "a ", docs/protocol.md) or runs for
// minutes on a few dozen bytes (repeated groups nested in repeated
// groups that can be empty).
func TacRegex(r *rand.Rand) string {
	g := &gen{r: r}
	var b strings.Builder
	g.tacRegex(&b, 0)
	if b.Len() == 0 {
		b.WriteString("a")
	}
	return b.String()
}

// tacAsserts are tacAtoms' assertions.
var tacAsserts = map[string]bool{"\\b": true, "\\B": true, "\\<": true, "\\>": true, "^": true, "$": true, "\\`": true, "\\'": true}

// tacRegex writes branches at depth and reports whether they hold an
// assertion or a repetition.
func (g *gen) tacRegex(b *strings.Builder, depth int) (hard bool) {
	for branch := range 1 + g.n(2) {
		if branch > 0 {
			b.WriteString("\\|")
		}
		if branch > 0 && g.chance(0.1) {
			continue // an empty branch
		}
		group := false // the piece before is a group
		for range 1 + g.n(4) {
			switch k := g.n(10); {
			case k < 2 && depth < 3:
				b.WriteString("\\(")
				in := false
				if g.chance(0.2) {
					b.WriteString("^")
					in = true
				}
				in = g.tacRegex(b, depth+1) || in
				if g.chance(0.2) {
					b.WriteString("$")
					in = true
				}
				b.WriteString("\\)")
				hard = hard || in
				if !in && g.chance(0.3) {
					b.WriteString(g.pick("*", "+", "?"))
				}
				group = true
				continue
			case k < 4:
				b.WriteString(g.tacBracket())
			default:
				a := tacAtoms[g.n(len(tacAtoms))]
				if group && (a == "*" || a == "+" || a == "?") {
					a = "x" // not an operator on the group
				}
				hard = hard || tacAsserts[a]
				b.WriteString(a)
			}
			for g.chance(0.3) {
				b.WriteString(g.pick("*", "+", "?"))
				hard = true
			}
			group = false
		}
	}
	return hard
}

// TacRegexAlphabet is the bytes tacBracket draws, and what tac -r's
// generated inputs are made of.
const TacRegexAlphabet = "ab\n x_\xe9"

// tacBracket draws a bracket expression over tacAtoms' bytes.
func (g *gen) tacBracket() string {
	var b strings.Builder
	b.WriteString("[")
	if g.chance(0.3) {
		b.WriteString("^")
	}
	if g.chance(0.15) {
		b.WriteString(g.pick("]", "-"))
	}
	for range 1 + g.n(3) {
		c := TacRegexAlphabet[g.n(len(TacRegexAlphabet))]
		switch {
		case g.chance(0.3):
			b.WriteString(g.pick("a-b", "a-x", " -a", "\x01-a", "x-\xff", "\x80-\xff", "\n-_", "b-a"))
		case g.chance(0.1):
			b.WriteString(g.pick("[.a.]", "[=b=]", "[.-.]", "[:a:"))
		default:
			b.WriteByte(c)
		}
	}
	if g.chance(0.15) {
		b.WriteString("-")
	}
	b.WriteString("]")
	return b.String()
}

var headLongs = []string{"bytes", "lines", "quiet", "silent", "verbose", "zero-terminated", "help", "version", "-presume-input-pipe"}

var tailLongs = []string{"bytes", "lines", "quiet", "silent", "verbose", "zero-terminated", "follow", "retry", "pid", "max-unchanged-stats", "sleep-interval", "help", "version", "-presume-input-pipe", "-disable-inotify"}

// count draws a head or tail count with its sign and suffix.
func (g *gen) count() string {
	n := g.number(40)
	if g.chance(0.25) {
		n = g.pick("-", "+") + n
	}
	if g.chance(0.15) {
		n += g.pick("b", "k", "K", "kB", "KiB", "M", "x", "B", "e", "E")
	}
	return n
}

func (g *gen) headTail(tool string) ([]string, []byte) {
	longs := headLongs
	if tool == "tail" {
		longs = tailLongs
	}
	in := g.lines()
	var operands []string
	for range g.n(3) {
		operands = append(operands, "-")
	}
	if g.chance(0.15) { // the obsolete form
		w := g.pick("-", "+")
		if tool == "head" {
			w = "-"
		}
		w += strconv.Itoa(g.n(12))
		if tool == "head" {
			w += g.pick("", "c", "b", "k", "l", "q", "v", "z", "cq")
		} else {
			w += g.pick("", "c", "b", "l", "f", "cf")
		}
		argv := []string{tool, w}
		if g.chance(0.3) {
			argv = append(argv, "-")
		}
		return argv, in
	}
	var flags [][]string
	zero := false
	for range g.n(3) {
		f := flag{'n', "lines", true}
		if g.chance(0.4) {
			f = flag{'c', "bytes", true}
		}
		flags = append(flags, g.spell(f, g.count(), longs))
	}
	if g.chance(0.2) {
		flags = append(flags, g.spell(flag{'q', "quiet", false}, "", longs))
	}
	if g.chance(0.2) {
		flags = append(flags, g.spell(flag{'v', "verbose", false}, "", longs))
	}
	if g.chance(0.2) {
		flags = append(flags, g.spell(flag{'z', "zero-terminated", false}, "", longs))
		zero = true
	}
	if tool == "tail" && g.chance(0.15) {
		for range 1 + g.n(2) {
			flags = append(flags, g.follow(longs))
		}
	}
	if zero {
		in = g.zeroLines(in)
	}
	if tool == "head" && len(in) > 4096 && len(operands) > 1 {
		// GNU head's later "-" get what its 8 KiB reads of a pipe left,
		// which depends on how the input arrives (docs/protocol.md).
		operands = operands[:1]
	}
	return g.assemble(tool, flags, operands), in
}

// follow draws one of tail's following flags, which GNU ignores for a
// pipe (-f, --follow[=descriptor]) or fails on (-F, --follow=name), with
// its warnings (--retry, --pid) and the values it checks: -s as glibc's
// strtod reads it (hexadecimal, infinity, blanks, the denormals' ERANGE),
// --pid and --max-unchanged-stats as unsigned decimals.
func (g *gen) follow(longs []string) []string {
	switch g.n(6) {
	case 0:
		return g.spell(flag{'f', "follow", false}, "", longs)
	case 1:
		if g.chance(0.5) {
			return []string{"-F"}
		}
		return []string{"--" + g.prefix("follow", longs) + "=" + g.pick("descriptor", "name", "d", "de", "n", "", "x", "D")}
	case 2:
		return g.spell(flag{0, "retry", false}, "", longs)
	case 3:
		return g.spell(flag{0, "pid", true}, g.pick("0", "1", "x", "-0", " -0", "+1", " 7", "-1", "2147483647", "2147483648", "99999999999999999999", "1k", ""), longs)
	case 4:
		return g.spell(flag{0, "max-unchanged-stats", true}, g.number(9), longs)
	}
	return g.spell(flag{'s', "sleep-interval", true}, g.pick("1", "0.5", "x", "", " 2", "2 ", "+.5", "-0", "-1", "inf", "nan", "0x1.8",
		"0x", "1e999", "1e-400", "1e-320", "2.2250738585072012e-308", "0x1.fffffffffffffp-1023", "0x1.00000000000008p-1023", "0x1p-1074", "1,5", "1_0"), longs)
}
