package text_test

import (
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/testenv"
)

var trArgs = [][]string{
	{"tr", "a-z", "A-Z"}, {"tr", "[:lower:]", "[:upper:]"}, {"tr", "[:upper:]", "[:lower:]"},
	{"tr", "-d", "a-c"}, {"tr", "-d", "\\n"}, {"tr", "-d", "[:space:]"}, {"tr", "-s", "a-z"},
	{"tr", "-s", "\\n"}, {"tr", "-ds", "a", "b"}, {"tr", "-cd", "[:alnum:]\\n"}, {"tr", "-C", "-d", "[:print:]"},
	{"tr", "-cs", "[:alpha:]", "\\n"}, {"tr", "-c", "a-z", "_"}, {"tr", "abc", "x"}, {"tr", "abc", "xy"},
	{"tr", "-t", "abc", "xy"}, {"tr", "a-f", "[x*]"}, {"tr", "a-f", "1[x*2]9"}, {"tr", "a-z", "[x*010]A"},
	{"tr", "\\000-\\037", "[.*]"}, {"tr", "\\\\", "/"}, {"tr", "\\t\\r", "TR"}, {"tr", "\\101", "z"},
	{"tr", "[:digit:][:punct:]", "#"}, {"tr", "-d", "[:cntrl:]"}, {"tr", "-d", "[:xdigit:][:blank:]"},
	{"tr", "-d", "[:graph:]"}, {"tr", "-s", "[:space:]", " "}, {"tr", "[=a=]", "b"}, {"tr", "-d", "[=a=]x"},
	{"tr", "a-", "xy"}, {"tr", "-a", "x"}, {"tr", "[a]", "xyz"}, {"tr", "[", "x"}, {"tr", "a\\", "xy"},
	{"tr", "\\400", "xy"}, {"tr", "\\x", "y"}, {"tr", "\\-a", "xy"}, {"tr", "a\\-z", "123"},
	{"tr", "-s", "a-z", "A-Z"}, {"tr", "\\200-\\377", "x"}, {"tr", "[:alpha:]", "[:upper:]"},
	{"tr", "[:lower:]x", "[:upper:]y"}, {"tr", "-", "_"}, {"tr", "[:upper:][:lower:]", "[:lower:][:upper:]"},
	// errors: GNU must fail, and so must we.
	{"tr", "z-a", "x"}, {"tr", "a"}, {"tr", "-d", "a", "b"}, {"tr", "a", "b", "c"}, {"tr", "a", ""},
	{"tr", "[:foo:]", "x"}, {"tr", "[x*]", "y"}, {"tr", "ab", "[:digit:]"}, {"tr", "x", "[:upper:]"},
	{"tr", "a-z", "[x*][y*]"}, {"tr", "-c", "a", "[:upper:]"}, {"tr", "ab", "[=a=]"}, {"tr", "-ds", "a"},
	{"tr", "a", "[x*y]"},
}

func TestTrGNU(t *testing.T) {
	t.Parallel()
	extra := filterInputs()
	extra["text"] = []byte("Hello,  World!\n\tfoo  bar\n\naaabbbccc   ---___\\\\//[]\x00\x7f\xff\n")
	extra["all"] = func() []byte {
		b := make([]byte, 0, 512)
		for i := 0; i < 512; i++ {
			b = append(b, byte(i))
		}
		return b
	}()
	names := []string{"text", "all", "crlf", "nul", "invalid-utf8", "binary", "many", "empty", "nonl"}
	if !testenv.Long() {
		// tr maps bytes one at a time: the small inputs joined give every
		// option every byte sequence of theirs in one run of the oracle
		// (and -s squeezes across their joins too). The empty input and
		// the one without a final newline stay apart, for their edges.
		var joined []byte
		for _, name := range []string{"text", "crlf", "nul", "invalid-utf8", "all"} {
			joined = append(joined, extra[name]...)
		}
		extra["joined"] = joined
		names = []string{"joined", "binary", "many", "empty", "nonl"}
	}
	for i, name := range names {
		in := extra[name]
		t.Run(name, func(t *testing.T) {
			for k, a := range trArgs {
				if meets(len(in), i, k) {
					diffGNUCfg(t, engine.Config{}, in, a...)
				}
			}
		})
	}
}

func TestTrErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ text, want string }{
		{"tr", "missing operand"},
		{"tr a", `after "a"`},
		{"tr -d a b", `extra operand "b"`},
		{"tr z-a x", `"z-a"`},
		{"tr '[:foo:]' x", `"foo"`},
		{"tr '[x*]' y", "SET1"},
		{"tr a ''", "non-empty"},
		{"tr ab '[:digit:]'", "'upper' and 'lower'"},
		{"tr x '[:upper:]'", "misaligned"},
		{"tr -x a b", `"-x"`},
	} {
		_, err := computetest.RunPipeline(t, c.text, []byte("x\n"))
		if compute.CodeOf(err) != compute.CodeInvalid || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want CodeInvalid with %q", c.text, err, c.want)
		}
	}
}

func BenchmarkTrUpper(b *testing.B)   { benchFilter(b, "tr a-z A-Z", benchText()) }
func BenchmarkTrSqueeze(b *testing.B) { benchFilter(b, "tr -s ' x'", benchText()) }
