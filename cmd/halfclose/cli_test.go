package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/halfclose/halfclose/internal/cli"
	"github.com/halfclose/halfclose/internal/cli/clitest"
	"github.com/halfclose/halfclose/internal/flagenv"
	"github.com/halfclose/halfclose/internal/leakcheck"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

// runCLI runs the CLI with no input and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelpVersionUsageErrors(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "-help"} {
		code, out, errs := runCLI(t, arg)
		if code != 0 || errs != "" || !strings.HasPrefix(out, "Usage: halfclose ") {
			t.Errorf("%s: exit %d, stderr %q, stdout %.40q; want usage on stdout, exit 0", arg, code, errs, out)
		}
		for _, g := range []string{"\nConnection:\n", "\nTLS and authentication:\n", "\nOutput:\n", "\nInformation:\n", "HALFCLOSE_CLIENT_<FLAG>"} {
			if !strings.Contains(out, g) {
				t.Errorf("%s: usage lacks %q", arg, g)
			}
		}
	}
	if code, out, _ := runCLI(t, "--version"); code != 0 || !strings.HasPrefix(out, "halfclose ") || !strings.Contains(out, " go1.") {
		t.Errorf("--version: exit %d, %q", code, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus", "wc"}, "halfclose: unrecognized option '--bogus'\nTry 'halfclose --help' for more information.\n"},
		{nil, "halfclose: no command given\n"},
		{[]string{"--generate", "complete-tcsh"}, `unknown kind "complete-tcsh"`},
		{[]string{"--timeout", "soon", "wc"}, `invalid value "soon" for --timeout: not a duration`},
	} {
		code, out, errs := runCLI(t, tc.args...)
		if code != 2 || out != "" || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, out, errs, tc.want)
		}
	}
}

// The generated man page and completions name every flag of the real spec.
func TestGenerateNamesEveryFlag(t *testing.T) {
	for _, kind := range cli.Kinds {
		code, out, errs := runCLI(t, "--generate", kind)
		if code != 0 || errs != "" {
			t.Fatalf("--generate %s: exit %d, %s", kind, code, errs)
		}
		clitest.CheckNamesEveryFlag(t, newSpec(&options{}), kind, out)
	}
}

// The client reads HALFCLOSE_CLIENT_* only: the server's variables
// (HALFCLOSE_TCP_ADDR...) do not move it.
func TestClientEnvironment(t *testing.T) {
	t.Setenv("HALFCLOSE_TCP_ADDR", "10.0.0.1:1")
	t.Setenv("HALFCLOSE_ADDR", "10.0.0.1:2")
	t.Setenv("HALFCLOSE_CLIENT_ADDR", "127.0.0.2:3")
	t.Setenv("HALFCLOSE_CLIENT_PROGRESS", "false")
	t.Setenv("HALFCLOSE_CLIENT_VERSION", "true")
	var o options
	spec := newSpec(&o)
	if _, err := flagenv.Apply(spec.Flags, envPrefix, spec.NoEnvNames()...); err != nil {
		t.Fatal(err)
	}
	if o.addr != "127.0.0.2:3" || o.tcpAddr != "127.0.0.1:50052" || !o.progress.set || o.progress.on || o.version {
		t.Errorf("addr %q, tcp-addr %q, progress %+v, version %v", o.addr, o.tcpAddr, o.progress, o.version)
	}
}

// A value refused after it parsed (a range, a flag it needs) names its
// variable when it came from one, and the flag alone when it was given
// as one: a negative HALFCLOSE_CLIENT_TIMEOUT said "--timeout -1s: ...",
// a flag the command line did not have. Each case fails before any
// connection is made.
func TestClientEnvValueErrorsNameVariable(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ flag, value string }{
		{"timeout", "-1s"},
		{"chunk-size", "1"},
		{"addr", "::1:50051"},
		{"tcp-addr", "127.0.0.1"},
		{"key", dir + "/k.pem"},
		{"cacert", dir + "/none.pem"},
		{"token-file", dir + "/none"},
	} {
		env := envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(tc.flag, "-", "_"))
		t.Run(env, func(t *testing.T) {
			// A port of this test's range, should a case reach a dial.
			args := []string{"--addr=127.0.0.1:23001", "--tcp-addr=127.0.0.1:23001", "wc"}
			switch tc.flag {
			case "addr":
				args = args[1:]
			case "tcp-addr":
				args = []string{"--tcp", "--addr=127.0.0.1:23001", "wc"}
			}
			code, _, errs := runCLI(t, append([]string{"--" + tc.flag + "=" + tc.value}, args...)...)
			if code != 2 || strings.Contains(errs, "HALFCLOSE_") {
				t.Errorf("as a flag: exit %d, %q; want 2 and no variable named", code, errs)
			}
			t.Setenv(env, tc.value)
			code, _, errs = runCLI(t, args...)
			if want := "halfclose: " + env + " (--" + tc.flag + ")"; code != 2 || !strings.HasPrefix(errs, want) {
				t.Errorf("from %s: exit %d, %q; want 2 and %q", env, code, errs, want)
			}
		})
	}
}
