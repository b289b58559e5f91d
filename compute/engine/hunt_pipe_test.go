package engine_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
)

// This file holds hand-written acceptance cases for the pipeline language,
// with bash (LC_ALL=C) as the oracle: the words a text gives each stage.

// TestHuntPipeBashQuoting: a word quoted by bash's own quoting (printf %q
// and ${x@Q}, which a script building pipeline text uses) splits back to
// that word. bash writes ESC as $'\E', which was refused as an unknown
// escape (POSIX names only \e), so text quoted by bash failed.
func TestHuntPipeBashQuoting(t *testing.T) {
	bash := testenv.Tool(t, "bash")
	var words []string
	for b := 1; b < 256; b++ {
		words = append(words, string([]byte{byte(b)}), "a"+string([]byte{byte(b)})+"b")
	}
	words = append(words, "", " ", "it's", `a"b`, `\`, `$x`, "$'x'", "#a", "a#", "~", "a|b", "\x1b[0m",
		"\xc3\xa9\x1b\xff", "\t\n\r", "-", "--x", "`id`", "$(id)", "!", "{a,b}", "*", "[a]")
	script := `for w in "$@"; do printf '%q\0' "$w"; printf '%s\0' "${w@Q}"; done`
	cmd := exec.Command(bash, append([]string{"-c", script, "_"}, words...)...)
	cmd.Env = []string{"LC_ALL=C", "PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash: %v", err)
	}
	quoted := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(quoted) != 2*len(words) {
		t.Fatalf("bash gave %d quoted words for %d words", len(quoted), len(words))
	}
	for i, q := range quoted {
		w := words[i/2]
		if q == "" { // printf %q of an empty word
			q = "''"
		}
		got, err := engine.SplitPipeline("grep -e " + q + " | wc")
		if want := [][]string{{"grep", "-e", w}, {"wc"}}; err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("SplitPipeline(%q) = %q, %v; bash quoted the word %q", "grep -e "+q+" | wc", got, err, w)
		}
	}
}

// bashWords returns the words bash gives each stage of text, as
// SplitPipeline returns them, or ok false when bash fails or writes on
// stderr. Every stage runs the command w, a script that copies its input
// and then prints its words (each after a W and before a NUL, then E and
// a NUL), so that the stages' words come out in order.
func bashWords(t *testing.T, bash, dir, text string) (stages [][]string, ok bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testenv.Timeout(t))
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "-c", text)
	cmd.Dir = t.TempDir() // empty: a glob matches nothing
	cmd.Env = []string{"LC_ALL=C", "PATH=" + dir, "HOME=/nonexistent"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		return nil, false
	}
	var words []string
	for _, tok := range strings.Split(stdout.String(), "\x00") {
		switch {
		case strings.HasPrefix(tok, "W"):
			words = append(words, tok[1:])
		case tok == "E":
			stages, words = append(stages, words), nil
		}
	}
	return stages, true
}

// wordsScript writes the command w of bashWords into a new directory.
func wordsScript(t *testing.T) string {
	dir := t.TempDir()
	cat := testenv.Tool(t, "cat")
	script := "#!/bin/sh\n" + cat + "\nprintf 'W%s\\0' w \"$@\"\nprintf 'E\\0'\n"
	if err := os.WriteFile(filepath.Join(dir, "w"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestHuntPipeWordsAsBash: text that SplitPipeline accepts gives each
// stage the words bash gives it; text that uses a shell feature is an
// error, never a different meaning. (Not here, as documented: a leading
// ~, which sh expands to $HOME and halfclose keeps, having no home;
// bash's brace expansion, which POSIX sh has not; a carriage return,
// a blank here for CRLF clients.)
func TestHuntPipeWordsAsBash(t *testing.T) {
	bash := testenv.Tool(t, "bash")
	dir := wordsScript(t)
	texts := []string{
		// Quotes, alone and side by side, and empty words.
		`w 'a b' "c d" e\ f`, `w 'a'"b"c`, `w '' "" x`, `w ""''""`, `w a''b a""b`, `'w' x`, `w''  x`, `\w x`,
		`w \' "\'" '\' "\\" "\a\b\c" \a\b "\"" "\$x" "\` + "`" + `" "a'b" 'a"b'`,
		`w 'it'\''s' 'it'"'"'s' "it's"`, `w \\ \\\\ '\\' "\\\\" \"`, "w \"a\tb\" a\tb 'a\tb'",
		`w "\n" '\n' $'\n' "\\'"`, `w \é é 'é' "é" $'é'`, `w a\ \ b ' '' ' \ `,
		// $: literal where it ends a word, $'...' escapes.
		`w ^$ "^$" 'a$' a$ "$" $ "a$ b" "x"$ '$'$ "$"'x'`, `w $'' a$''b $'a'$'b' $'\x41'"b"'c' $'\''`,
		`w $'\"' $'"' $'\\' $'a\tb' $'\e' $'\101\102' $'\0101' $'\x411' $'\c[' $'\ca\cA' $'\c?' $'\c\\'`,
		`w $'$x' $'` + "`x`" + `' '$'"'"'x'"'" $'\x7f\x80\xff' $'\377\200' $'\x1' $'\a\b\e\E\f\n\r\t\v'`,
		`w $'\\x41' $'\cZ\cz\c_' \$'x' $'\E'x`,
		// | quoted, escaped, unspaced; # inside a word.
		`w 'a|b'|w "a|b"|w a\|b`, `w a \| b`, `w a|w -l|w`, `w '|' \||w '||' "||" x\|\|`,
		`w a#b ''#b \#b "#"b a#`, "w a\\\n#x",
		// Other characters that are not syntax in a word.
		`w a* '*' [abc] a?b {} a{b a} { } '{' [!a] [^a] \*`, `w % @ = a=b a,b : +x - -- -e-x \-x`,
		`w \; ';' \& \<\> \(\) '()' "<>" "` + "\\`" + `" '` + "`" + `' \` + "`",
		// Newlines: joined by \, blank where sh reads on, inside quotes kept.
		"w \\\nx", "w 'a\nb' \"a\nb\" $'a\nb'", "w x |\nw", "w x \\\n| w", "\nw x\n", "w \"a\\\nb\" 'a\\\nb' a\\\nb",
		"w x\n\n", "w x  \n  \n ", "w x \\\n\n", "\\\nw x", "  \\\n  w x", "w x|\\\n\\\n w", "w x |\n\n\n  w\n",
		"w \"a$\n\"", "w\tx\t\t|\t\tw", "\t w x", "w a\fb a\vb",
		// Features and what sh reads otherwise: SplitPipeline must refuse.
		`w $$`, `w "$$"`, `w $a`, `w ${a}`, `w "${a}"`, `w $(w)`, "w `w`", `w x || w`, `w x |& w`, `w x && w`,
		`w x; w`, `w x & w`, `w > f`, `w < f`, `(w)`, `w #c`, "w x\t#c", "w x\n#c", "w \\\n#x", `w $\` + "\nx",
		`w "$\` + "\nx\"", "w $\nx", `w "$'"`, `w $- $? $! $# $@ $* $0 $1 $_`, `w $/ $: $.`, `w a$b`,
		`w $"x"`, "w x\n\\\n", `w \`, `w x|`, `| w`, `w x | | w`, `w 'a`, `w "a`, `w $'a`, `w x\` + "\n| w",
		// An assignment or keyword where a command starts, and as an argument.
		`x=1 w`, `w x | A_9='y z' w`, `_=1 w`, `w x=1 'y'=2 =z | w a=b`, `! w x`, `time w x`, `w | ! w`,
		`w '!' '{' if time \! \{`,
		`w x+=1 x[0]=1 y+= 'z'=1 if time`, `w a | w time if ! { }`, "w x\\\n=1 ti\\\nme", `w -t= -k2 = x= | w -e if -e time`,
		`w -d= -f1 | w =x 1x=2 _=1 x\=1 "x"=1`, `w a |  w x=1|w time`, `w {x} !x x! ]]`, `w in do done | w`,
		`w a+=b+=c | w 'time' "if" \! x[=1`, `w a=b=c a[b]c=d`,
		`x+=1 w`, `x+= w`, `x[0]=1 w`, `w | A[i]+=1 w`, "x\\\n=1 w", "ti\\\nme w", `w <(w)`, `w >(w)`,
		`w "$'x'"`, `w $'\u00e9'`, `w $'\?'`, `w $'\8'`, `w $'\xg'`, `w $'\c'`, `w $'\0'`,
	}
	n := 0
	for _, text := range texts {
		got, err := engine.SplitPipeline(text)
		want, ok := bashWords(t, bash, dir, text)
		if err != nil {
			if compute.CodeOf(err) != compute.CodeInvalid {
				t.Errorf("SplitPipeline(%q): %v, not an invalid argument", text, err)
			}
			continue
		}
		n++
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("SplitPipeline(%q) = %q; bash gives %q (ok %v)", text, got, want, ok)
		}
	}
	if n < len(texts)/2 {
		t.Errorf("only %d of %d texts split", n, len(texts))
	}
}
