package grep

// GNU grep 3.8 writes some lines on standard error while it succeeds
// (compute.Diagnose): warnings about its patterns, when it compiles them,
// and "binary file matches" at the end of an input whose output a NUL
// stopped (search.go). The installed GNU grep 3.8 (Debian's 3.8-5) warns
// only about a repetition operator at the start of an extended
// expression; it has no "stray \" warnings.

// ereWarnings returns the warnings GNU grep's dfa writes, in order, when
// it parses the extended patterns pats (each without a newline): "*",
// "+", "?" or an interval where an expression starts — at the start of a
// pattern, after '(' or '|' — with only anchors or other such operators
// before it. GNU reads each distinct pattern once (the first of
// duplicates). The patterns have compiled.
func ereWarnings(pats []string) []string {
	var warns []string
	seen := make(map[string]bool, len(pats))
	for _, p := range pats {
		if seen[p] {
			continue
		}
		seen[p] = true
		// laststart is the dfa's: true where an expression starts, until
		// something that matches a character (or a group, or an
		// interval) is read; anchors and *, + and ? leave it alone.
		laststart := true
		for i := 0; i < len(p); {
			c := p[i]
			i++
			switch c {
			case '\\':
				if i < len(p) {
					switch p[i] {
					case '`', '\'', '<', '>', 'b', 'B': // anchors
					default:
						laststart = false
					}
					i++
				}
			case '^', '$':
			case '*', '+', '?':
				if laststart {
					warns = append(warns, "warning: "+string(c)+" at start of expression")
				}
			case '{':
				if end, ok := dfaInterval(p, i); ok {
					if laststart {
						warns = append(warns, "warning: {...} at start of expression")
					}
					i = end
				}
				laststart = false // an interval, or a literal '{'
			case '(', '|':
				laststart = true
			case '[':
				t := &reTranslator{p: p, i: i, ere: true}
				if _, err := t.bracket(); err != nil {
					return warns // cannot happen: the pattern compiled
				}
				i = t.i
				laststart = false
			default:
				laststart = false
			}
		}
	}
	return warns
}

// dfaInterval reads an ERE interval after the '{' at p[i-1] as GNU's dfa
// does: "m}", "m,}", ",n}", ",}" or "m,n}" with m <= n. It returns where
// the interval ends, or false when the '{' is a literal.
func dfaInterval(p string, i int) (int, bool) {
	lo, hi := -1, -1
	num := func() int {
		n := -1
		for ; i < len(p) && isDigit(p[i]); i++ {
			n = min(reDupMax+1, max(n, 0)*10+int(p[i]-'0'))
		}
		return n
	}
	lo = num()
	if i < len(p) && p[i] == ',' {
		i++
		lo = max(lo, 0)
		hi = num()
	} else {
		hi = lo
	}
	if i >= len(p) || p[i] != '}' || lo < 0 || hi >= 0 && lo > hi {
		return 0, false
	}
	return i + 1, true
}
