package grep

import (
	"bytes"
	"slices"

	"github.com/halfclose/halfclose/compute"
)

// kwSetMin and kwSetMinFold (-i) are the fewest keywords searched with a
// kwSet. Fewer go to the regexp and its literal prefilters (litSet,
// planFinder), which are faster for a handful of literals; more cost RE2
// one instruction a byte each, and the prefilter a pass over the text a
// literal (measured: docs/operations.md, "grep: a keyword list").
const (
	kwSetMin     = 24
	kwSetMinFold = 8
)

// kwNodesPerInst is how many trie nodes of a keyword set count as one
// regexp instruction against the pipeline's pattern budget: a node costs
// about 26 bytes (the tables apart: at most 1 MiB a pipeline, TakeRows),
// a compiled RE2 instruction a few hundred.
const kwNodesPerInst = 8

// kwCheckWork is how many steps a keyword search takes between two looks
// at the job's stop flag: well under a millisecond.
const kwCheckWork = 1 << 16

// kwSet is GNU grep's -F matcher (kwsearch.c) for a set of keywords, as
// GNU runs it for two literal patterns or more (fgrepKeywords): an
// Aho-Corasick automaton over the keywords' bytes (ASCII lower-cased with
// -i, the text then read lower-cased too), so that a search costs the
// same per input byte whatever the number of keywords. -x needs no
// automaton: a line is selected when it is one of the keywords (a hash
// of the line, then a comparison).
//
// The states are the keywords' distinct prefixes (the trie's nodes), 0
// the empty one; their edges are sorted arrays (few states have many),
// and the root and the shallowest states (as many as the pipeline's
// compute.MaxTableRows left) also have a table of all 256 bytes, resolved
// through their failure links, where a search spends most of its steps.
type kwSet struct {
	fold, word, line bool
	hasEmpty         bool     // the empty keyword is one of them
	kws              [][]byte // distinct, lower-cased with fold, sorted
	lower            [256]byte
	root             [256]int32 // the root's edge for each text byte (before folding)
	// only is the one text byte with an edge from the root, or -1: the
	// search then jumps to its next occurrence (bytes.IndexByte).
	only int
	// first[s]:first[s+1] are state s's edges, labels in edgeB (sorted)
	// and targets in edgeT.
	first []int32
	edgeB []byte
	edgeT []int32
	fail  []int32 // the longest proper suffix of s's string that is a state
	// row[s] is -1, or where s's table of transitions (the state after
	// each text byte, failure links followed) starts in rows.
	row   []int32
	rows  []int32
	depth []int32 // the length of s's string
	rep   []int32 // a keyword (index in kws) s's string is a prefix of
	// out is the length of the longest keyword that is a suffix of s's
	// string (s's own when it is one), -1 for none.
	out []int32
	// wordIn: a keyword shorter than s's string is a suffix of it, and
	// the byte before it in the string is not a word constituent (-w's
	// left edge, known without the text).
	wordIn []bool
	// lens has bit n set when a keyword is n bytes long (-x; n below
	// 1024, longer ones all in bit 1023).
	lens [1024 / 64]uint64
	// lines holds, for -x, the indexes in kws of the keywords by their
	// hash (kwHash).
	lines map[uint64][]int32
}

// kwKeys returns the keywords as the automaton holds them: lower-cased
// with fold, without one holding a NUL under -z (nul: the text is read
// with its NULs and newlines swapped, so a NUL of a line becomes a
// newline, which no keyword holds: such a keyword matches nowhere, as
// fixTree makes it), distinct and sorted, and the trie nodes they make
// (their distinct non-empty prefixes), what the set is charged.
func kwKeys(kws []string, fold, nul bool) ([][]byte, int) {
	keys := make([][]byte, 0, len(kws))
	for _, kw := range kws {
		b := []byte(kw)
		if nul && bytes.IndexByte(b, 0) >= 0 {
			continue
		}
		if fold {
			lowerASCII(b, b)
		}
		keys = append(keys, b)
	}
	slices.SortFunc(keys, bytes.Compare)
	keys = slices.CompactFunc(keys, bytes.Equal)
	nodes := 0
	var prev []byte
	for _, k := range keys {
		n := 0
		for n < len(k) && n < len(prev) && k[n] == prev[n] {
			n++
		}
		nodes += len(k) - n
		prev = k
	}
	return keys, nodes
}

