package grep

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
)

// TestProcessLitAsRegexp: processLit selects, counts and writes what the
// general path does when the same literal runs as a regexp (the matcher
// with isLit off), over random lines dense with the literal: adjacent and
// separated selected lines, several occurrences in a line, empty lines,
// NULs, no final newline, and inputs over several buffers.
func TestProcessLitAsRegexp(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 1))
	words := []string{"", "ab", "xab", "aab", "abab", "b", "a", "ba", "ab\x00", "\x00", "x\ry", "abx"}
	input := func(lines int) []byte {
		var b bytes.Buffer
		for i := range lines {
			for range r.IntN(3) {
				b.WriteString(words[r.IntN(len(words))])
			}
			if i < lines-1 || r.IntN(2) == 0 {
				b.WriteByte('\n')
			}
		}
		return b.Bytes()
	}
	var inputs [][]byte
	for range 300 {
		inputs = append(inputs, input(r.IntN(40)))
	}
	for _, big := range [][]byte{input(600_000), input(400_000)} {
		inputs = append(inputs, bytes.ReplaceAll(big, []byte{0}, []byte("z")), big)
	}
	for _, argv := range []string{"-F ab", "ab", "-c ab", "-v ab", "-vc ab", "-F a", "-c b", "-v b", "-F aab", "-z ab", "-zc ab", "-zv ab", "-a ab", "-av ab", "-I -c ab", "-vF abab"} {
		args := strings.Fields(argv)
		st, err := buildGrep(&compute.Env{MaxLineBytes: 64 << 20}, args) // -z: the big inputs are long lines
		if err != nil {
			t.Fatal(err)
		}
		g := st.(*grepStage)
		if litModeOf(g, false) == litNone {
			t.Fatalf("grep %s: not run by processLit", argv)
		}
		ref := *g
		rm := *g.m
		rm.isLit = false
		ref.m = &rm
		for i, in := range inputs {
			got, gotSt := runStage(t, g, in)
			want, wantSt := runStage(t, &ref, in)
			if !bytes.Equal(got, want) || gotSt != wantSt {
				t.Fatalf("grep %s, input %d (%d bytes): processLit wrote %d bytes (%.80q), status %d; the regexp %d bytes (%.80q), status %d",
					argv, i, len(in), len(got), got, gotSt, len(want), want, wantSt)
			}
		}
	}
}

// runStage runs g over in: its output and exit status.
func runStage(t *testing.T, g *grepStage, in []byte) ([]byte, int) {
	t.Helper()
	var st compute.ExitStatus
	var out bytes.Buffer
	if err := g.Run(compute.WithExitStatus(t.Context(), &st), bytes.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), st.Get()
}
