package flagenv

import (
	"errors"
	"flag"
	"io/fs"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestVarsName: an error found in a value that came from a variable names
// the variable, at the flag's first mention in each joined error, and
// nothing else: a flag from the command line, a longer flag that starts
// with the name, a word that only contains it, a message that names the
// variable already.
func TestVarsName(t *testing.T) {
	v := Vars{"max-jobs": "HALFCLOSE_MAX_JOBS", "tls-key": "HALFCLOSE_TLS_KEY"}
	for _, tc := range []struct{ in, want string }{
		{"--max-jobs must be at least 1", "HALFCLOSE_MAX_JOBS (--max-jobs) must be at least 1"},
		{"--max-jobs-per-peer must not be negative", "--max-jobs-per-peer must not be negative"},
		{"a--max-jobs is no flag", "a--max-jobs is no flag"},
		{"--tls-cert and --tls-key go together", "--tls-cert and HALFCLOSE_TLS_KEY (--tls-key) go together"},
		{"--max-jobs 3: --max-jobs again", "HALFCLOSE_MAX_JOBS (--max-jobs) 3: --max-jobs again"},
		{"--cert/--tls-key: bad", "--cert/HALFCLOSE_TLS_KEY (--tls-key): bad"},
		{`HALFCLOSE_MAX_JOBS (--max-jobs): invalid value "x"`, `HALFCLOSE_MAX_JOBS (--max-jobs): invalid value "x"`},
		{"-- --max-jobs", "-- HALFCLOSE_MAX_JOBS (--max-jobs)"},
		{"ends in --", "ends in --"},
		{"--max-jobs", "HALFCLOSE_MAX_JOBS (--max-jobs)"},
	} {
		if got := v.Name(errors.New(tc.in)).Error(); got != tc.want {
			t.Errorf("Name(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// Each error of a join is named apart, and what is wrapped stays.
	base := &fs.PathError{Op: "open", Path: "k", Err: fs.ErrNotExist}
	joined := errors.Join(errors.New("--max-jobs must be at least 1"), errors.New("--log-level must be info"), fmtWrap("--tls-key", base))
	got := v.Name(joined)
	want := "HALFCLOSE_MAX_JOBS (--max-jobs) must be at least 1\n--log-level must be info\nHALFCLOSE_TLS_KEY (--tls-key): open k: file does not exist"
	if got.Error() != want {
		t.Errorf("Name(joined) = %q, want %q", got, want)
	}
	if !errors.Is(got, fs.ErrNotExist) {
		t.Errorf("Name(joined) does not wrap fs.ErrNotExist")
	}
	if Vars(nil).Name(joined) != joined || v.Name(nil) != nil {
		t.Errorf("Name changed an error with nothing to name")
	}
}

func fmtWrap(flag string, err error) error { return &prefixed{flag, err} }

type prefixed struct {
	p   string
	err error
}

func (e *prefixed) Error() string { return e.p + ": " + e.err.Error() }
func (e *prefixed) Unwrap() error { return e.err }

// TestApplyVars: Apply returns the flags it set from their variables, not
// the ones given on the command line or the ones skipped.
func TestApplyVars(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var a, b, c int
	var d time.Duration
	fs.IntVar(&a, "a-b", 0, "")
	fs.IntVar(&b, "c", 0, "")
	fs.IntVar(&c, "skip-me", 0, "")
	fs.DurationVar(&d, "d", 0, "")
	t.Setenv("P_A_B", "1")
	t.Setenv("P_C", "2")
	t.Setenv("P_SKIP_ME", "3")
	if err := fs.Parse([]string{"--c=5"}); err != nil {
		t.Fatal(err)
	}
	vars, err := Apply(fs, "P", "skip-me")
	if err != nil {
		t.Fatal(err)
	}
	if len(vars) != 1 || vars["a-b"] != "P_A_B" || a != 1 || b != 5 || c != 0 {
		t.Errorf("vars %v, a %d b %d c %d", vars, a, b, c)
	}
}

// TestUnknown: the variables under the prefix, in any case, that known
// does not take, each once, in the environment's order.
func TestUnknown(t *testing.T) {
	env := []string{"P_A=1", "PATH=/bin", "P_B=2", "P_X=1", "p_a=3", "PX=1", "P_X=2", "P_CLIENT_Z=1", "P_", "Q_A=1", "P=1", "p"}
	known := func(n string) bool { return n == "P_A" || n == "P_B" || n == "P_CLIENT_Z" }
	got := Unknown(env, "P", known)
	if want := []string{"P_X", "p_a", "P_"}; !slices.Equal(got, want) {
		t.Errorf("Unknown = %q, want %q", got, want)
	}
}
