package compute_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
)

// TestTakeKeywords: a keyword set is charged its trie nodes, perNode to
// an instruction rounded up, from the budget regexps take from too; past
// what is left it is RESOURCE_EXHAUSTED naming the keyword set and takes
// nothing; a nil budget is MaxPatternInsts a call.
func TestTakeKeywords(t *testing.T) {
	b := compute.NewPatternBudget(100)
	if err := b.Take("grep", 40); err != nil {
		t.Fatal(err)
	}
	if err := b.TakeKeywords("grep", 401, 8); err != nil { // 51 instructions
		t.Fatalf("51 of 60: %v", err)
	}
	err := b.TakeKeywords("grep", 73, 8) // 10 of 9 left
	const want = "grep: keyword set too large: its 73 trie nodes (the keywords' bytes, less shared prefixes) count as 10 regexp instructions, one per 8; a pipeline's patterns may use 10000 in all, 9 are left"
	if compute.CodeOf(err) != compute.CodeResourceExhausted || err.Error() != want {
		t.Fatalf("over the budget: %v, want RESOURCE_EXHAUSTED %q", err, want)
	}
	if err := b.Take("grep", 9); err != nil {
		t.Fatalf("the refused set took some: %v", err)
	}
	var nb *compute.PatternBudget
	if err := nb.TakeKeywords("grep", 8*compute.MaxPatternInsts, 8); err != nil {
		t.Fatalf("nil budget, MaxPatternInsts: %v", err)
	}
	if err := nb.TakeKeywords("grep", 8*compute.MaxPatternInsts+1, 8); err == nil || !strings.Contains(err.Error(), "keyword set too large") {
		t.Fatalf("nil budget, one past: %v", err)
	}
}

// TestTakeRows: the table rows of a pipeline are taken up to what is
// left, never more; a nil budget has MaxTableRows a call.
func TestTakeRows(t *testing.T) {
	b := compute.NewPatternBudget(compute.MaxPatternInsts)
	var got []int
	for _, n := range []int{600, 600, 10} {
		got = append(got, b.TakeRows(n))
	}
	var nb *compute.PatternBudget
	got = append(got, nb.TakeRows(2*compute.MaxTableRows))
	if want := []int{600, compute.MaxTableRows - 600, 0, compute.MaxTableRows}; !slices.Equal(got, want) {
		t.Errorf("rows taken %v, want %v", got, want)
	}
}
