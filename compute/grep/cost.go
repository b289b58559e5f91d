package grep

import (
	"regexp/syntax"
)

// progSize returns an upper bound of the instructions RE2 compiles t to,
// computed on the parsed tree before Simplify expands its counted
// repetitions: x{1000} is one node here, a thousand copies of x after.
// The bound is what a pattern is charged against the pipeline's pattern
// budget, before anything that costs in proportion to it is built, and
// the cost per input byte of matching it.
func progSize(t *syntax.Regexp) int {
	const ceiling = 1 << 30 // saturate: the budget is far below
	add := func(a, b int) int { return min(a+b, ceiling) }
	mul := func(a, b int) int {
		if a != 0 && b > ceiling/a {
			return ceiling
		}
		return min(a*b, ceiling)
	}
	switch t.Op {
	case syntax.OpLiteral:
		return max(len(t.Rune), 1)
	case syntax.OpCapture:
		return add(progSize(t.Sub[0]), 2)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
		return add(progSize(t.Sub[0]), 1)
	case syntax.OpRepeat:
		n := t.Max
		if n < 0 {
			n = t.Min + 1
		}
		return add(mul(max(n, 1), add(progSize(t.Sub[0]), 1)), 1)
	case syntax.OpConcat, syntax.OpAlternate:
		n := len(t.Sub)
		for _, s := range t.Sub {
			n = add(n, progSize(s))
		}
		return max(n, 1)
	}
	return 1 // a class, an anchor, an empty or no match
}

// patternOverhead is what progSize leaves out: the program's own fail,
// capture and match instructions.
const patternOverhead = 4

// Matching work is measured in input bytes times instructions: RE2's
// slowest engine costs up to about 50 ns for each (`.{1000}x` runs at
// 20 KB/s). matchWork is how much a search may do between two looks at
// the job's context, about 50 ms at worst.
const matchWork = 1 << 20

// maxPiece bounds a piece of many lines even for a cheap pattern: the
// copies a search may make of its text (lower-cased for -i, widened for
// bytes >= 0x80) are then at most a few hundred KiB, or one line.
const maxPiece = 256 << 10

// readerCheckWork is how much a cancellable search does between two looks
// at its stop flag, about 3 ms at worst.
const readerCheckWork = 1 << 16
