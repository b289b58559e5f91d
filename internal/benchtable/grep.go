//go:build linux

package main

import (
	"crypto/sha256"
	"os"

	"github.com/halfclose/halfclose/internal/shquote"

	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/grep"
)

// The grep rows of issue 14: each case of grep over -size bytes of log
// text (grep.WriteBenchLog), as GNU grep reading the file, as the compute
// engine in this process (no network), and through the raw-TCP command
// port with nc -N (the network included).

// grepCases are the common cases: a rare and a frequent fixed string,
// -i, an -E alternation of literals, -c, -v and -o.
var grepCases = []struct {
	group string
	argv  []string // after "grep"
	// largeReply: the output is about half the input (535 and 539 MB of
	// 1 GiB; the others write under 1 MB). Its ceiling is replyCeiling,
	// the others' ncCeiling.
	largeReply bool
}{
	{"grep -F rare", []string{"-F", "connection reset"}, false},
	{"grep -F frequent", []string{"-F", "INFO"}, true},
	{"grep -i", []string{"-i", "connection reset"}, false},
	{"grep -E alternation", []string{"-E", "connection reset|timed out|refused"}, false},
	{"grep -c", []string{"-c", "INFO"}, false},
	{"grep -v", []string{"-v", "INFO"}, true},
	{"grep -o", []string{"-o", "timed out"}, false},
}

// Bars: in process at least GNU's speed; through TCP, 0.6 of it.
const (
	grepInProcessBar = 1.0
	grepTCPBar       = 0.6
)

// grepRows are the rows of grepCases.
func grepRows() []Row {
	var out []Row
	for _, c := range grepCases {
		argv := append([]string{"grep"}, c.argv...)
		pipeline := shquote.Join(argv)
		ceil := ncCeiling(c.group)
		if c.largeReply {
			ceil = replyCeiling(c.group, (*Env).GrepLogFile, argv)
		}
		out = append(out,
			Row{
				Group: c.group, Name: "GNU " + pipeline + " < log", Baseline: true,
				Run: func(env *Env) (Result, error) {
					in, err := env.GrepLogFile()
					if err != nil {
						return Result{}, err
					}
					return env.TimeCommand(in, argv...)
				},
			},
			Row{
				Group: c.group, Name: "in process (engine, no network)", Bar: grepInProcessBar,
				Run: func(env *Env) (Result, error) {
					in, err := env.GrepLogFile()
					if err != nil {
						return Result{}, err
					}
					return env.timeInProcess(in, pipeline)
				},
			},
			Row{
				Group: c.group, Name: "nc -N < (" + pipeline + " + log) (TCP)", Bar: grepTCPBar, Needs: []string{"grep"},
				Run: func(env *Env) (Result, error) {
					in, err := env.GrepLogFile()
					if err != nil {
						return Result{}, err
					}
					nc, err := env.nc(env.TCPAddr)
					if err != nil {
						return Result{}, err
					}
					return env.TimeCommandHeader(pipeline+"\n", in, nc...)
				},
			},
			ceil)
	}
	return out
}

// GrepLogFile is the -size file of grep.WriteBenchLog's log text.
func (e *Env) GrepLogFile() (string, error) {
	return e.File("greplog", e.Size, grep.WriteBenchLog)
}

// timeInProcess runs pipeline over the file with a compute engine in this
// process (the builtin commands, default limits), output hashed.
func (e *Env) timeInProcess(path, pipeline string) (Result, error) {
	eng := engine.New(engine.Config{Registry: builtin.Registry()})
	p, err := eng.Compile(pipeline)
	if err != nil {
		return Result{}, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return Result{}, err
	}
	var sum []byte
	d, cpu, err := e.Best(func(*Rep) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := eng.Run(e.ctx, p, f, h); err != nil {
			return err
		}
		sum = h.Sum(nil)
		return nil
	})
	return Result{Bytes: st.Size(), Elapsed: d, OutputSum: sum, CPU: cpu}, err
}
