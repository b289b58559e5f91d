package engine_test

import (
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
)

func TestSplitPipeline(t *testing.T) {
	tests := []struct {
		in   string
		want [][]string
	}{
		{"sha256sum", [][]string{{"sha256sum"}}},
		{"  grep  -v DEBUG |sort|uniq -c ", [][]string{{"grep", "-v", "DEBUG"}, {"sort"}, {"uniq", "-c"}}},
		{`cut -d" " -f3`, [][]string{{"cut", "-d ", "-f3"}}},
		{`grep 'a|b' | wc -l`, [][]string{{"grep", "a|b"}, {"wc", "-l"}}},
		{`grep "a\"b\\c\d"`, [][]string{{"grep", `a"b\c\d`}}},
		{`grep a\ b\|c`, [][]string{{"grep", "a b|c"}}},
		{`grep ''`, [][]string{{"grep", ""}}},
		{"grep a\\\nb", [][]string{{"grep", "ab"}}},
		{"\n grep a |\n\n sort\n\n", [][]string{{"grep", "a"}, {"sort"}}},
		{"grep 'a\nb' \"c\nd\" $'e\\nf'\r\n", [][]string{{"grep", "a\nb", "c\nd", "e\nf"}}},
		{`tr '[:upper:]' [:lower:]`, [][]string{{"tr", "[:upper:]", "[:lower:]"}}},
		{`grep a#b`, [][]string{{"grep", "a#b"}}},
		{`grep '$x;'`, [][]string{{"grep", "$x;"}}},
		// A '$' ending a word is literal in every sh.
		{`grep ^$|grep -c "a$" "$"x "a$ b"`, [][]string{{"grep", "^$"}, {"grep", "-c", "a$", "$x", "a$ b"}}},
		{"grep $ x$\t\"$\"$\r\n", [][]string{{"grep", "$", "x$", "$$"}}},
		// Shell syntax quoted, or where sh reads none, is a word: an
		// assignment only starts a command, a keyword only unquoted.
		{`grep 'a;b' "a&&b" a\>b | tr '*' x`, [][]string{{"grep", "a;b", "a&&b", "a>b"}, {"tr", "*", "x"}}},
		{`grep x=1 -e=y | sort`, [][]string{{"grep", "x=1", "-e=y"}, {"sort"}}},
		{`'x'=1 grep | "y=2" | \z=3 | =x | 1x=2`, [][]string{{"x=1", "grep"}, {"y=2"}, {"z=3"}, {"=x"}, {"1x=2"}}},
		{`'!' a | \if | "time" | grep if ! time`, [][]string{{"!", "a"}, {"if"}, {"time"}, {"grep", "if", "!", "time"}}},
		// Not an assignment in bash: quoted, escaped, no name, or not
		// followed by = or +=. time is a keyword only where a pipeline
		// starts: after a "|" bash runs a command "time".
		{`x''=1 | x\+=1 | x++=1 | +=1 | x[0]x=1 | x-y=1 | x]=1`, [][]string{{"x=1"}, {"x+=1"}, {"x++=1"}, {"+=1"}, {"x[0]x=1"}, {"x-y=1"}, {"x]=1"}}},
		{"grep a | time sort |\n time -p wc", [][]string{{"grep", "a"}, {"time", "sort"}, {"time", "-p", "wc"}}},
	}
	for _, tc := range tests {
		got, err := engine.SplitPipeline(tc.in)
		if err != nil {
			t.Errorf("SplitPipeline(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitPipeline(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSplitPipelineErrors(t *testing.T) {
	const noFile = " (there is no shell: the input is the stream, the output the reply, and no file is opened)"
	tests := []struct{ in, want string }{
		{"", "pipeline: empty"},
		{"   ", "pipeline: empty"},
		{"| sort", `pipeline: missing command before "|"`},
		{"sort |", `pipeline: missing command after "|"`},
		{"sort | | wc", `pipeline: missing command after "|"`},
		{"sort || wc", `pipeline: unsupported shell syntax "||", an OR list (there is no shell)`},
		{"grep 'abc", "pipeline: unterminated single quote"},
		{`grep "abc`, "pipeline: unterminated double quote"},
		{`grep abc\`, "pipeline: backslash at end of text"},
		{"sort > /etc/passwd", `pipeline: unsupported shell syntax "> /etc/passwd", a redirection` + noFile},
		{"sort < /etc/passwd", `pipeline: unsupported shell syntax "< /etc/passwd", a redirection` + noFile},
		{"sort; rm -rf /", `pipeline: unsupported shell syntax ";", a command list (there is no shell)`},
		{"sort && wc", `pipeline: unsupported shell syntax "&&", an AND list (there is no shell)`},
		{"grep $HOME", `pipeline: unsupported shell syntax "$HOME", a parameter expansion (there is no shell)`},
		{"grep `id`", "pipeline: unsupported shell syntax \"`id`\", a command substitution (there is no shell)"},
		{`grep "$HOME"`, `pipeline: unsupported shell syntax "$HOME" inside double quotes, a parameter expansion (there is no shell; use single quotes)`},
		{`grep "$."`, `pipeline: unsupported shell syntax "$." inside double quotes, a "$" that sh may read as an expansion (there is no shell; use single quotes)`},
		{`grep $.`, `pipeline: unsupported shell syntax "$.", a "$" that sh may read as an expansion (there is no shell)`},
		{"(sort)", `pipeline: unsupported shell syntax "(", a subshell (there is no shell)`},
		// The whole of what sh would read is named: an operator of
		// several characters, a redirection with its descriptor and
		// target, an expansion to its end, an assignment or keyword
		// where a command starts (it was ">" for 2>&1, "&" for |&, and
		// unknown command "x=1").
		{"grep a 2>&1", `pipeline: unsupported shell syntax "2>&1", a redirection` + noFile},
		{"grep a 2>/dev/null | wc", `pipeline: unsupported shell syntax "2>/dev/null", a redirection` + noFile},
		{"grep a2>f", `pipeline: unsupported shell syntax ">f", a redirection` + noFile},
		{"grep a '2'>f", `pipeline: unsupported shell syntax ">f", a redirection` + noFile},
		{"grep a >> 'my log'", `pipeline: unsupported shell syntax ">> 'my log'", a redirection` + noFile},
		{"grep a &> f", `pipeline: unsupported shell syntax "&> f", a redirection` + noFile},
		{"grep a >|f", `pipeline: unsupported shell syntax ">|f", a redirection` + noFile},
		{"grep a <<EOF", `pipeline: unsupported shell syntax "<<EOF", a here-document` + noFile},
		{"grep a <<-EOF", `pipeline: unsupported shell syntax "<<-EOF", a here-document` + noFile},
		{"grep a <<< abc", `pipeline: unsupported shell syntax "<<< abc", a here-string` + noFile},
		{"sort |& wc", `pipeline: unsupported shell syntax "|&", a pipe of standard error (there is no shell)`},
		{"sort &", `pipeline: unsupported shell syntax "&", a background job (there is no shell)`},
		{"grep $(id)", `pipeline: unsupported shell syntax "$(id)", a command substitution (there is no shell)`},
		{"grep $((1+2))", `pipeline: unsupported shell syntax "$((1+2))", an arithmetic expansion (there is no shell)`},
		{"grep ${HOME}x", `pipeline: unsupported shell syntax "${HOME}", a parameter expansion (there is no shell)`},
		{"grep $1 $?", `pipeline: unsupported shell syntax "$1", a special parameter (there is no shell)`},
		{`grep "a$(id)"`, `pipeline: unsupported shell syntax "$(id)" inside double quotes, a command substitution (there is no shell; use single quotes)`},
		{"grep $(" + strings.Repeat("x", 50) + ")", `pipeline: unsupported shell syntax "$(` + strings.Repeat("x", 38) + `...", a command substitution (there is no shell)`},
		{"x=1 grep a", `pipeline: unsupported shell syntax "x=1", a variable assignment (there is no shell: a command has no environment to set)`},
		{"grep a | LC_ALL='C' sort", `pipeline: unsupported shell syntax "LC_ALL=C", a variable assignment (there is no shell: a command has no environment to set)`},
		{"_x9= sort", `pipeline: unsupported shell syntax "_x9=", a variable assignment (there is no shell: a command has no environment to set)`},
		{"! grep a", `pipeline: unsupported shell syntax "!", a shell keyword (there is no shell)`},
		{"time grep a", `pipeline: unsupported shell syntax "time", a shell keyword (there is no shell)`},
		{"grep a | if", `pipeline: unsupported shell syntax "if", a shell keyword (there is no shell)`},
		// bash's other assignments (+=, an array element) and a keyword
		// or assignment joined by \<newline>, which bash removes first.
		{"x+=1 grep a", `pipeline: unsupported shell syntax "x+=1", a variable assignment (there is no shell: a command has no environment to set)`},
		{"grep a | x[0]=1 sort", `pipeline: unsupported shell syntax "x[0]=1", a variable assignment (there is no shell: a command has no environment to set)`},
		{"A_[i]+= sort", `pipeline: unsupported shell syntax "A_[i]+=", a variable assignment (there is no shell: a command has no environment to set)`},
		{"x\\\n=1 grep a", `pipeline: unsupported shell syntax "x=1", a variable assignment (there is no shell: a command has no environment to set)`},
		{"ti\\\nme grep a", `pipeline: unsupported shell syntax "time", a shell keyword (there is no shell)`},
		{"grep a | i\\\nf", `pipeline: unsupported shell syntax "if", a shell keyword (there is no shell)`},
		// <( and >( are process substitutions, not redirections.
		{"grep -f <(id) a", `pipeline: unsupported shell syntax "<(id)", a process substitution (there is no shell)`},
		{"grep a >(wc)", `pipeline: unsupported shell syntax ">(wc)", a process substitution (there is no shell)`},
		{"tr a\nb", `pipeline: unsupported shell syntax: a newline after "a" ends a command in sh (there is no shell; join stages with "|")`},
		{"grep a\n| sort", `pipeline: unsupported shell syntax: a newline after "a" ends a command in sh (there is no shell; join stages with "|")`},
		{"sort\n\nwc", `pipeline: unsupported shell syntax: a newline after "sort" ends a command in sh (there is no shell; join stages with "|")`},
		// The word is cut as every shell-syntax error cuts what it names.
		{"grep " + strings.Repeat("é", 30) + "\nwc", `pipeline: unsupported shell syntax: a newline after "` + strings.Repeat("é", 20) + `..." ends a command in sh (there is no shell; join stages with "|")`},
		{"sort # comment", `pipeline: unsupported shell syntax "#", a comment (there is no shell; quote it)`},
		{"tr a\x00 x", "pipeline: a NUL byte at offset 4, which an argument cannot hold"},
		{"grep -c 'a\x00b'", "pipeline: a NUL byte at offset 10, which an argument cannot hold"},
	}
	for _, tc := range tests {
		_, err := engine.SplitPipeline(tc.in)
		if err == nil {
			t.Errorf("SplitPipeline(%q): no error, want %q", tc.in, tc.want)
			continue
		}
		if compute.CodeOf(err) != compute.CodeInvalid || err.Error() != tc.want {
			t.Errorf("SplitPipeline(%q) = %v (code %v), want %q", tc.in, err, compute.CodeOf(err), tc.want)
		}
	}
}

// TestSplitPipelineDollarQuote: $'...' (POSIX.1-2024) gives the bytes bash
// gives, so a pattern or set that is not UTF-8, or holds a newline, can be
// written in text a gRPC string and a one-line TCP header carry
// (halfclose grep $'\xff' failed with INTERNAL: gRPC refused the string).
func TestSplitPipelineDollarQuote(t *testing.T) {
	bash := testenv.Tool(t, "bash")
	for _, body := range []string{
		`a\nb`, `\x41\101\cA\c?\c\\\e`, `it\'s`, `\xfg`, `\x4142`, `\1234`, `\18`, `\"\\`, `\a\b\f\v\t\r`,
		`\cz\c[\c_`, `\x7`, "\xc3\xa9\xff", `\xFF\xfE`, `\377`, `a b|c`, `$x"y`, ``, `\cZ\c^`,
	} {
		text := "grep $'" + body + "'"
		want, err := exec.Command(bash, "-c", "printf %s "+text[len("grep "):]).Output()
		if err != nil {
			t.Fatalf("bash %s: %v", text, err)
		}
		got, err := engine.SplitPipeline(text + "x|wc")
		if err != nil {
			t.Errorf("SplitPipeline(%q): %v", text, err)
			continue
		}
		if w := [][]string{{"grep", string(want) + "x"}, {"wc"}}; !reflect.DeepEqual(got, w) {
			t.Errorf("SplitPipeline(%q) = %q, bash gives %q", text, got, w)
		}
	}
	// What POSIX leaves unspecified, and a NUL, are errors.
	for _, tc := range []struct{ in, want string }{
		{`grep $'\q'`, `unknown $'...' escape "\\q"`},
		{`grep $'\x'`, `escape \x without a hexadecimal digit`},
		{`grep $'\0'`, `gives a NUL byte`},
		{`grep $'a\x00'`, `gives a NUL byte`},
		{`grep $'\c@'`, `gives a NUL byte`},
		{`grep $'\777'`, `is over \377`},
		{`grep $'\c1'`, `has no control character`},
		{`grep $'abc`, `unterminated $'...' quote`},
		{`grep $'\'`, `unterminated $'...' quote`},
		{`grep $x`, `unsupported shell syntax "$x"`},
		{`grep "$'x'"`, `unsupported shell syntax "$'" inside double quotes`},
	} {
		_, err := engine.SplitPipeline(tc.in)
		if err == nil || compute.CodeOf(err) != compute.CodeInvalid || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SplitPipeline(%q) = %v, want an invalid-argument error with %q", tc.in, err, tc.want)
		}
	}
}

func TestCompileUnknownCommand(t *testing.T) {
	_, err := engine.Compile(builtin.Registry(), nil, "frobnicate -x | sort")
	if err == nil || err.Error() != `unknown command "frobnicate"` || compute.CodeOf(err) != compute.CodeInvalid {
		t.Fatalf("Compile: %v", err)
	}
}

func FuzzSplitPipeline(f *testing.F) {
	for _, s := range []string{"grep -v DEBUG | sort", `cut -d" " -f3`, `tr 'a-z' "A-Z"`, `a\ b|c`, "x '", `grep $'\xff\n\cA\101'`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		stages, err := engine.SplitPipeline(s)
		if err != nil {
			if compute.CodeOf(err) != compute.CodeInvalid {
				t.Fatalf("error without CodeInvalid: %v", err)
			}
			return
		}
		if len(stages) == 0 || len(stages) > engine.MaxPipelineStages {
			t.Fatalf("bad stage count %d", len(stages))
		}
		for _, st := range stages {
			if len(st) == 0 {
				t.Fatalf("empty stage in %q", stages)
			}
		}
	})
}

// TestSplitPipelineStageBound: MaxPipelineStages stages split, one more
// is INVALID_ARGUMENT.
func TestSplitPipelineStageBound(t *testing.T) {
	text := "cat" + strings.Repeat(" | cat", engine.MaxPipelineStages-1)
	if stages, err := engine.SplitPipeline(text); err != nil || len(stages) != engine.MaxPipelineStages {
		t.Fatalf("%d stages: %d, %v", engine.MaxPipelineStages, len(stages), err)
	}
	if _, err := engine.SplitPipeline(text + " | cat"); compute.CodeOf(err) != compute.CodeInvalid {
		t.Fatalf("%d stages: err = %v, want INVALID_ARGUMENT", engine.MaxPipelineStages+1, err)
	}
}
