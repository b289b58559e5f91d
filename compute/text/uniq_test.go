package text_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/compute/text"
	"github.com/halfclose/halfclose/internal/testenv"
)

var uniqInputs = map[string]string{
	"empty":   "",
	"basic":   "a\na\nb\nc\nc\nc\na\n",
	"nonl":    "a\na",
	"nonl2":   "a\nb",
	"case":    "a\nA\nb\nB\nb\nc\n",
	"empties": "\n\n\na\n\n",
	"crlf":    "a\r\na\na\r\n",
	"nul":     "a\x00b\na\x00b\na\x00c\n",
	"utf8":    "\xc3\xa9\n\xc3\x89\n\xff\n\xff\n",
}

func TestUniqDifferential(t *testing.T) {
	t.Parallel()
	argvs := [][]string{
		{"uniq"}, {"uniq", "-c"}, {"uniq", "-d"}, {"uniq", "-u"}, {"uniq", "-i"},
		{"uniq", "-ci"}, {"uniq", "-cd"}, {"uniq", "-cu"}, {"uniq", "-du"}, {"uniq", "-id"},
		{"uniq", "--count", "--ignore-case"}, {"uniq", "-"},
	}
	// long's lines are over the default line limit (1 MiB): by a byte
	// under make test, twice it under make test-long (testenv.Long).
	long := bytes.Repeat([]byte("z"), compute.DefaultMaxLineBytes+1)
	if testenv.Long() {
		long = bytes.Repeat([]byte("z"), 2<<20)
	}
	inputs := map[string][]byte{
		"long":  append(append(append(bytes.Clone(long), '\n'), long...), "\nz\n"...),
		"many":  bytes.Repeat([]byte("x\n"), 10_000_001%(3<<20)),
		"bound": append(bytes.Repeat([]byte("y"), text.LineBufSize-1), "\ny\nY\n"...),
		// Two different lines longer than the read buffer, then short
		// ones: uniq hands the first long line's buffer back to the reader
		// (empty), and the short line after it once crashed the server.
		"longs": bytes.Join([][]byte{
			bytes.Repeat([]byte("a"), text.LineBufSize+10), bytes.Repeat([]byte("b"), text.LineBufSize+10),
			[]byte("c"), []byte("c"), bytes.Repeat([]byte("a"), text.LineBufSize+10), []byte("d\n"),
		}, []byte("\n")),
	}
	for k, v := range uniqInputs {
		inputs[k] = []byte(v)
	}
	// "long" is over the default line limit: a server that allows it
	// gets GNU's output.
	cfg := engine.Config{MaxLineBytes: 4 << 20}
	names, ins := computetest.SortedInputs(inputs)
	for i, name := range names {
		for k, argv := range argvs {
			if !meets(len(ins[i]), i, k) {
				continue
			}
			t.Run(fmt.Sprintf("%s/%q", name, argv[1:]), func(t *testing.T) {
				computetest.DiffGNUEnv(t, cfg, ins[i], argv...)
			})
		}
	}
}

func TestUniqErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args string
		want []string
	}{
		{"uniq -Q", []string{"uniq", `"-Q"`}},
		{"uniq in out", []string{"uniq", `"in"`}},
		{"uniq --bogus", []string{"uniq", `"--bogus"`}},
	} {
		_, err := computetest.RunPipeline(t, c.args, []byte("a\n"))
		if compute.CodeOf(err) != compute.CodeInvalid {
			t.Fatalf("%s: err %v, want CodeInvalid", c.args, err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.args, err, w)
			}
		}
	}
}

func BenchmarkUniqC(b *testing.B) {
	computetest.BenchVsGNU(b, randomLines(9, 32<<20, true), "uniq", "-c")
}

// BenchmarkUniqCRuns: sorted input, runs of equal lines (uniq's usual input).
func BenchmarkUniqCRuns(b *testing.B) {
	var in bytes.Buffer
	for i := 0; in.Len() < 32<<20; i++ {
		for range i%7 + 1 {
			fmt.Fprintf(&in, "/v1/items/%08d GET\n", i)
		}
	}
	computetest.BenchVsGNU(b, in.Bytes(), "uniq", "-c")
}
