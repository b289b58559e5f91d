package cli

import (
	"errors"
	"flag"
	"io"
	"testing"
	"time"
)

func TestParseError(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "unrecognized option '--bogus'"},
		{[]string{"-x"}, "unrecognized option '-x'"},
		{[]string{"--jobs"}, "option '--jobs' requires an argument"},
		{[]string{"--jobs", "many"}, `invalid value "many" for --jobs: not a whole number`},
		{[]string{"--jobs", "99999999999999999999"}, `invalid value "99999999999999999999" for --jobs: value out of range`},
		{[]string{"--wait", "soon"}, `invalid value "soon" for --wait: not a duration (examples: 500ms, 10s, 1m30s)`},
		{[]string{"--ratio", "half"}, `invalid value "half" for --ratio: not a number`},
		{[]string{"--quiet=maybe"}, `invalid value "maybe" for --quiet: not a boolean (true or false)`},
		{[]string{"--name", "ok"}, ""},
		// a boolean Value of its own, with its own reason and no Get
		{[]string{"--auto=maybe"}, `invalid value "maybe" for --auto: not yes or no`},
		{[]string{"-a=2"}, `invalid value "2" for -a: not yes or no`},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Int("jobs", 1, "")
		fs.Duration("wait", time.Second, "")
		fs.Float64("ratio", 1, "")
		fs.Bool("quiet", false, "")
		fs.String("name", "", "")
		fs.Var(ownBool{}, "auto", "")
		fs.Var(ownBool{}, "a", "")
		err := ParseError(fs, fs.Parse(tc.args))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.args, got, tc.want)
		}
	}
}

// ownBool is a boolean flag.Value that is no flag.Getter, with an error of
// its own.
type ownBool struct{}

func (ownBool) IsBoolFlag() bool { return true }
func (ownBool) String() string   { return "" }
func (ownBool) Set(v string) error {
	if v != "true" {
		return errors.New("not yes or no")
	}
	return nil
}
