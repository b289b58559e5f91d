package grep

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/internal/testenv"
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
	var small [][]byte
	for range 300 {
		small = append(small, input(r.IntN(40)))
	}
	// bigs: two inputs past the buffer (about 1.9 and 1.3 MB), each with
	// and without its NULs. Under make test each argv runs over one of
	// the two, in turn; make test-long runs every argv over both.
	var bigs [][][]byte
	for _, big := range [][]byte{input(600_000), input(400_000)} {
		bigs = append(bigs, [][]byte{bytes.ReplaceAll(big, []byte{0}, []byte("z")), big})
	}
	for k, argv := range []string{"-F ab", "ab", "-c ab", "-v ab", "-vc ab", "-F a", "-c b", "-v b", "-F aab", "-z ab", "-zc ab", "-zv ab", "-a ab", "-av ab", "-I -c ab", "-vF abab"} {
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
		inputs := append(append([][]byte(nil), small...), bigs[k%2]...)
		if testenv.Long() {
			inputs = append(inputs, bigs[(k+1)%2]...)
		}
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

// TestIndexWord: a literal of 2 to 8 bytes searched for as a word
// (indexWord) is found where bytes.Index finds it: in random text of a
// few letters (candidates on every other byte, which brings the brute
// force in), near the text's end (the last 7 bytes, compared without a
// whole word), and not at all.
func TestIndexWord(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 2))
	for range 20000 {
		lit := make([]byte, 2+r.IntN(8)) // 9: no word, bytes.Index
		for i := range lit {
			lit[i] = "abc\n\x00\xff"[r.IntN(3+r.IntN(4))]
		}
		hay := make([]byte, r.IntN(200))
		for i := range hay {
			hay[i] = "abcx\n\x00\xff"[r.IntN(3+r.IntN(5))]
		}
		if r.IntN(3) == 0 && len(hay) >= len(lit) {
			copy(hay[len(hay)-len(lit)-r.IntN(min(8, len(hay)-len(lit)+1)):], lit)
		}
		var f litFinder
		f.setWord(lit)
		if (f.mask != 0) != (len(lit) <= 8) {
			t.Fatalf("setWord(%q): mask %#x", lit, f.mask)
		}
		for from := range min(len(hay), 3) {
			if got, want := f.index(hay[from:], lit), bytes.Index(hay[from:], lit); got != want {
				t.Fatalf("index(%q, %q) = %d, want %d", hay[from:], lit, got, want)
			}
		}
	}
}

// TestLineAfter: lineAfter bounds the line of s as a search back from s
// and forward from it does, wherever s lies after a line's start pos: on
// pos's line, lines after it, the text's last line unterminated.
func TestLineAfter(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 3))
	for range 20000 {
		hay := make([]byte, 1+r.IntN(150))
		for i := range hay {
			hay[i] = "ab\n"[r.IntN(2+r.IntN(2))]
		}
		starts := []int{0}
		for i, c := range hay {
			if c == '\n' && i+1 < len(hay) {
				starts = append(starts, i+1)
			}
		}
		pos := starts[r.IntN(len(starts))]
		s := pos + r.IntN(len(hay)-pos)
		if hay[s] == '\n' {
			continue // s is in the literal: never its line's end
		}
		wantS := pos + lastNewline(hay[pos:s]) + 1
		wantE := bytes.IndexByte(hay[s:], '\n')
		if wantE < 0 {
			wantE = len(hay)
		} else {
			wantE += s
		}
		if ls, le := lineAfter(hay, pos, s); ls != wantS || le != wantE {
			t.Fatalf("lineAfter(%q, %d, %d) = %d, %d, want %d, %d", hay, pos, s, ls, le, wantS, wantE)
		}
	}
}
