package grep_test

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/halfclose/halfclose/compute/grep"
	"github.com/halfclose/halfclose/compute/internal/computetest"
)

// The benchmarks of issue 14's grep goals, on 64 MiB of the log text that
// make bench greps (grep.WriteBenchLog): each reports x_gnu, its speed as a
// multiple of GNU grep's on the same input in the same run.

var (
	benchLogOnce sync.Once
	benchLog     []byte
)

func grepBenchLog() []byte {
	benchLogOnce.Do(func() {
		var b bytes.Buffer
		b.Grow(64 << 20)
		if err := grep.WriteBenchLog(&b, 64<<20); err != nil {
			panic(err)
		}
		benchLog = b.Bytes()
	})
	return benchLog
}

func benchLogGrep(b *testing.B, argv ...string) {
	computetest.BenchVsGNU(b, grepBenchLog(), append([]string{"grep"}, argv...)...)
}

func BenchmarkLogFRare(b *testing.B)     { benchLogGrep(b, "-F", "connection reset") }
func BenchmarkLogFFrequent(b *testing.B) { benchLogGrep(b, "-F", "INFO") }
func BenchmarkLogI(b *testing.B)         { benchLogGrep(b, "-i", "connection reset") }
func BenchmarkLogIFrequent(b *testing.B) { benchLogGrep(b, "-i", "error") }
func BenchmarkLogEAlt(b *testing.B)      { benchLogGrep(b, "-E", "connection reset|timed out|refused") }
func BenchmarkLogC(b *testing.B)         { benchLogGrep(b, "-cF", "connection reset") }
func BenchmarkLogCFrequent(b *testing.B) { benchLogGrep(b, "-c", "INFO") }
func BenchmarkLogV(b *testing.B)         { benchLogGrep(b, "-v", "INFO") }
func BenchmarkLogVC(b *testing.B)        { benchLogGrep(b, "-vc", "INFO") }
func BenchmarkLogO(b *testing.B)         { benchLogGrep(b, "-o", "timed out") }
func BenchmarkLogOFrequent(b *testing.B) { benchLogGrep(b, "-o", "INFO") }

// Many short lines with patterns that every line matches (or that are
// tried on every line): GNU's dfa passes over such a line in a few
// nanoseconds, where one regexp call a line cost about 115 ns.

var (
	shortLinesOnce sync.Once
	shortLines     []byte // 4 MiB of lines of 0 to 7 bytes, a third empty
	emptyLines     []byte // 4 MiB of empty lines
)

func shortLineInputs() {
	shortLinesOnce.Do(func() {
		emptyLines = bytes.Repeat([]byte{'\n'}, 4<<20)
		words := []string{"", "x", "xx", "ab", "a1b2", "", "hello", "", "x y", "0123456"}
		var b bytes.Buffer
		for i := 0; b.Len() < 4<<20; i++ {
			b.WriteString(words[i*7%len(words)])
			b.WriteByte('\n')
		}
		shortLines = b.Bytes()
	})
}

func BenchmarkShortLines(b *testing.B) {
	shortLineInputs()
	for _, c := range []struct {
		name string
		in   []byte
		argv []string
	}{
		{"empty/''", emptyLines, []string{""}},
		{"empty/-c^", emptyLines, []string{"-c", "^"}},
		{"empty/-cx*", emptyLines, []string{"-c", "x*"}},
		{"empty/.*", emptyLines, []string{".*"}},
		{"empty/-v$", emptyLines, []string{"-v", "$"}},
		{"short/''", shortLines, []string{""}},
		{"short/-cx*", shortLines, []string{"-c", "x*"}},
		{"short/-n^", shortLines, []string{"-n", "^"}},
		{"short/-xx*", shortLines, []string{"-x", "x*"}},
		{"short/-cx[ab]*", shortLines, []string{"-cx", "[ab]*"}},
		{"short/-c[0-9]", shortLines, []string{"-c", "[0-9]"}},
		{"short/-cEx|b", shortLines, []string{"-cE", "x|b"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			computetest.BenchVsGNU(b, c.in, append([]string{"grep"}, c.argv...)...)
		})
	}
}

// BenchmarkLogXSparse is a regexp with no literal to search for that
// selects no line of the log: the whole text is searched (findWindowed's
// windows grow to it).
func BenchmarkLogXSparse(b *testing.B) { benchLogGrep(b, "-cx", "a*") }

// benchKeywords are 1,500 keywords for a keyword-list search (kwSet):
// made-up words of 7 to 13 letters (mixed case, so none is in the log
// text), and with frequent, "INFO" among them (nearly every line of the
// log). With sameFirst they all start with 'q', where GNU's matcher
// jumps between the q's with memchr.
func benchKeywords(frequent, sameFirst bool) []string {
	rng := rand.New(rand.NewPCG(1500, 1))
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	kws := make([]string, 0, 1500)
	for len(kws) < 1500 {
		b := make([]byte, 7+rng.IntN(7))
		for i := range b {
			b[i] = letters[rng.IntN(len(letters))]
		}
		if sameFirst {
			b[0] = 'q'
		}
		kws = append(kws, string(b))
	}
	if frequent {
		kws[len(kws)/2] = "INFO"
	}
	return kws
}

// BenchmarkLogKeywords: grep over a list of 1,500 keywords (kwSet), rare
// matches (none) and frequent ones, with -F's flags.
func BenchmarkLogKeywords(b *testing.B) {
	for _, c := range []struct {
		name     string
		frequent bool
		flags    []string
		q        bool
	}{
		{"rare/-F", false, []string{"-F"}, false},
		{"rare/-F/q", false, []string{"-F"}, true},
		{"rare/-Fi", false, []string{"-Fi"}, false},
		{"rare/-Fw", false, []string{"-Fw"}, false},
		{"rare/-Fx", false, []string{"-Fx"}, false},
		{"frequent/-F", true, []string{"-F"}, false},
		{"frequent/-Fc", true, []string{"-Fc"}, false},
		{"frequent/-Fo", true, []string{"-Fo"}, false},
		{"frequent/-Fiw", true, []string{"-Fiw"}, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			argv := append([]string{"grep"}, c.flags...)
			for _, kw := range benchKeywords(c.frequent, c.q) {
				argv = append(argv, "-e", kw)
			}
			computetest.BenchVsGNU(b, grepBenchLog(), argv...)
		})
	}
}