// alternationKeywords returns the patterns as keywords when each is a
// list of literals joined by alternation ('|' in an ERE, '\|' in a BRE:
// grep -E 'foo|bar|baz'), which GNU runs with its regexp matcher but
// which selects, and prints with -o, what the keywords do (the
// leftmost-longest match is the leftmost-longest keyword). Not with -w
// (word without line): GNU's regexp matcher then shortens a match as its
// -F matcher does not.
func alternationKeywords(pats []string, mode grepMode, word, line bool) ([]string, bool) {
	if mode == grepFixed || word && !line {
		return nil, false
	}
	seen := map[string]bool{}
	var kws []string
	for _, p := range pats {
		for _, piece := range splitAlternation(p, mode == grepExtended) {
			kw, ok := fgrepLiteral(piece, mode == grepExtended)
			if !ok {
				return nil, false
			}
			if !seen[kw] {
				seen[kw] = true
				kws = append(kws, kw)
			}
		}
	}
	return kws, len(kws) >= 2
}

// splitAlternation splits p at its top-level alternation operators ('|',
// or '\|' in a BRE), a backslash escaping the byte after it.
func splitAlternation(p string, ere bool) []string {
	var out []string
	start := 0
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '\\' && !ere && i+1 < len(p) && p[i+1] == '|':
			out = append(out, p[start:i])
			start = i + 2
			i++
		case p[i] == '\\':
			i++
		case p[i] == '|' && ere:
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return append(out, p[start:])
}

// compileKwSet is compileGrep for keywords (at least kwSetMin of them):
// the set is charged to budget before it is built.
func compileKwSet(kws []string, fold, word, line, nul bool, budget *compute.PatternBudget) (*grepMatcher, error) {
	keys, nodes := kwKeys(kws, fold, nul)
	if err := budget.TakeKeywords("grep", nodes, kwNodesPerInst); err != nil {
		return nil, err
	}
	// The tables of the shallowest states, from what the pipeline's
	// other keyword sets left (compute.MaxTableRows: 1 MiB in all).
	rows := 0
	if !line {
		rows = budget.TakeRows(nodes + 1)
	}
	k := newKwSet(keys, nodes, rows, fold, word && !line, line)
	m := &grepMatcher{word: word && !line, kw: k, insts: 1}
	m.every = k.hasEmpty && !word && !line
	return m, nil
}

