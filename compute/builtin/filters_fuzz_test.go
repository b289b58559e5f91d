package builtin_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/testenv"
)

// fuzzStages are the stages FuzzFilters builds pipelines from. Patterns
// avoid the documented differences from GNU (back-references, \< \>).
var fuzzStages = []string{
	"grep a", "grep -v a", "grep -c b", "grep -n a", "grep -o 'a.'", "grep -i A",
	"grep -w ab", "grep -x a", "grep -F 'a.'", "grep -E 'a+|b'", "grep -oE '[ab]+'",
	"grep -m 2 b", "grep -vn b", "grep '^$'", "grep -c ''", "grep -e a -e '\\.'",
	"grep '[^a-z]'", "grep -o '[[:digit:]]*'", "grep 'a\\{2\\}'", "grep -ow 'a*'",
	"grep -x -E '.{0,3}'", "grep -inw 'b'",
	"sort", "sort -r", "sort -n", "sort -rn", "sort -u", "sort -f", "sort -fu",
	"sort -s -k2,2", "sort -k2n", "sort -t, -k2,2 -k1,1r", "sort -b -k1.2,1.3",
	"sort -n -u", "sort -s -f -r", "sort -t ' ' -k2", "sort -k1,1f -u",
	"uniq", "uniq -c", "uniq -d", "uniq -u", "uniq -i", "uniq -ci", "uniq -cd",
}

// FuzzFilters runs random pipelines of grep, sort and uniq over random
// input through the engine and through sh with the GNU tools.
func FuzzFilters(f *testing.F) {
	for _, tool := range []string{"sh", "grep", "sort", "uniq"} {
		testenv.Tool(f, tool) // the oracle's stages; missing: fails under CI
	}
	f.Add([]byte{0, 22, 39}, []byte("b a\na b\n\nab,1\nB\na.b\n"))
	f.Add([]byte{1, 24}, []byte("-1\n 2\n+3\n.5\nx\n-0\n"))
	f.Add([]byte{11, 40}, []byte("aa ab\nab\n\x00ab\nAB"))
	f.Add([]byte{4, 12, 29}, []byte("a\xffa\r\n\xc3\xa9a\nbab\n"))
	f.Add([]byte{33, 19, 42}, []byte("a,2\nb,10\nc,2\naa\n"))
	f.Fuzz(func(t *testing.T, pick, input []byte) {
		if len(pick) == 0 || len(pick) > 4 || len(input) > 4096 {
			t.Skip()
		}
		var stages []string
		for _, p := range pick {
			stages = append(stages, fuzzStages[int(p)%len(fuzzStages)])
		}
		script := strings.Join(stages, " | ")
		want, ok := computetest.Sh(t, input, script+"; [ $? -le 1 ]")
		if !ok {
			t.Skip() // GNU failed in a way we need not follow
		}
		got, err := computetest.RunPipeline(t, script, input)
		if err != nil {
			t.Fatalf("%s: %v", script, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s on %q:\n got %q\nwant %q", script, input, got, want)
		}
	})
}
