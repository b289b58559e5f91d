package text_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/compute/text"
)

// wcInputs are the edge cases wc must count as GNU does.
func wcInputs() map[string][]byte {
	all := make([]byte, 0, 512)
	for i := range 256 {
		all = append(all, byte(i), ' ')
	}
	long := bytes.Repeat([]byte("word \t"), 400000) // a >2 MiB line
	return map[string][]byte{
		"empty":        nil,
		"newline":      []byte("\n"),
		"no final nl":  []byte("hello world\nfoo"),
		"crlf":         []byte("a b\r\nc\r\n\r\n"),
		"controls":     []byte("a\x01b \x01 \x02\x00x\x00 \v\f\r\tz\x7f\x80\xff w"),
		"invalid utf8": []byte("caf\xc3\xa9 \xff\xfe na\xefve\n\xe2\x82"),
		"all bytes":    all,
		"tabs":         []byte("a\tb\t\tcdefghij\tk\n\t\t\n1234567\t8\n"),
		"long line":    long,
		"random":       computetest.RandomBytes(5, 3<<20+3),
		"random 256k":  computetest.RandomBytes(6, 262145),
		"text":         bytes.Repeat([]byte("The quick  brown fox\tjumps over\nthe lazy dog.\n\n"), 20000),
	}
}

// wcFlagSets are every combination of -l -w -m -c -L, plus long names and
// "-" operands.
func wcFlagSets() []string {
	letters := "lwmcL"
	var sets []string
	for mask := 1; mask < 1<<len(letters); mask++ {
		s := "-"
		for i := range len(letters) {
			if mask&(1<<i) != 0 {
				s += letters[i : i+1]
			}
		}
		sets = append(sets, s)
	}
	return append(sets, "", "-", "- -", "-l -", "-c - - -", "--lines --words", "--bytes", "--chars", "--max-line-length", "-w --bytes -", "-L - -", "-l -w -c")
}

func TestWcVsOracle(t *testing.T) {
	t.Parallel()
	inputs := wcInputs()
	for _, flags := range wcFlagSets() {
		t.Run(flags, func(t *testing.T) {
			t.Parallel()
			for name, in := range inputs {
				want, ok := computetest.GNU(t, in, append([]string{"wc"}, strings.Fields(flags)...)...)
				if !ok {
					t.Fatalf("oracle wc %s failed", flags)
				}
				got, err := computetest.RunPipeline(t, "wc "+flags, in)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s: got %q, want %q", name, got, want)
				}
			}
		})
	}
}

// TestWcRandomBinary compares word counts on random bytes drawn from the
// classes that matter: printable, space, control, NUL and high bytes.
func TestWcRandomBinary(t *testing.T) {
	t.Parallel()
	alphabet := []byte("ab \t\n\v\f\r\x00\x01\x1f\x7f\x80\xa0\xff")
	for seed := range uint64(20) {
		r := computetest.RandomBytes(seed+100, 1000+int(seed)*997)
		in := make([]byte, len(r))
		for i, b := range r {
			in[i] = alphabet[int(b)%len(alphabet)]
		}
		want, _ := computetest.GNU(t, in, "wc", "-lwmcL")
		got, err := computetest.RunPipeline(t, "wc -lwmcL", in)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("seed %d: got %q, %v; want %q", seed, got, err, want)
		}
	}
}

func BenchmarkWc(b *testing.B) {
	text := bytes.Repeat([]byte("The quick  brown fox\tjumps over\nthe lazy dog.\n\n"), (64<<20)/48)
	for _, flags := range []string{"", "-l", "-c", "-w", "-L"} {
		b.Run("text"+flags, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				if _, err := computetest.RunPipeline(b, strings.TrimSpace("wc "+flags), text); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCountWords(b *testing.B) {
	data := computetest.RandomBytes(1, 256<<10)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		text.CountWords(data, 0)
	}
}
