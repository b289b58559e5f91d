// Package flagenv gives every flag of a FlagSet an environment variable,
// PREFIX_FLAG_NAME, and provides the flag types halfclose's binaries share.
package flagenv

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// EnvName returns the variable for a flag: prefix + "_" + the flag's name
// in upper case with "-" as "_" (HALFCLOSE_MAX_JOBS for max-jobs).
func EnvName(prefix, flagName string) string {
	return prefix + "_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Apply sets each flag from its environment variable, if set. Call it
// after fs.Parse: a flag given on the command line wins, and its variable
// is then not read at all (neither added to, for a repeatable flag, nor
// checked). A repeatable flag takes one value per line of its variable.
// The flags named in skip have no variable (--help, --version, one-letter
// aliases). It returns the flags it set, for errors found later in their
// values to name the variable (Vars.Name).
func Apply(fs *flag.FlagSet, prefix string, skip ...string) (Vars, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	vars := Vars{}
	fs.VisitAll(func(f *flag.Flag) {
		if slices.Contains(skip, f.Name) || set[f.Name] {
			return
		}
		v, ok := os.LookupEnv(EnvName(prefix, f.Name))
		if !ok || err != nil {
			return
		}
		values := []string{v}
		if _, multi := f.Value.(*Strings); multi {
			// One value a line, LF or CRLF (an env file written on
			// Windows); blank lines skipped.
			values = values[:0]
			for line := range strings.Lines(v) {
				if line = strings.TrimRight(line, "\r\n"); line != "" {
					values = append(values, line)
				}
			}
		}
		for _, one := range values {
			if e := f.Value.Set(one); e != nil {
				err = &EnvError{Name: EnvName(prefix, f.Name), Flag: f.Name, Value: one, Err: e}
				return
			}
		}
		vars[f.Name] = EnvName(prefix, f.Name)
	})
	return vars, err
}

// Vars maps each flag Apply set from the environment to its variable.
type Vars map[string]string

// Name rewrites the mentions of flags set from a variable in err, an
// error found in their values after Apply (a range, a pair of flags that
// go together), so that it names the variable the value came from: the
// first "--max-header-bytes" of a message becomes
// "HALFCLOSE_MAX_HEADER_BYTES (--max-header-bytes)", as EnvError names a
// value that does not parse. The flag alone sent the reader to a command
// line that had no such flag. The errors of errors.Join are rewritten
// each, and err stays what the result unwraps to.
func (v Vars) Name(err error) error {
	if err == nil || len(v) == 0 {
		return err
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs := j.Unwrap()
		named := make([]error, len(errs))
		changed := false
		for i, e := range errs {
			named[i] = v.Name(e)
			changed = changed || named[i] != e
		}
		if !changed {
			return err
		}
		return errors.Join(named...)
	}
	msg := err.Error()
	var b strings.Builder
	done := map[string]bool{}
	i := 0
	for i < len(msg) {
		j := strings.Index(msg[i:], "--")
		if j < 0 {
			break
		}
		j += i
		k := j + 2
		for k < len(msg) && isFlagByte(msg[k]) {
			k++
		}
		name := msg[j+2 : k]
		env, ok := v[name]
		// A flag's mention starts a word ("a--b" is none) and is already
		// named where its variable is in the message (EnvError's).
		if ok && !done[name] && (j == 0 || !isFlagByte(msg[j-1])) && !strings.Contains(msg, env) {
			done[name] = true
			b.WriteString(msg[i:j])
			b.WriteString(env + " (--" + name + ")")
		} else {
			b.WriteString(msg[i:k])
		}
		i = k
	}
	if len(done) == 0 {
		return err
	}
	b.WriteString(msg[i:])
	return &namedError{msg: b.String(), err: err}
}

// isFlagByte reports whether c may be part of a flag's name.
func isFlagByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c >= 'A' && c <= 'Z'
}

// namedError is an error whose message Vars.Name rewrote.
type namedError struct {
	msg string
	err error
}

func (e *namedError) Error() string { return e.msg }
func (e *namedError) Unwrap() error { return e.err }

// EnvError is a variable whose value its flag does not take.
type EnvError struct {
	Name  string // the variable: HALFCLOSE_MAX_JOBS
	Flag  string // its flag: max-jobs
	Value string
	Err   error // the flag's Set error
}

func (e *EnvError) Error() string {
	return fmt.Sprintf("%s (--%s): invalid value %q: %v", e.Name, e.Flag, e.Value, e.Err)
}

func (e *EnvError) Unwrap() error { return e.Err }

// Strings is a repeatable string flag.
type Strings []string

func (s *Strings) String() string { return strings.Join(*s, ", ") }

// Set appends v.
func (s *Strings) Set(v string) error { *s = append(*s, v); return nil }

// Bytes is a byte count flag that accepts suffixes: K, M, G, T (powers of
// 1024, with or without "i" and "B": 4K, 4KiB, 4KB are all 4096).
type Bytes int64

func (b *Bytes) String() string { return FormatBytes(int64(*b)) }

// Set parses v.
func (b *Bytes) Set(v string) error {
	n, err := ParseBytes(v)
	if err != nil {
		return err
	}
	*b = Bytes(n)
	return nil
}

// ParseBytes parses a byte count with an optional binary suffix.
func ParseBytes(v string) (int64, error) {
	s := strings.TrimSpace(v)
	upper := strings.ToUpper(s)
	upper = strings.TrimSuffix(upper, "B")
	// "i" belongs to a unit (KiB): "4i" and "4iB" are not byte counts.
	binary := strings.HasSuffix(upper, "I")
	upper = strings.TrimSuffix(upper, "I")
	mult := int64(1)
	if upper != "" {
		switch upper[len(upper)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			upper = upper[:len(upper)-1]
		}
	}
	if binary && mult == 1 {
		return 0, fmt.Errorf("not a byte count: %q (examples: 4096, 64KiB, 16GiB)", v)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(upper), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("not a byte count: %q (examples: 4096, 64KiB, 16GiB)", v)
	}
	return n * mult, nil
}

// FormatBytes prints n with the largest exact binary suffix.
func FormatBytes(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.m && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

// Unknown returns the variables of environ (os.Environ's NAME=VALUE
// lines) whose name begins with prefix and "_", in any case, and that
// known does not take, each once, in environ's order: a misspelt
// variable (HALFCLOSE_MAX_JOB) was ignored without a word.
func Unknown(environ []string, prefix string, known func(name string) bool) []string {
	var out []string
	seen := map[string]bool{}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if len(name) <= len(prefix) || !strings.EqualFold(name[:len(prefix)+1], prefix+"_") || known(name) || seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, name)
	}
	return out
}
