package compute

import (
	"strconv"
	"sync"
)

// DefaultMaxLineBytes is the longest line a line-oriented stage (grep,
// sort, uniq) holds when Env.MaxLineBytes is 0. Such a stage must hold a
// whole line to match or compare it; the cap keeps a job's memory bounded
// when the input has no newlines at all (the server's --max-line-bytes).
const DefaultMaxLineBytes = 1 << 20

// LineTooLong is the error of a stage that met a line longer than limit: a
// limit of the server, so RESOURCE_EXHAUSTED, naming the flag that sets it.
func LineTooLong(cmd string, limit int) error {
	return Exhaustedf("%s: line longer than %d bytes (the server's --max-line-bytes)", cmd, limit)
}

// MaxPatternInsts bounds what the patterns of one pipeline may compile to,
// in RE2 program instructions (about one per byte class or literal byte to
// match; x{n} counts n times). Matching costs time and memory in
// proportion to it — up to about 50 ns per input byte and instruction, and
// a few hundred bytes per instruction and compiled form — so the bound keeps
// compiling cheap (milliseconds, a few MiB) before a job slot is taken, and
// keeps a job's matchers within a few MiB. A grep's keyword set (a list
// of literals, searched without a regexp) is charged by its trie nodes
// instead (TakeKeywords).
const MaxPatternInsts = 10_000

// PatternBudget is what the patterns of one pipeline may still compile to,
// in instructions: every grep of the pipeline takes its share, so sixteen
// stages cost no more than one. It is safe for concurrent use.
type PatternBudget struct {
	mu   sync.Mutex
	left int // protected by mu
	rows int // the table rows left (TakeRows); protected by mu
}

// MaxTableRows is the rows of 256 transitions (1 KiB each) the keyword
// sets of one pipeline may build in all (TakeRows): 1 MiB, however many
// grep stages share it.
const MaxTableRows = 1024

// NewPatternBudget returns a budget of n instructions and MaxTableRows
// table rows.
func NewPatternBudget(n int) *PatternBudget { return &PatternBudget{left: n, rows: MaxTableRows} }

// Take charges n instructions for cmd's patterns, or fails with
// RESOURCE_EXHAUSTED when the pipeline's patterns would pass the budget.
// A nil budget is one of MaxPatternInsts for each call.
func (b *PatternBudget) Take(cmd string, n int) error {
	if b == nil {
		if n > MaxPatternInsts {
			return patternTooLarge(cmd, n, MaxPatternInsts)
		}
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.left {
		return patternTooLarge(cmd, n, b.left)
	}
	b.left -= n
	return nil
}

// TakeKeywords charges a keyword set of nodes trie nodes (its keywords'
// distinct prefixes: at most their bytes) for cmd, perNode of them to an
// instruction (rounded up), or fails with RESOURCE_EXHAUSTED: a keyword
// set costs the same per input byte whatever its size, but its memory
// grows with it, a node about what perNode instructions' share of a
// compiled regexp is.
func (b *PatternBudget) TakeKeywords(cmd string, nodes, perNode int) error {
	n := (nodes + perNode - 1) / perNode
	left := MaxPatternInsts // a nil budget: MaxPatternInsts for each call
	if b != nil {
		b.mu.Lock()
		defer b.mu.Unlock()
		left = b.left
	}
	if n > left {
		return Exhaustedf("%s: keyword set too large: its %s trie nodes (the keywords' bytes, less shared prefixes) count as %s regexp instructions, one per %d; a pipeline's patterns may use %d in all, %s are left",
			cmd, strconv.Itoa(nodes), strconv.Itoa(n), perNode, MaxPatternInsts, strconv.Itoa(left))
	}
	if b != nil {
		b.left -= n
	}
	return nil
}

// TakeRows takes up to n of the pipeline's table rows and returns how
// many it took: a keyword set searches the states without one through
// their edges, slower but the same. A nil budget has MaxTableRows for
// each call.
func (b *PatternBudget) TakeRows(n int) int {
	if b == nil {
		return min(n, MaxTableRows)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	n = min(n, b.rows)
	b.rows -= n
	return n
}

func patternTooLarge(cmd string, n, left int) error {
	return Exhaustedf("%s: pattern too large: it needs %s regexp instructions; a pipeline's patterns may use %d in all, %s are left",
		cmd, strconv.Itoa(n), MaxPatternInsts, strconv.Itoa(left))
}