// newKwSet builds the automaton of keys (sorted and distinct), which make
// nodes trie nodes besides the root, with tables for its rows shallowest
// states.
func newKwSet(keys [][]byte, nodes, rows int, fold, word, line bool) *kwSet {
	k := &kwSet{fold: fold, word: word, line: line, kws: keys}
	for c := range k.lower {
		k.lower[c] = byte(c)
		if fold && 'A' <= c && c <= 'Z' {
			k.lower[c] = byte(c) + 'a' - 'A'
		}
	}
	k.hasEmpty = len(keys) > 0 && len(keys[0]) == 0
	if line {
		k.lines = make(map[uint64][]int32, len(keys))
		for i, kw := range keys {
			h := kwHash(kw, &k.lower)
			k.lines[h] = append(k.lines[h], int32(i))
			n := min(len(kw), 1023)
			k.lens[n/64] |= 1 << (n % 64)
		}
		return k
	}
	n := nodes + 1
	// The trie, children as lists: the keys are sorted, so a node's
	// children come in the order of their labels, and the one a key
	// shares with the key before it is the last added.
	label := make([]byte, n)
	firstChild := make([]int32, n)
	lastChild := make([]int32, n)
	sibling := make([]int32, n)
	isKw := make([]bool, n)
	k.depth = make([]int32, n)
	k.rep = make([]int32, n)
	for i := range firstChild {
		firstChild[i], lastChild[i], sibling[i] = -1, -1, -1
	}
	used := int32(1)
	for i, kw := range keys {
		s := int32(0)
		for j, c := range kw {
			t := lastChild[s]
			if t < 0 || label[t] != c {
				t = used
				used++
				label[t], k.depth[t], k.rep[t] = c, int32(j+1), int32(i)
				if lastChild[s] < 0 {
					firstChild[s] = t
				} else {
					sibling[lastChild[s]] = t
				}
				lastChild[s] = t
			}
			s = t
		}
		isKw[s] = true
	}
	k.first = make([]int32, n+1)
	k.edgeB = make([]byte, 0, n-1)
	k.edgeT = make([]int32, 0, n-1)
	for s := range n {
		k.first[s] = int32(len(k.edgeB))
		for t := firstChild[s]; t >= 0; t = sibling[t] {
			k.edgeB = append(k.edgeB, label[t])
			k.edgeT = append(k.edgeT, t)
		}
	}
	k.first[n] = int32(len(k.edgeB))
	k.only = -1
	firsts := 0
	for c := range k.root {
		if t := k.child(0, k.lower[c]); t > 0 {
			k.root[c] = t
			k.only = c
			firsts++
		}
	}
	if firsts != 1 {
		k.only = -1
	}
	// Failure links breadth first: a node's is found from its parent's,
	// which is shallower.
	k.fail = make([]int32, n)
	k.out = make([]int32, n)
	k.wordIn = make([]bool, n)
	k.out[0] = -1
	if k.hasEmpty {
		k.out[0] = 0
	}
	queue := make([]int32, 0, n)
	queue = append(queue, 0)
	for q := 0; q < len(queue); q++ {
		s := queue[q]
		for e := k.first[s]; e < k.first[s+1]; e++ {
			c, t := k.edgeB[e], k.edgeT[e]
			f := int32(0)
			if s != 0 {
				f = k.fail[s]
				for {
					if u := k.child(f, c); u >= 0 {
						f = u
						break
					}
					if f == 0 {
						break
					}
					f = k.fail[f]
				}
			}
			k.fail[t] = f
			k.out[t] = k.out[f]
			if isKw[t] {
				k.out[t] = k.depth[t]
			}
			before := keys[k.rep[t]][k.depth[t]-k.depth[f]-1] // the byte before f's string in t's
			k.wordIn[t] = k.wordIn[f] || isKw[f] && !isWordByte(before)
			queue = append(queue, t)
		}
	}
	// The tables of the shallowest states, breadth first: a state's
	// failure link is shallower, its table made before.
	k.row = make([]int32, n)
	for i := range k.row {
		k.row[i] = -1
	}
	dense := queue[:min(len(queue), rows)]
	k.rows = make([]int32, 0, 256*len(dense))
	for _, s := range dense {
		at := int32(len(k.rows))
		for c := range 256 {
			t := k.root[c]
			if s != 0 {
				if t = k.child(s, k.lower[c]); t < 0 {
					t = k.rows[k.row[k.fail[s]]+int32(c)]
				}
			}
			k.rows = append(k.rows, t)
		}
		k.row[s] = at
	}
	return k
}

// child is s's edge labelled c (lower-cased), or -1.
func (k *kwSet) child(s int32, c byte) int32 {
	lo, hi := k.first[s], k.first[s+1]
	if hi-lo > 8 {
		i, ok := slices.BinarySearch(k.edgeB[lo:hi], c)
		if !ok {
			return -1
		}
		return k.edgeT[lo+int32(i)]
	}
	for i := lo; i < hi; i++ {
		if k.edgeB[i] == c {
			return k.edgeT[i]
		}
	}
	return -1
}

// step is the state after s reads the text byte c.
func (k *kwSet) step(s int32, c byte) int32 {
	if r := k.row[s]; r >= 0 {
		return k.rows[r+int32(c)]
	}
	c = k.lower[c]
	for s != 0 {
		if t := k.child(s, c); t >= 0 {
			return t
		}
		s = k.fail[s]
	}
	return k.root[c]
}

// kwHash is a hash of b lower-cased by lower (FNV-1a).
func kwHash(b []byte, lower *[256]byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(lower[c])
		h *= 1099511628211
	}
	return h
}

