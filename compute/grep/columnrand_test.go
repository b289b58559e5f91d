package grep_test

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/grep"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/testenv"
)

// TestGrepColumnLiteralRandom: processLit's guess at the column of the
// line selected before, against GNU grep, on random inputs built to hit
// and nearly hit it: lines of one layout over a few literals of 1 to 9
// bytes (some sharing prefixes, a few repeating a byte: an overlap at the
// column), the literal at the column, a byte either side, in another
// case, cut by the line's end at the column, split over a newline, at a
// line's or the input's last bytes, in lines of one and two columns
// alternating; small inputs and ones past the buffer, with and without a
// final newline, under the flags of processLit (none, -c, -v, -vc, -F,
// -i, -z) and of the general path next to it (-n -o -b -w -x -m). Under
// make test a flag set meets each of the three inputs past the buffer
// (with a final newline, without, the literal at its end) once, each with
// another of the four literals. The seed is logged; HALFCLOSE_GREP_SEED
// replays one.
func TestGrepColumnLiteralRandom(t *testing.T) {
	seed := uint64(0x14c01)
	if s := os.Getenv("HALFCLOSE_GREP_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			t.Fatal(err)
		}
		seed = v
	}
	t.Logf("seed %#x (HALFCLOSE_GREP_SEED=%#x replays it)", seed, seed)
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	lits := []string{"E", "ab", "aab", "ERR", "INFO", "aaaa", "WARN:", "abcabc", "xyzINFO", "INFOWARN", "INFOWARNS", "a.b"}
	if !testenv.Long() {
		// make test: four literals of the twelve, drawn by the seed (about
		// a third of the run); make fuzz's long run takes them all.
		r.Shuffle(len(lits), func(i, j int) { lits[i], lits[j] = lits[j], lits[i] })
		lits = lits[:4]
	}
	alpha := func(lit string) string { return "xyz .-" + lit + strings.ToLower(lit) }
	gen := func(lit string, nl byte, size int) []byte {
		var b bytes.Buffer
		cols := []int{r.IntN(24), r.IntN(24)}
		a := alpha(lit)
		fill := func(n int) {
			for range n {
				b.WriteByte(a[r.IntN(len(a))])
			}
		}
		for i := 0; b.Len() < size; i++ {
			col := cols[0]
			if r.IntN(4) == 0 {
				col = cols[i%2]
			}
			switch k := r.IntN(14); k {
			case 0, 1, 2, 3: // at the column, then some
				fill(col)
				b.WriteString(lit)
				fill(r.IntN(12))
			case 4: // a byte before or after the column
				fill(max(0, col+r.IntN(3)-1))
				b.WriteString(lit)
			case 5: // another case at the column
				fill(col)
				b.WriteString(strings.ToLower(lit))
				fill(r.IntN(4))
			case 6: // cut by the line's end at the column
				fill(col)
				b.WriteString(lit[:r.IntN(len(lit))])
			case 7: // the column's line short, the literal on the next one
				fill(r.IntN(col + 1))
				b.WriteByte(nl)
				fill(r.IntN(3))
				b.WriteString(lit)
			case 8: // the literal split over a newline
				fill(col)
				j := r.IntN(len(lit))
				b.WriteString(lit[:j])
				b.WriteByte(nl)
				b.WriteString(lit[j:])
			case 9: // the last byte changed
				fill(col)
				b.WriteString(lit[:len(lit)-1] + "#")
				fill(r.IntN(3))
			case 10: // empty line
			default:
				fill(r.IntN(2*col + 2))
			}
			b.WriteByte(nl)
		}
		return b.Bytes()
	}
	// the general path's flags and processLit's: each a separate run of
	// the oracle over all inputs
	flagSets := [][]string{{}, {"-c"}, {"-v"}, {"-vc"}, {"-i"}, {"-F"}, {"-Fv"}, {"-ic"}, {"-iv"},
		{"-n"}, {"-o"}, {"-b"}, {"-w"}, {"-x"}, {"-m", "7"}, {"-vn"}, {"-wc"}, {"-xv"}}
	for li, lit := range lits {
		for _, nl := range []byte{'\n', 0} {
			// small: the inputs under the buffer's size
			inputs, small := map[string][]byte{}, map[string][]byte{}
			for i := range 4 {
				size := 50 + r.IntN(2000)
				if i >= 3 {
					size = grep.GrepBufSize + r.IntN(3*grep.GrepBlock)
				}
				in := gen(lit, nl, size)
				inputs[fmt.Sprintf("%d", i)] = in
				inputs[fmt.Sprintf("%d-noeol", i)] = in[:len(in)-1]
				// the literal ends the input, at the column
				tail := append(bytes.Repeat([]byte{'x'}, r.IntN(20)), lit...)
				inputs[fmt.Sprintf("%d-tail", i)] = append(in[:len(in):len(in)], tail...)
				if i < 3 {
					for _, k := range []string{"", "-noeol", "-tail"} {
						small[fmt.Sprint(i, k)] = inputs[fmt.Sprint(i, k)]
					}
				}
			}
			big := []string{"3", "3-noeol", "3-tail"}
			for i, fl := range flagSets {
				// The inputs past the buffer are 99% of the bytes (and of
				// the test's CPU, under -race): make test gives a flag set
				// one of them a literal, the one of index (li+i)%4 (none
				// at 3), so over the four literals it meets each once;
				// make test-long gives it all three for every literal.
				ins := inputs
				if !testenv.Long() {
					ins = maps.Clone(small)
					if k := (li + i) % 4; k < len(big) {
						ins[big[k]] = inputs[big[k]]
					}
				}
				args := append([]string{"grep"}, fl...)
				if nl == 0 {
					// each input holds NULs: one oracle run each
					if i >= 5 {
						break
					}
					args = append([]string{"grep", "-z"}, fl...)
				}
				computetest.DiffGNUEach(t, ins, append(args, "-e", lit)...)
			}
		}
	}
}
