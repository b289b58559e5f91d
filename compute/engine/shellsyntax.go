package engine

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/halfclose/halfclose/compute"
)

// The errors for shell syntax in pipeline text name the whole of what sh
// would have read (an operator of several characters, a redirection with
// its file descriptor and target, an expansion to its end, an assignment
// or keyword where a command starts) and what it is, so that a user sees
// which part of the text to quote or drop: "2>&1", not ">"; "x=1", not
// an unknown command.

// maxSyntaxName bounds the text an error names.
const maxSyntaxName = 40

// syntaxName quotes s for an error, cut to maxSyntaxName bytes (on a
// character boundary) with "..." after it when longer.
func syntaxName(s string) string {
	if len(s) > maxSyntaxName {
		n := maxSyntaxName
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "..."
	}
	return strconv.Quote(s)
}

// shellOps are sh's (and bash's) operators that start with ; & | < > ( ),
// longest first, with what each is and whether it redirects (and so
// takes a file descriptor before it and a target after it).
var shellOps = []struct {
	op, what string
	redir    bool
}{
	{"&>>", "a redirection", true}, {"&>", "a redirection", true},
	{"<<<", "a here-string", true}, {"<<-", "a here-document", true}, {"<<", "a here-document", true},
	{"<&", "a redirection", true}, {"<>", "a redirection", true}, {"<", "a redirection", true},
	{">>", "a redirection", true}, {">&", "a redirection", true}, {">|", "a redirection", true}, {">", "a redirection", true},
	{"&&", "an AND list", false}, {"||", "an OR list", false}, {"|&", "a pipe of standard error", false},
	{";", "a command list", false}, {"&", "a background job", false},
	{"(", "a subshell", false}, {")", "a subshell", false},
}

// wordEnd returns the length of the word at the start of s, as far as an
// error needs it: up to an unquoted blank or operator character.
func wordEnd(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\r', '\n', '|', ';', '&', '<', '>', '(', ')':
			return i
		case '\'', '"':
			if j := strings.IndexByte(s[i+1:], s[i]); j >= 0 {
				i += j + 1
			}
		case '\\':
			i++
		}
	}
	return len(s)
}

// shellSyntax is the error for the unquoted operator or expansion at
// text[i]. A redirection is named with the digits of a file descriptor
// right before it (unquoted, the current word: word, from wordStart) and
// its target: "2>&1", "> out", "<<EOF".
func shellSyntax(text string, i int, inWord bool, wordStart int, word string) error {
	rest := text[i:]
	if rest[0] == '$' || rest[0] == '`' {
		name, what := expansion(rest)
		return compute.Invalidf("pipeline: unsupported shell syntax %s, %s (there is no shell)", name, what)
	}
	if strings.HasPrefix(rest, "<(") || strings.HasPrefix(rest, ">(") {
		name := rest
		if j := strings.IndexByte(rest, ')'); j >= 0 {
			name = rest[:j+1]
		}
		return compute.Invalidf("pipeline: unsupported shell syntax %s, a process substitution (there is no shell)", syntaxName(name))
	}
	for _, o := range shellOps {
		if !strings.HasPrefix(rest, o.op) {
			continue
		}
		if o.redir {
			start := i
			if inWord && text[wordStart:i] == word && strings.Trim(word, "0123456789") == "" {
				start = wordStart // an IO number: 2>
			}
			end := i + len(o.op)
			for end < len(text) && (text[end] == ' ' || text[end] == '\t') {
				end++
			}
			end += wordEnd(text[end:])
			name := strings.TrimRight(text[start:end], " \t")
			return compute.Invalidf("pipeline: unsupported shell syntax %s, %s (there is no shell: the input is the stream, the output the reply, and no file is opened)", syntaxName(name), o.what)
		}
		return compute.Invalidf("pipeline: unsupported shell syntax %s, %s (there is no shell)", syntaxName(o.op), o.what)
	}
	return compute.Invalidf("pipeline: unsupported shell syntax %s (there is no shell)", syntaxName(rest[:1]))
}

