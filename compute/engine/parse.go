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
// the next character, and an unquoted "|" separates stages. There is no
// shell: unquoted ; & < > ( ) $ ` and a word starting with # are errors, not
// syntax, so that a request never means something other than it says.
// Glob characters have no files to match on the server and stay literal, as
// an unmatched glob does in sh.
func SplitPipeline(text string) ([][]string, error) {
	if len(text) > MaxPipelineBytes {
		return nil, compute.Exhaustedf("pipeline: %d bytes, at most %d allowed", len(text), MaxPipelineBytes)
	}
	var (
		stages [][]string
		words  []string
		cur    strings.Builder
		inWord bool
	)
	endWord := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	endStage := func() error {
		endWord()
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
		switch c {
		case ' ', '\t', '\n', '\r':
			endWord()
		case '|':
			if i+1 < len(text) && text[i+1] == '|' {
				return nil, compute.Invalidf("pipeline: unsupported shell syntax \"||\" (there is no shell)")
			}
			if err := endStage(); err != nil {
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
				if d == '$' || d == '`' {
					return nil, compute.Invalidf("pipeline: unsupported shell syntax %q inside double quotes (there is no shell; use single quotes)", string(d))
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
		case ';', '&', '<', '>', '(', ')', '$', '`':
			return nil, compute.Invalidf("pipeline: unsupported shell syntax %q (there is no shell)", string(c))
		case '#':
			if !inWord {
				return nil, compute.Invalidf("pipeline: unsupported shell syntax \"#\" (there is no shell; quote it)")
			}
			cur.WriteByte(c)
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	endWord()
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
