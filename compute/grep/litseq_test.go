package grep_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/halfclose/halfclose/compute/internal/computetest"
)

// litSeqLines are lines from a small alphabet, so that the literals of the
// patterns below occur often, overlap, and appear in every order.
func litSeqLines(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	words := []string{"ERROR", "error", "timeout", "user", "users", "ab", "a", "b", "c", "abc", "x", "y", "z", "foo", "bar", "baz", "qux", " ", " ", "\xff", "\t"}
	var b bytes.Buffer
	for range n {
		for k := r.IntN(8); k > 0; k-- {
			b.WriteString(words[r.IntN(len(words))])
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// TestGrepLitSeqMatchesGNU drives the literal-sequence matcher (and the
// patterns next to its edge that must not use it) against GNU grep.
func TestGrepLitSeqMatchesGNU(t *testing.T) {
	t.Parallel()
	input := litSeqLines(7, 3000)
	for _, pat := range []string{
		"ERROR.*(timeout|user)", "a.*b.*c", "(ab|a)b.*c", "x?y.*z", "(foo|bar)(baz|qux)",
		".*", "ab.*", ".*ab", "[Tt]imeout.*user", "user.*users", "(a|ab)(c|bcd)", "c.*c.*c",
		"ERROR.*timeout.*", "(users|user).*ERROR", "^ab.*c", "ab.*c$", "a[0-9]*b", "\xff.*x",
	} {
		for _, flags := range [][]string{{"-E"}, {"-E", "-c"}, {"-E", "-v"}, {"-E", "-n"}, {"-E", "-i"}, {"-E", "-o"}, {"-E", "-w"}} {
			t.Run(pat+" "+flags[len(flags)-1], func(t *testing.T) {
				computetest.DiffGNU(t, input, append(append([]string{"grep"}, flags...), pat)...)
			})
		}
	}
}
