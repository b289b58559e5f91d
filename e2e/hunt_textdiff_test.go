package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/internal/shquote"
	"github.com/halfclose/halfclose/internal/testenv"
	"github.com/halfclose/halfclose/internal/textgen"
)

// TestTextDiffRandom runs internal/textgen's command lines of tr, uniq,
// wc, base64, tac, head and tail through a real halfclosed, over its TCP
// command port (the input in writes of random sizes) and over gRPC with
// the CLI, against GNU coreutils 9.1 reading the same input from a pipe
// (the CLI's standard input is a pipe too: the stream is one). Where GNU
// succeeds, the TCP reply is its stdout, and the CLI's stdout, stderr and
// exit status are GNU's; where GNU fails, the TCP reply is an error line
// or a reset, and the CLI fails with no more than GNU printed
// (checkCodecTCP, checkCodecCLI). compute/builtin's TestTextDiffGenerated
// runs the same generator in process. TEXTDIFF_N cases (make test: 30;
// make fuzz: 3000), TEXTDIFF_SEED.
func TestTextDiffRandom(t *testing.T) {
	t.Parallel()
	for _, tool := range textgen.Commands {
		need(t, tool)
	}
	g, tcp := startDaemon(t)
	n := testenv.Uint(t, "TEXTDIFF_N", 30)
	seed := testenv.Uint(t, "TEXTDIFF_SEED", 20261206)
	in := filepath.Join(t.TempDir(), "in")
	diffs, gnuOK := 0, 0
	for i := range n {
		r := rand.New(rand.NewPCG(seed, i))
		argv, input := textgen.Case(r)
		if err := os.WriteFile(in, input, 0o644); err != nil {
			t.Fatal(err)
		}
		want := runPiped(t, "", in, argv...)
		c := codecCase{argv: argv, in: input, header: lineWords(argv)}
		ok := want.code == 0
		if ok {
			gnuOK++
		}
		var errs []string
		if msg := checkCodecTCP(t, r, tcp, c, want, ok); msg != "" {
			errs = append(errs, "tcp: "+msg)
		}
		got := runPiped(t, "", in, append([]string{bin(t, "halfclose"), "--addr", g}, argv...)...)
		if msg := checkCodecCLI(t, c, got, want, ok); msg != "" {
			errs = append(errs, "cli: "+msg)
		}
		if len(errs) > 0 {
			diffs++
			if diffs <= 10 {
				t.Errorf("case %d (TEXTDIFF_SEED=%d) %s < %d bytes %.80q (GNU exit %d, stderr %q):\n%s", i, seed, shquote.Join(argv), len(input), input, want.code, want.stderr, strings.Join(errs, "\n"))
			}
		}
	}
	t.Logf("%d cases (TEXTDIFF_SEED=%d): GNU succeeded in %d, failed in %d; %d differ", n, seed, gnuOK, int(n)-gnuOK, diffs)
	if diffs > 0 {
		t.Errorf("%d of %d cases differ from GNU (TEXTDIFF_SEED=%d)", diffs, n, seed)
	}
}

// lineWords is argv as pipeline text of one line, as the CLI sends it: a
// word with a newline, another control byte or a byte over 0x7e in
// bash's $'...' with \xHH escapes, any other shquote.Quote'd.
func lineWords(argv []string) string {
	words := make([]string, len(argv))
	for i, w := range argv {
		if !strings.ContainsFunc(w, func(r rune) bool { return r < ' ' || r > '~' }) {
			words[i] = shquote.Quote(w)
			continue
		}
		var b strings.Builder
		b.WriteString("$'")
		for _, c := range []byte(w) {
			switch {
			case c == '\\' || c == '\'':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c < ' ' || c > '~':
				fmt.Fprintf(&b, "\\x%02x", c)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('\'')
		words[i] = b.String()
	}
	return strings.Join(words, " ")
}