// expansion names the expansion sh would make of s, which starts with a
// '$' or '`' (not "$'", which SplitPipeline reads), and says what it is.
func expansion(s string) (name, what string) {
	through := func(closer string, from int) string { // s up to closer, or all of it
		if j := strings.Index(s[from:], closer); j >= 0 {
			return s[:from+j+len(closer)]
		}
		return s
	}
	if s[0] == '`' {
		return syntaxName(through("`", 1)), "a command substitution"
	}
	switch {
	case strings.HasPrefix(s, "$(("):
		return syntaxName(through("))", 3)), "an arithmetic expansion"
	case strings.HasPrefix(s, "$("):
		return syntaxName(through(")", 2)), "a command substitution"
	case strings.HasPrefix(s, "${"):
		return syntaxName(through("}", 2)), "a parameter expansion"
	case strings.HasPrefix(s, `$"`):
		return syntaxName(through(`"`, 2)), "a translated string"
	}
	if len(s) < 2 {
		return syntaxName(s), "an expansion"
	}
	switch c := s[1]; {
	case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		n := 2
		for n < len(s) && (s[n] == '_' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || s[n] >= '0' && s[n] <= '9') {
			n++
		}
		return syntaxName(s[:n]), "a parameter expansion"
	case c >= '0' && c <= '9' || strings.IndexByte("?!#@*-$", c) >= 0:
		return syntaxName(s[:2]), "a special parameter"
	}
	_, n := utf8.DecodeRuneInString(s[1:])
	return syntaxName(s[:1+n]), `a "$" that sh may read as an expansion`
}

// shellKeywords are the words sh (and bash) reads as syntax where a
// command starts, when unquoted.
var shellKeywords = map[string]bool{
	"!": true, "{": true, "}": true, "if": true, "then": true, "else": true, "elif": true, "fi": true,
	"do": true, "done": true, "case": true, "esac": true, "while": true, "until": true, "for": true,
	"in": true, "time": true, "[[": true, "]]": true, "function": true, "select": true, "coproc": true,
}

// commandWord checks the first word of a stage, word, as written in the
// text (raw): a variable assignment (NAME=, unquoted) or an unquoted
// keyword there is shell syntax, not a command name. bash removes a
// \<newline> before it reads a word (x\<newline>=1 is x=1, ti\<newline>me
// is time). time is a keyword only where a pipeline starts (firstStage):
// after a "|" bash runs a command time.
func commandWord(raw, word string, firstStage bool) error {
	raw = strings.ReplaceAll(raw, "\\\n", "")
	if assignmentName(raw) > 0 {
		return compute.Invalidf("pipeline: unsupported shell syntax %s, a variable assignment (there is no shell: a command has no environment to set)", syntaxName(word))
	}
	if raw == word && shellKeywords[word] && (firstStage || word != "time") {
		return compute.Invalidf("pipeline: unsupported shell syntax %s, a shell keyword (there is no shell)", syntaxName(word))
	}
	return nil
}

// assignmentName returns the length of what comes before the "=" in a
// word that bash reads as an assignment, or 0: a name (a letter or '_',
// then letters, digits and '_'), optionally an array subscript in
// brackets, then "=" or "+=" (x=1, x+=1, x[0]=1, x[i]+=1).
func assignmentName(raw string) int {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		case c == '=' && i > 0:
			return i
		case c == '+' && i > 0 && strings.HasPrefix(raw[i:], "+="):
			return i
		case c == '[' && i > 0:
			j := subscriptEnd(raw, i)
			if j < 0 {
				return 0
			}
			if strings.HasPrefix(raw[j:], "=") || strings.HasPrefix(raw[j:], "+=") {
				return j
			}
			return 0
		default:
			return 0
		}
	}
	return 0
}

// subscriptEnd returns the index just after the "]" that closes the "["
// at raw[i] (brackets nest, as in bash), or -1.
func subscriptEnd(raw string, i int) int {
	depth := 0
	for ; i < len(raw); i++ {
		switch raw[i] {
		case '[':
			depth++
		case ']':
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// IsCommandSyntax reports whether word, written unquoted where a stage
// starts, is shell syntax that SplitPipeline refuses there (a variable
// assignment or a keyword): a client quoting words for pipeline text
// must quote such a first word.
func IsCommandSyntax(word string) bool {
	return assignmentName(word) > 0 || shellKeywords[word]
}
