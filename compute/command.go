package compute

import (
	"context"
	"io"
	"sort"
	"sync"
)

// Stage is one running command of a pipeline. Run reads in until io.EOF
// (the half-close) and writes its output to out. An error from in other than
// io.EOF is an abort: Run must return it (wrapped or not) and must not treat
// what it read so far as the whole input. Run must return promptly when ctx
// is done. A Stage may stop reading early (head -n 1); the engine drains the
// rest of the input itself.
type Stage interface {
	Run(ctx context.Context, in io.Reader, out io.Writer) error
}

// StageFunc adapts a function to Stage.
type StageFunc func(ctx context.Context, in io.Reader, out io.Writer) error

// Run calls f.
func (f StageFunc) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	return f(ctx, in, out)
}

// Command is a command that can appear in a pipeline.
type Command struct {
	// Name is the word that invokes it, e.g. "sha256sum".
	Name string
	// Summary is a one-line description for Capabilities.
	Summary string
	// Flags are the flags it accepts, for parsing and for Capabilities.
	Flags []FlagSpec
	// Build checks args (the words after the name) and returns the stage.
	// A bad flag, operand or value is an *Error with CodeInvalid whose
	// message names it, e.g. `grep: unknown flag "-Q"`.
	Build func(env *Env, args []string) (Stage, error)
}

// Env is what a stage may use from its server: the spool settings for
// memory budgets and spill files. The zero Env is usable (defaults).
type Env struct {
	Spool SpoolConfig
}

var (
	registryMu sync.RWMutex
	registry   = map[string]*Command{} // protected by registryMu
)

// Register adds a command; it panics on a duplicate name. Commands register
// themselves from init functions.
func Register(c *Command) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[c.Name]; dup {
		panic("compute: duplicate command " + c.Name)
	}
	registry[c.Name] = c
}

// Lookup returns the command called name.
func Lookup(name string) (*Command, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	c, ok := registry[name]
	return c, ok
}

// Commands returns every command, sorted by name.
func Commands() []*Command {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]*Command, 0, len(registry))
	for _, c := range registry {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
