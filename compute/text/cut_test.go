package text_test

import (
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
)

var cutArgs = [][]string{
	{"cut", "-b", "1"}, {"cut", "-b", "2-4"}, {"cut", "-b", "-3"}, {"cut", "-b", "3-"}, {"cut", "-c", "1,3,5-7"},
	{"cut", "-b", "1-2,3-4", "--output-delimiter=:"}, {"cut", "-b", "1-3,2-5,9-", "--output-delimiter", "<>"},
	{"cut", "-b", "2", "--complement"}, {"cut", "-b", "1,5-9", "--complement", "--output-delimiter=|"},
	{"cut", "-b", "100000-100010"}, {"cut", "-c", "1 3"}, {"cut", "-b", "1000000-"},
	{"cut", "-f", "1"}, {"cut", "-f", "2"}, {"cut", "-d", ":", "-f", "1"}, {"cut", "-d", ":", "-f", "2"},
	{"cut", "-d", ":", "-f", "1,3-"}, {"cut", "-d", ":", "-f", "-2", "-s"}, {"cut", "-d", ":", "-f", "2", "-s"},
	{"cut", "-d", ":", "-f", "1", "-s"}, {"cut", "-d", ":", "-f", "2-", "--complement"},
	{"cut", "-d", ":", "-f", "1,2", "--output-delimiter="}, {"cut", "-d", ":", "-f", "1,2", "--output-delimiter=::"},
	{"cut", "-d", " ", "-f", "2"}, {"cut", "-d", "", "-f", "2"}, {"cut", "-d", "\n", "-f", "1"},
	{"cut", "-d", "\n", "-f", "2"}, {"cut", "-d", "\n", "-f", "1,2", "-s"}, {"cut", "-d", "\n", "-f", "2-"},
	{"cut", "-z", "-d", ":", "-f", "2"}, {"cut", "-z", "-b", "1-2"}, {"cut", "-d", "x", "-f", "1-2,5"},
	{"cut", "-n", "-b", "1"}, {"cut", "-d", ":", "-f", "1", "-"}, {"cut", "-d", "\r", "-f", "1"},
}

func TestCutGNU(t *testing.T) {
	t.Parallel()
	extra := map[string][]byte{
		"fields":   []byte("a:b:c\n:x::\nnodelim\n\n::\na:b\n:\nlast:nonl"),
		"fields2":  []byte("1\t2\t3\nx\ty\n\t\n"),
		"delimend": []byte("a:\n:"),
	}
	for name, in := range filterInputs() {
		extra[name] = in
	}
	names, ins := computetest.SortedInputs(joinSmall(extra))
	for i, name := range names {
		in := ins[i]
		t.Run(name, func(t *testing.T) {
			for k, a := range cutArgs {
				if meets(len(in), i, k) {
					diffGNUCfg(t, engine.Config{}, in, a...)
				}
			}
		})
	}
}

func TestCutSpill(t *testing.T) {
	t.Parallel()
	in := filterInputs()["long"]
	for _, a := range [][]string{{"cut", "-d", "z", "-f", "2"}, {"cut", "-d", "z", "-f", "1", "-s"}, {"cut", "-d", "a", "-f", "2", "-s"}} {
		cfg := spillCfg(t)
		diffGNUCfg(t, cfg, in, a...)
		checkSpillClean(t, cfg)
	}
}

func TestCutErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ text, want string }{
		{"cut", "you must specify a list"},
		{"cut -f 0", "fields are numbered from 1"},
		{"cut -b 0", "positions are numbered from 1"},
		{"cut -f -", "no endpoint"},
		{"cut -f ''", "numbered from 1"},
		{"cut -f 1,,2", "numbered from 1"},
		{"cut -f 3-1", "decreasing range"},
		{"cut -f 1-2-3", "invalid field range"},
		{"cut -b 1-2-3", "invalid byte or character range"},
		{"cut -f a", `invalid field value "a"`},
		{"cut -c x", `invalid byte/character position "x"`},
		{"cut -c 99999999999999999999", `"99999999999999999999" is too large`},
		{"cut -d ab -f1", "single character"},
		{"cut -d : -b1", "-d"},
		{"cut -s -b1", "-s"},
		{"cut -b1 -f1", "only one list"},
		{"cut -b1 -b2", "only one list"},
		{"cut -f", `"-f" needs a value`},
		{"cut -x", `"-x"`},
		{"cut -f1 file", `"file"`},
	} {
		_, err := computetest.RunPipeline(t, c.text, []byte("x\n"))
		if compute.CodeOf(err) != compute.CodeInvalid || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want CodeInvalid with %q", c.text, err, c.want)
		}
		if gnuOut, ok := computetest.GNU(t, []byte("x\n"), "sh", "-c", c.text+" 2>/dev/null"); ok {
			t.Errorf("%s: GNU accepts it: %q", c.text, gnuOut)
		}
	}
}

func BenchmarkCutFields(b *testing.B) {
	computetest.BenchVsGNU(b, benchText(), "cut", "-d", ":", "-f", "2,4")
}
func BenchmarkCutBytes(b *testing.B) { computetest.BenchVsGNU(b, benchText(), "cut", "-b", "5-20") }

// TestCutFieldLines: many lines, some crossing the 128 KiB read buffer
// (the whole-line fast path and the streaming path take turns), against GNU.
func TestCutFieldLines(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := 0; b.Len() < 400<<10; i++ {
		switch i % 5 {
		case 0:
			b.WriteString("a:bb:ccc:dddd:e\n")
		case 1:
			b.WriteString("nodelim here\n")
		case 2:
			b.WriteString(":::\n")
		case 3:
			b.WriteString(strings.Repeat("x", i%3000) + ":" + strings.Repeat("y", i%5) + "\n")
		default:
			b.WriteString("\n1:2\n")
		}
	}
	in := []byte(b.String() + "tail:no:eol")
	for _, a := range [][]string{
		{"cut", "-d", ":", "-f", "2"}, {"cut", "-d", ":", "-f", "1,3-"}, {"cut", "-d", ":", "-f", "2", "-s"},
		{"cut", "-d", ":", "-f", "2-3", "--complement"}, {"cut", "-d", ":", "-f", "1,4", "--output-delimiter=--"},
		{"cut", "-d", ":", "-f", "5-"}, {"cut", "-d", ":", "-f", "-1", "-s"}, {"cut", "-z", "-d", ":", "-f", "2"},
	} {
		diffGNUCfg(t, engine.Config{}, in, a...)
	}
}
