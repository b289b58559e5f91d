package engine_test

import (
	"bytes"
	"math/rand/v2"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
)

// TestSplitPipelineBashGenerated holds SplitPipeline's words to bash's on
// generated pipeline text: words made of pieces of every quoting the
// pipeline language shares with sh (backslashes outside quotes, single
// quotes, double quotes and their escapes, $'...' with each escape it
// takes, a '$' ending a word, '#' and glob characters inside a word,
// newlines inside quotes, \<newline> joins), between blanks, stages
// joined by "|" with newlines after it. Every piece is one bash reads the
// same way and halfclose takes, so every text must split, and to bash's
// words (printf '%s\0' WORDS in a bash script for each stage, LC_ALL=C, in an
// empty directory: no glob matches). Brace expansion ({a,b}), which
// halfclose does not do (docs/protocol.md), and a carriage return, a
// blank to halfclose, are never drawn. TestSplitPipeline and
// TestSplitPipelineDollarQuote check chosen texts; this one their
// combinations (a piece of one kind beside another, a quote closing
// where the next opens, an escape ending a $'...' next to a backslash).
//
// SPLITDIFF_N sets the number of pipelines (make test: 300, make fuzz
// 30000; each run one bash process), SPLITDIFF_SEED the seed.
func TestSplitPipelineBashGenerated(t *testing.T) {
	t.Parallel()
	bash := testenv.Tool(t, "bash")
	n := int(testenv.Uint(t, "SPLITDIFF_N", 300))
	seed := testenv.Uint(t, "SPLITDIFF_SEED", 20261206)
	r := rand.New(rand.NewPCG(seed, seed^0x243f6a8885a308d3))
	type pipe struct {
		text   string
		stages []string // each stage's text, for bash
	}
	pipes := make([]pipe, n)
	var script strings.Builder
	for i := range pipes {
		p := &pipes[i]
		for s := range 1 + r.IntN(3) {
			st := splitStage(r)
			p.stages = append(p.stages, st)
			if s > 0 {
				p.text += splitPick(r, "|", " | ", "\t|", "|\n", " |\n\n  ")
			}
			p.text += st
		}
		p.text = splitPick(r, "", "", " ", "\n ", "\t") + p.text + splitPick(r, "", "", " ", "\n", " \n\n")
		for _, st := range p.stages {
			// @ is in no piece: the marker cannot be a word of a stage
			script.WriteString("printf '%s\\0' " + st + "\nprintf '@@\\0'\n")
		}
	}
	cmd := exec.Command(bash, "-s") // the script on stdin: no argv limit (make fuzz)
	cmd.Stdin = strings.NewReader(script.String())
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
	cmd.Dir = t.TempDir()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash: %v", err)
	}
	// bash's words: a stage's words, then the marker, for every stage
	var want [][]string
	var words []string
	for _, w := range bytes.Split(bytes.TrimSuffix(out, []byte{0}), []byte{0}) {
		if string(w) == "@@" {
			want = append(want, words)
			words = nil
			continue
		}
		words = append(words, string(w))
	}
	diffs := 0
	for _, p := range pipes {
		w := want[:len(p.stages)]
		want = want[len(p.stages):]
		got, err := engine.SplitPipeline(p.text)
		switch {
		case err != nil:
			t.Errorf("SplitPipeline(%q): %v; bash's words %q", p.text, err, w)
		case !reflect.DeepEqual(got, w):
			t.Errorf("SplitPipeline(%q) = %q, bash's words %q", p.text, got, w)
		default:
			continue
		}
		if diffs++; diffs >= 20 {
			t.Fatalf("seed %d: stopping after %d differences", seed, diffs)
		}
	}
	if len(want) != 0 {
		t.Fatalf("bash printed %d stages more than were given", len(want))
	}
	t.Logf("seed %d: %d pipelines", seed, n)
}

// splitStage draws the text of one stage: one to four words between
// blanks (a \<newline> among them).
func splitStage(r *rand.Rand) string {
	var b strings.Builder
	for w := range 1 + r.IntN(4) {
		if w > 0 {
			// (a blank first: a '$' before a \<newline> is refused,
			// though sh joins the lines first and reads it as ending
			// its word when a blank follows)
			b.WriteString(splitPick(r, " ", " ", "\t", "  ", " \\\n ", "\t\\\n\t "))
		}
		word := splitWord(r)
		// The first word is a command name: in sh, NAME= there starts
		// an assignment, not a word (halfclose refuses it; bash's
		// printf here would take it as an argument).
		for w == 0 && assignmentRE.MatchString(word) {
			word = splitWord(r)
		}
		b.WriteString(word)
	}
	return b.String()
}

var assignmentRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// splitWord draws one word: one to five pieces.
func splitWord(r *rand.Rand) string {
	// A word starts with a letter: '#' there would begin an sh
	// comment, which halfclose refuses.
	var b strings.Builder
	b.WriteString(splitPick(r, "a", "grep", "x", "-e", "Z9"))
	pieces := r.IntN(5)
	for k := range pieces {
		p := splitPiece(r)
		if k == pieces-1 && r.IntN(6) == 0 {
			p += "$" // literal where it ends a word
		}
		b.WriteString(p)
	}
	return b.String()
}

// splitPiece draws one piece of a word.
func splitPiece(r *rand.Rand) string {
	switch r.IntN(6) {
	case 0: // outside quotes
		return splitPick(r, "b", "0", "-", "=", ",", ".", "/", "%", ":", "+", "^", "~", "*", "?", "[a]", "#", "!",
			`\ `, `\\`, `\a`, `\n`, `\$`, `\"`, `\'`, `\#`, `\|`, `\;`, `\&`, `\<`, `\(`, `\*`, "\\\t", "\\\n", "\xc3\xa9", "\xff", `\`+"\xc3\xa9")
	case 1: // single quotes
		return "'" + splitPick(r, "", "x y", `\`, `\\`, `$x`, `"`, "|", ";", "a\nb", "\t", "\\\n", "`", "#", "\xff") + "'"
	case 2, 3: // double quotes
		var b strings.Builder
		b.WriteByte('"')
		for range r.IntN(4) {
			b.WriteString(splitPick(r, "x", " ", "'", `\"`, `\\`, `\$`, "\\`", `\a`, `\n`, `\'`, "\\\n", "\n", "|", ";", "#", "*", "\t", "$ ", "\xc3\xa9", `\`+"\xff"))
		}
		if r.IntN(8) == 0 {
			b.WriteByte('$') // literal before the closing quote
		}
		b.WriteByte('"')
		return b.String()
	default: // $'...'
		var b strings.Builder
		b.WriteString("$'")
		for range r.IntN(4) {
			b.WriteString(splitPick(r, "x", " ", `"`, `\\`, `\'`, `\"`, `\a`, `\b`, `\e`, `\E`, `\f`, `\n`, `\r`, `\t`, `\v`,
				`\cA`, `\ca`, `\c?`, `\c[`, `\c\\`, `\c_`, `\x41`, `\xff`, `\x7`, `\x4g`, `\xFe`, `\101`, `\1`, `\18`, `\377`, `\0101`, "\n", "\xc3\xa9"))
		}
		b.WriteByte('\'')
		return b.String()
	}
}

func splitPick(r *rand.Rand, xs ...string) string { return xs[r.IntN(len(xs))] }
