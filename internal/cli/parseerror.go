package cli

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/halfclose/halfclose/internal/flagenv"
)

// ParseError rewrites the errors of the standard flag package in the words
// of a GNU tool: flags are named as they are typed (--name, -h), and a
// value that does not parse says what was expected instead of "parse
// error". Other errors (a flag.Value's own message) keep their text, with
// the flag renamed.
func ParseError(fs *flag.FlagSet, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	name := func(n string) string {
		if len(n) == 1 {
			return "-" + n
		}
		return "--" + n
	}
	if n, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return fmt.Errorf("unrecognized option '%s'", name(n))
	}
	if n, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return fmt.Errorf("option '%s' requires an argument", name(n))
	}
	// invalid boolean value "x" for -name: parse error
	if rest, ok := strings.CutPrefix(msg, "invalid boolean value "); ok {
		if value, n, ok := strings.Cut(rest, " for -"); ok {
			n, reason, _ := strings.Cut(n, ": ")
			if reason == "" || reason == "parse error" {
				reason = "not " + expected(fs.Lookup(n))
			}
			// A Value's own reason is kept, as below: a tri-state
			// boolean (halfclose --progress) has no Get to say what
			// it wants, and said "not a valid value".
			return fmt.Errorf("invalid value %s for %s: %s", value, name(n), reason)
		}
		return err
	}
	// invalid value "x" for flag -name: reason
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		i := strings.Index(rest, " for flag -")
		if i < 0 {
			return err
		}
		value, rest := rest[:i], rest[i+len(" for flag -"):]
		n, reason, _ := strings.Cut(rest, ": ")
		if reason == "parse error" { // the flag package's unexported errParse
			reason = "not " + expected(fs.Lookup(n))
		}
		return fmt.Errorf("invalid value %s for %s: %s", value, name(n), reason)
	}
	return err
}

// EnvError rewrites a variable's bad value (flagenv.Apply's error) as
// ParseError does a flag's: "not a whole number" rather than the flag
// package's "parse error".
func EnvError(fs *flag.FlagSet, err error) error {
	var e *flagenv.EnvError
	if !errors.As(err, &e) {
		return err
	}
	switch reason := e.Err.Error(); reason {
	case "parse error", "value out of range":
		if reason == "parse error" {
			reason = "not " + expected(fs.Lookup(e.Flag))
		}
		return fmt.Errorf("%s (--%s): invalid value %q: %s", e.Name, e.Flag, e.Value, reason)
	}
	return err
}

// expected names what a flag's value must be, for the standard types.
func expected(f *flag.Flag) string {
	if f == nil {
		return "a valid value"
	}
	getter, ok := f.Value.(flag.Getter)
	if !ok {
		return "a valid value"
	}
	switch getter.Get().(type) {
	case bool:
		return "a boolean (true or false)"
	case time.Duration:
		return "a duration (examples: 500ms, 10s, 1m30s)"
	case int, int64:
		return "a whole number"
	case uint, uint64:
		return "a whole number of at least 0"
	case float64:
		return "a number"
	}
	return "a valid value"
}