// isLine reports whether line is one of the keywords (-x).
func (k *kwSet) isLine(line []byte) bool {
	if n := min(len(line), 1023); k.lens[n/64]&(1<<(n%64)) == 0 {
		return false
	}
	for _, i := range k.lines[kwHash(line, &k.lower)] {
		kw := k.kws[i]
		if len(kw) != len(line) {
			continue
		}
		same := true
		for j, c := range line {
			if k.lower[c] != kw[j] {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}

// spend counts n steps of a search through in (nil: none) and reports
// whether it must stop: the job's stop flag is looked at every
// kwCheckWork steps, and in.hit then set.
func (in *interrupt) spend(n int) bool {
	if in == nil {
		return false
	}
	if in.hit {
		return true
	}
	if in.kwLeft -= n; in.kwLeft <= 0 {
		in.kwLeft = kwCheckWork
		in.kwLooks++
		if in.stop.Load() {
			in.hit = true
		}
	}
	return in.hit
}

// skipRoot returns the first position in text[i:to] of a byte with an
// edge from the root, or to.
func (k *kwSet) skipRoot(text []byte, i, to int) int {
	if k.only >= 0 {
		if j := bytes.IndexByte(text[i:to], byte(k.only)); j >= 0 {
			return i + j
		}
		return to
	}
	for ; i < to && k.root[text[i]] == 0; i++ {
	}
	return i
}

// find returns the start of a match in text at or after pos, a line's
// start, that selects its line, or -1 (also when in stopped it): the
// first keyword to end, with -w the first occurrence of a keyword with no
// word constituent on either side (GNU's -F matcher leaves such a line to
// its regexp matcher, which reads the -w wrapper: grep.go), with -x the
// first line that is a keyword. text ends before the newline of its last
// line.
func (k *kwSet) find(text []byte, pos int, in *interrupt) int {
	switch {
	case k.line:
		for pos <= len(text) {
			e := bytes.IndexByte(text[pos:], '\n')
			if e < 0 {
				e = len(text)
			} else {
				e += pos
			}
			if in.spend(e - pos + 1) {
				return -1
			}
			if k.isLine(text[pos:e]) {
				return pos
			}
			pos = e + 1
		}
		return -1
	case k.word:
		return k.findWord(text, pos, in)
	}
	return k.findAny(text, pos, in)
}

// findAny is find without -w or -x: where the first keyword to end
// starts.
func (k *kwSet) findAny(text []byte, pos int, in *interrupt) int {
	s := int32(0)
	for from := pos; from < len(text); {
		to := min(len(text), from+kwCheckWork)
		if in.spend(to - from) {
			return -1
		}
		for i := from; i < to; i++ {
			if s == 0 {
				// the root: most bytes lead nowhere
				if i = k.skipRoot(text, i, to); i == to {
					break
				}
				s = k.root[text[i]]
			} else {
				s = k.step(s, text[i])
			}
			if o := k.out[s]; o >= 0 {
				return i + 1 - int(o)
			}
		}
		from = to
	}
	return -1
}

// findWord is find for -w: at each position e, the state s read up to e
// tells which keywords end there; such a keyword matches as a word when
// no word constituent follows e and either a shorter one has none before
// it within s's string (wordIn) or s's own keyword has none before it in
// the text.
func (k *kwSet) findWord(text []byte, pos int, in *interrupt) int {
	// at reports whether a keyword that ends at e, s the state read up to
	// e, matches as a word, and returns where: its start, or a position
	// in its line.
	at := func(s int32, e int) (int, bool) {
		if k.out[s] < 0 || e < len(text) && isWordByte(text[e]) {
			return 0, false
		}
		if k.wordIn[s] {
			return e, true
		}
		st := e - int(k.depth[s])
		return st, k.out[s] == k.depth[s] && (st == 0 || !isWordByte(text[st-1]))
	}
	if k.hasEmpty {
		if st, ok := at(0, pos); ok {
			return st
		}
	}
	s := int32(0)
	for from := pos; from < len(text); {
		to := min(len(text), from+kwCheckWork)
		if in.spend(to - from) {
			return -1
		}
		for i := from; i < to; i++ {
			if s == 0 && !k.hasEmpty {
				// the root: most bytes lead nowhere
				if i = k.skipRoot(text, i, to); i == to {
					break
				}
				s = k.root[text[i]]
			} else {
				s = k.step(s, text[i])
			}
			if st, ok := at(s, i+1); ok {
				return st
			}
		}
		from = to
	}
	return -1
}

// matchLine reports whether one line (without its newline) is selected.
func (k *kwSet) matchLine(line []byte, in *interrupt) bool {
	if k.hasEmpty && !k.word && !k.line {
		return true
	}
	return k.find(line, 0, in) >= 0
}

// longestAt returns the length of the longest keyword at s in line at
// most most bytes long, or -1, and charges the bytes it read to in.
func (k *kwSet) longestAt(line []byte, s, most int, in *interrupt) int {
	n := -1
	if k.hasEmpty {
		n = 0
	}
	t := int32(0)
	i := s
	for ; i < len(line) && i-s < most; i++ {
		if t = k.child(t, k.lower[line[i]]); t < 0 {
			break
		}
		if k.out[t] == k.depth[t] {
			n = int(k.depth[t])
		}
	}
	in.spend(i - s + 1)
	return n
}

// leftmostLongest returns the leftmost keyword in line at or after p, the
// longest of those that start there (GNU's kwsexec with longest set), or
// s -1. The automaton tells where the first keywords end; the search goes
// on while a keyword under way could start before the leftmost so far.
func (k *kwSet) leftmostLongest(line []byte, p int, in *interrupt) (s, n int) {
	best := -1
	if k.hasEmpty {
		best = p
	} else {
		// The scan to the next match is charged a piece at a time: up to
		// a whole line (--max-line-bytes) may lie before it.
		st := int32(0)
		for from, done := p, false; from < len(line) && !done; {
			to := min(len(line), from+kwCheckWork)
			i := from
			for ; i < to; i++ {
				st = k.step(st, line[i])
				if o := k.out[st]; o >= 0 && (best < 0 || i+1-int(o) < best) {
					best = i + 1 - int(o)
				}
				if best >= 0 && i+1-int(k.depth[st]) >= best {
					done = true
					i++
					break
				}
			}
			if in.spend(i - from) {
				return -1, 0
			}
			from = i
		}
		if best < 0 {
			return -1, 0
		}
	}
	n = k.longestAt(line, best, len(line), in)
	if in != nil && in.hit {
		return -1, 0
	}
	return best, n
}

// eachMatch calls f for each non-empty match in line as grep -o prints
// them: from the line's start, the leftmost-longest keyword, then from
// its end (GNU's Fexecute given a start); with -x the whole line; with
// -w as eachKeywordMatch, GNU's retries step for step.
func (k *kwSet) eachMatch(line []byte, f func(s, e int), in *interrupt) {
	switch {
	case k.line:
		if len(line) > 0 && k.isLine(line) {
			f(0, len(line))
		}
		return
	case !k.word:
		emitMatches(line, false, func(cur int) (int, int, bool) {
			s, n := k.leftmostLongest(line, cur, in)
			return s, s + n, s >= 0
		}, f)
		return
	}
	prevWord := func(s, from int) bool { return s > from && isWordByte(line[s-1]) }
	nextWord := func(e int) bool { return e < len(line) && isWordByte(line[e]) }
	find := func(cur int) (int, int, bool) {
		for from, p := cur, cur; p <= len(line); {
			s, n := k.leftmostLongest(line, p, in)
			if s < 0 {
				break
			}
			if !prevWord(s, from) {
				for ln := n; ; {
					if !nextWord(s + ln) {
						return s, s + ln, true
					}
					if ln == 0 {
						break
					}
					// the longest keyword at s within ln-1 bytes
					if ln = k.longestAt(line, s, ln-1, in); ln < 0 || in != nil && in.hit {
						break
					}
				}
			}
			// Past the word constituents at s, then one byte on.
			for s < len(line) && isWordByte(line[s]) {
				s++
			}
			from = s
			if s >= len(line) {
				break
			}
			p = s + 1
		}
		return 0, 0, false
	}
	emitMatches(line, false, find, f)
}
