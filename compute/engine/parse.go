package engine

import (
	"strings"

	"github.com/halfclose/halfclose/compute"
)

// MaxPipelineStages bounds how many stages one pipeline may have.
const MaxPipelineStages = 16

// MaxPipelineBytes bounds the text of one pipeline: 16 times what the TCP
// command port's header line may hold by default, and what a gRPC header
// may carry. It bounds what compiling a pipeline may cost before a job
// slot is taken, its patterns included.
const MaxPipelineBytes = 64 << 10

// SplitPipeline splits pipeline text into stages of words, quoted as in
// POSIX sh: single quotes keep everything literally, double quotes keep
// everything but \" \\ \$ \` and \newline, a backslash outside quotes keeps
// the next character, dollar-single-quotes ($'...', POSIX.1-2024) give
// bytes by escapes (dollarQuote), and an unquoted "|" separates stages. There is no
// shell: unquoted ; & < > ( ) $ ` and a word starting with # are errors, not
// syntax, so that a request never means something other than it says (but
// for a '$' that ends a word, literal in every sh: grep ^$, grep "a$"); so is
// an unquoted newline that would end a command in sh (one before the first
// word, after a "|" or at the end is blank, as there). A carriage return is
// a blank (a header line from a CRLF client). A NUL byte is an error.
// Glob characters have no files to match on the server and stay literal, as
// an unmatched glob does in sh.
func SplitPipeline(text string) ([][]string, error) {
	if len(text) > MaxPipelineBytes {
		return nil, compute.Exhaustedf("pipeline: %d bytes, at most %d allowed", len(text), MaxPipelineBytes)
	}
	// A NUL byte, quoted or not, would reach a command as part of an
	// argument, which no GNU tool can be given (its argv strings end at
	// one; bash drops it from a script): refused, as $'\0' is.
	if i := strings.IndexByte(text, 0); i >= 0 {
		return nil, compute.Invalidf("pipeline: a NUL byte at offset %d, which an argument cannot hold", i)
	}
	var (
		stages    [][]string
		words     []string
		cur       strings.Builder
		inWord    bool
		wordStart int // where the current word's text starts
	)
	endWord := func(end int) error {
		if !inWord {
			return nil
		}
		if len(words) == 0 {
			if err := commandWord(text[wordStart:end], cur.String(), len(stages) == 0); err != nil {
				return err
			}
		}
		words = append(words, cur.String())
		cur.Reset()
		inWord = false
		return nil
	}
	endStage := func(end int) error {
		if err := endWord(end); err != nil {
			return err
		}
		if len(words) == 0 {
			if len(stages) == 0 {
				return compute.Invalidf("pipeline: missing command before \"|\"")
			}
			return compute.Invalidf("pipeline: missing command after \"|\"")
		}
		stages = append(stages, words)
		words = nil
		return nil
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		if !inWord {
			wordStart = i
		}
		switch c {
		case ' ', '\t', '\r':
			if err := endWord(i); err != nil {
				return nil, err
			}
		case '\n':
			// In sh an unquoted newline ends a command, as ";" does:
			// refused, not joined, but where sh reads on (before the
			// first word, after a "|") or where nothing follows.
			if err := endWord(i); err != nil {
				return nil, err
			}
			if len(words) > 0 && strings.TrimLeft(text[i:], " \t\r\n") != "" {
				return nil, compute.Invalidf("pipeline: unsupported shell syntax: a newline after %s ends a command in sh (there is no shell; join stages with \"|\")", syntaxName(words[len(words)-1]))
			}
		case '|':
			if i+1 < len(text) && (text[i+1] == '|' || text[i+1] == '&') {
				return nil, shellSyntax(text, i, inWord, wordStart, cur.String())
			}
			if err := endStage(i); err != nil {
				return nil, err
			}
		case '\'':
			inWord = true
			j := strings.IndexByte(text[i+1:], '\'')
			if j < 0 {
				return nil, compute.Invalidf("pipeline: unterminated single quote")
			}
			cur.WriteString(text[i+1 : i+1+j])
			i += j + 1
		case '"':
			inWord = true
			closed := false
			for i++; i < len(text); i++ {
				d := text[i]
				if d == '"' {
					closed = true
					break
				}
				if d == '\\' && i+1 < len(text) {
					switch text[i+1] {
					case '"', '\\', '$', '`':
						cur.WriteByte(text[i+1])
						i++
						continue
					case '\n':
						i++
						continue
					}
				}
				if d == '$' && i+1 < len(text) && strings.IndexByte("\" \t\r\n", text[i+1]) >= 0 {
					cur.WriteByte(d) // "^$", "$ ": literal in every sh
					continue
				}
				if d == '$' || d == '`' {
					name, what := expansion(text[i:])
					return nil, compute.Invalidf("pipeline: unsupported shell syntax %s inside double quotes, %s (there is no shell; use single quotes)", name, what)
				}
				cur.WriteByte(d)
			}
			if !closed {
				return nil, compute.Invalidf("pipeline: unterminated double quote")
			}
		case '\\':
			if i+1 >= len(text) {
				return nil, compute.Invalidf("pipeline: backslash at end of text")
			}
			i++
			if text[i] == '\n' { // line continuation
				continue
			}
			inWord = true
			cur.WriteByte(text[i])
		case '$':
			if i+1 >= len(text) || strings.IndexByte(" \t\r\n|", text[i+1]) >= 0 {
				// A '$' ending a word is literal in every sh (grep ^$).
				inWord = true
				cur.WriteByte(c)
				continue
			}
			if text[i+1] != '\'' {
				return nil, shellSyntax(text, i, inWord, wordStart, cur.String())
			}
			inWord = true
			n, err := dollarQuote(text[i+2:], &cur)
			if err != nil {
				return nil, err
			}
			i += 1 + n
		case ';', '&', '<', '>', '(', ')', '`':
			return nil, shellSyntax(text, i, inWord, wordStart, cur.String())
		case '#':
			if !inWord {
				return nil, compute.Invalidf("pipeline: unsupported shell syntax \"#\", a comment (there is no shell; quote it)")
			}
			cur.WriteByte(c)
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if err := endWord(len(text)); err != nil {
		return nil, err
	}
	if len(words) == 0 {
		if len(stages) == 0 {
			return nil, compute.Invalidf("pipeline: empty")
		}
		return nil, compute.Invalidf("pipeline: missing command after \"|\"")
	}
	stages = append(stages, words)
	if len(stages) > MaxPipelineStages {
		return nil, compute.Invalidf("pipeline: %d stages, at most %d allowed", len(stages), MaxPipelineStages)
	}
	return stages, nil
}

// dollarQuote reads the body of a $'...' word from text (just after the
// opening quote) into cur, and returns how many bytes of text it took,
// the closing quote included. The escapes are POSIX.1-2024's: \" \' \\ \a
// \b \e \f \n \r \t \v, \cX (control-X), \xHH (one or two hex digits) and
// \ddd (one to three octal digits); and \E, ESC as \e, which POSIX leaves
// unspecified but bash's own quoting writes for ESC (printf %q, ${x@Q})
// and every shell with $'...' (bash, ksh93, zsh, mksh) reads so: text
// quoted by bash splits to the words bash gives. What else POSIX leaves
// unspecified is an error here, never a guess: another character after a
// backslash, an octal value over \377, \c before a character that has no
// control form, and a NUL byte (an argument of a GNU tool cannot hold one).
func dollarQuote(text string, cur *strings.Builder) (int, error) {
	isOct := func(c byte) bool { return c >= '0' && c <= '7' }
	hexVal := func(c byte) (byte, bool) {
		switch {
		case c >= '0' && c <= '9':
			return c - '0', true
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10, true
		case c >= 'A' && c <= 'F':
			return c - 'A' + 10, true
		}
		return 0, false
	}
	emit := func(b byte, esc string) error {
		if b == 0 {
			return compute.Invalidf("pipeline: $'...' escape %q gives a NUL byte, which an argument cannot hold", esc)
		}
		cur.WriteByte(b)
		return nil
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '\'' {
			return i + 1, nil
		}
		if c != '\\' {
			cur.WriteByte(c)
			continue
		}
		if i+1 >= len(text) {
			break
		}
		start := i
		i++
		var b byte
		switch e := text[i]; e {
		case '"', '\'', '\\':
			b = e
		case 'a':
			b = 7
		case 'b':
			b = 8
		case 'e', 'E':
			b = 27
		case 'f':
			b = 12
		case 'n':
			b = '\n'
		case 'r':
			b = '\r'
		case 't':
			b = '\t'
		case 'v':
			b = 11
		case 'c':
			if i+1 >= len(text) {
				return 0, compute.Invalidf("pipeline: unterminated $'...' quote")
			}
			i++
			x := text[i]
			switch {
			case x == '\\' && i+1 < len(text) && text[i+1] == '\\': // \c\\ is control-backslash
				i++
				b = 0x1c
			case x >= 'a' && x <= 'z':
				b = x - 'a' + 1
			case x >= '@' && x <= '_' && x != '\\':
				b = x & 0x1f
			case x == '?':
				b = 0x7f
			default:
				return 0, compute.Invalidf("pipeline: $'...' escape %q has no control character", text[start:i+1])
			}
		case 'x':
			v, n := 0, 0
			for ; n < 2 && i+1 < len(text); n++ {
				h, ok := hexVal(text[i+1])
				if !ok {
					break
				}
				v = v<<4 | int(h)
				i++
			}
			if n == 0 {
				return 0, compute.Invalidf("pipeline: $'...' escape \\x without a hexadecimal digit")
			}
			b = byte(v)
		default:
			if !isOct(e) {
				return 0, compute.Invalidf("pipeline: unknown $'...' escape %q (use \\\\ for a backslash)", text[start:i+1])
			}
			v := int(e - '0')
			for n := 1; n < 3 && i+1 < len(text) && isOct(text[i+1]); n++ {
				v = v<<3 | int(text[i+1]-'0')
				i++
			}
			if v > 0377 {
				return 0, compute.Invalidf("pipeline: $'...' escape %q is over \\377", text[start:i+1])
			}
			b = byte(v)
		}
		if err := emit(b, text[start:i+1]); err != nil {
			return 0, err
		}
	}
	return 0, compute.Invalidf("pipeline: unterminated $'...' quote")
}

// Pipeline is a parsed, checked pipeline, ready to run once.
type Pipeline struct {
	Text   string   // as given
	Names  []string // command name of each stage
	Stages []compute.Stage
}

// Compile parses text and builds every stage from the commands of r.
// Unknown commands and bad flags are *Error with CodeInvalid naming them.
func Compile(r *compute.Registry, env *compute.Env, text string) (*Pipeline, error) {
	split, err := SplitPipeline(text)
	if err != nil {
		return nil, err
	}
	if env == nil {
		env = &compute.Env{}
	}
	p := &Pipeline{Text: text}
	for _, words := range split {
		cmd, ok := r.Lookup(words[0])
		if !ok {
			return nil, compute.Invalidf("unknown command %q%s", words[0], r.Suggest(words[0]))
		}
		st, err := cmd.Build(env, words[1:])
		if err != nil {
			return nil, err
		}
		p.Names = append(p.Names, cmd.Name)
		p.Stages = append(p.Stages, st)
	}
	return p, nil
}

// SetInputFile says the pipeline's input is a regular file of size bytes
// (the client redirected one into it): the first stage prints what its
// GNU tool prints when its standard input is that file, where that
// differs from a pipe (compute.FileInputStage). It checks nothing.
func (p *Pipeline) SetInputFile(size int64) {
	if len(p.Stages) > 0 {
		if s, ok := p.Stages[0].(compute.FileInputStage); ok {
			s.SetInputFile(size)
		}
	}
}

// SetInputFileTime says the pipeline's input is a regular file modified
// at mtime (seconds since the Unix epoch): the first stage prints what
// its GNU tool prints of that time (compute.FileTimeStage: gzip -l).
func (p *Pipeline) SetInputFileTime(mtime int64) {
	if len(p.Stages) > 0 {
		if s, ok := p.Stages[0].(compute.FileTimeStage); ok {
			s.SetInputFileTime(mtime)
		}
	}
}

// WantsInputFileTime reports whether the pipeline text's first stage, as
// r's command builds it, prints anything of its input file's modification
// time (compute.FileTimeStage: gzip -lv). Only that stage is built; text
// that does not parse, or names a command r lacks (a newer server's),
// wants nothing. The CLI asks it before it sends the time, since a server
// older than the TCP header's @mtime refuses the option.
func WantsInputFileTime(r *compute.Registry, text string) bool {
	split, err := SplitPipeline(text)
	if err != nil || len(split) == 0 {
		return false
	}
	cmd, ok := r.Lookup(split[0][0])
	if !ok {
		return false
	}
	st, err := cmd.Build(&compute.Env{}, split[0][1:])
	if err != nil {
		return false
	}
	s, ok := st.(compute.FileTimeStage)
	return ok && s.WantsInputFileTime()
}
