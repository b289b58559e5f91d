package grep_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/internal/computetest"
)

// TestGrepLongOptionalRepeat: a count whose optional part is long
// ({1,1000}: 999 optional copies) against GNU grep. Simplify nests those
// copies two levels each, and the RE2 text of that tree was refused by
// regexp.Compile past 1000 levels: "unsupported nesting depth" from
// [ab]{1,501} on (-w: {1,500}; a{100,600}; (a?){0,501}), which GNU
// takes.
func TestGrepLongOptionalRepeat(t *testing.T) {
	var b bytes.Buffer
	for _, n := range []int{0, 1, 499, 500, 501, 502, 999, 1000, 1001} {
		b.WriteString(strings.Repeat("ab", n/2) + strings.Repeat("a", n%2) + "\n")
		b.WriteString("x" + strings.Repeat("a", n) + "y\n")
	}
	inputs := map[string][]byte{"lines": b.Bytes()}
	for _, argv := range [][]string{
		{"grep", "-E", "[ab]{1,1000}"}, {"grep", "-cE", "^[ab]{1,1000}$"}, {"grep", "-xE", "[ab]{501,1000}"},
		{"grep", "-oE", "[ab]{0,600}"}, {"grep", "-wE", "a{1,700}"}, {"grep", "-E", "xa{1,800}y"},
		{"grep", "-xE", "(ab){2,700}"}, {"grep", "-x", `[ab]\{1,600\}`}, {"grep", "-iE", "xA{1,600}Y"},
		{"grep", "-cE", "x(a{1,30}){1,30}y"}, {"grep", "-vE", "^a{0,1000}$"}, {"grep", "-xE", "(a?){0,1000}"},
		{"grep", "-cE", "x(){1,1000}a"},
	} {
		computetest.DiffGNUEach(t, inputs, argv...)
	}
}
