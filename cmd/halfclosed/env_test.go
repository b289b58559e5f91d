package main

import (
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
)

// TestEnvValueErrorsNameVariable: a bad value that came from a variable
// names the variable, for every kind of flag, whether the value does not
// parse or is out of range or refused with another flag; the same value
// given as a flag names the flag alone. A range error named only the flag
// (HALFCLOSE_MAX_HEADER_BYTES=0: "--max-header-bytes must be at least 64
// and at most 1MiB"), sending the reader to a command line without it.
func TestEnvValueErrorsNameVariable(t *testing.T) {
	for _, tc := range []struct {
		flag, value string
		extra       []string // other flags the case needs
	}{
		// durations
		{"header-timeout", "0s", nil},
		{"job-wait", "-1s", nil},
		{"idle-timeout", "5", nil},
		{"tcp-fin-wait", "0", nil},
		// byte counts
		{"max-header-bytes", "0", nil},
		{"max-line-bytes", "2GiB", nil},
		{"tcp-recv-lowat", "17MiB", nil},
		{"max-input-bytes", "4i", nil},
		// counts
		{"max-jobs", "0", nil},
		{"peer-ipv6-prefix", "129", nil},
		{"max-jobs-per-peer", "-1", nil},
		{"gc-percent", "x", nil},
		{"rate-limit", "-1", nil},
		// addresses
		{"grpc-addr", "::1:50051", nil},
		{"health-addr", "unix:h.sock", nil},
		{"metrics-addr", "127.0.0.1", nil},
		// the repeatable flag
		{"tcp-route", "nothing", nil},
		{"tcp-route", "127.0.0.1:0=sha256summ", nil},
		{"tcp-route", "::1:7001=wc -l", nil},
		// booleans
		{"pprof", "true", nil},
		{"require-end", "1", []string{"--tcp-route=127.0.0.1:0=wc -c"}},
		{"tcp-insecure", "yes", nil},
		// words
		{"log-level", "loud", nil},
		{"tcp-raw-accept", "some", nil},
		{"tls-cert", "c.pem", nil},
	} {
		env := "HALFCLOSE_" + strings.ToUpper(strings.ReplaceAll(tc.flag, "-", "_"))
		t.Run(env+"="+tc.value, func(t *testing.T) {
			_, flagErr := parseConfig(append([]string{"--" + tc.flag + "=" + tc.value}, tc.extra...), io.Discard)
			if flagErr == nil || strings.Contains(flagErr.Error(), "HALFCLOSE_") {
				t.Errorf("as a flag: %v; want an error naming no variable", flagErr)
			}
			t.Setenv(env, tc.value)
			_, err := parseConfig(tc.extra, io.Discard)
			var usage usageError
			if !errors.As(err, &usage) {
				t.Fatalf("from %s: %v, want a usage error", env, err)
			}
			if want := env + " (--" + tc.flag + ")"; !strings.Contains(err.Error(), want) {
				t.Errorf("from %s: %q, want it to name %q", env, err, want)
			}
		})
	}
}

// TestEnvStartErrorNamesVariable: a listener that cannot be opened, from
// a variable, is named by it (exit 1, newServer's error).
func TestEnvStartErrorNamesVariable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t.Setenv("HALFCLOSE_HEALTH_ADDR", l.Addr().String())
	cfg, err := parseConfig([]string{"--grpc-addr=127.0.0.1:0", "--tcp-addr=", "--metrics-addr=127.0.0.1:0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.logOut = io.Discard
	d, err := newServer(cfg)
	if err == nil {
		d.closeListeners()
		d.closeLog()
		t.Fatal("newServer listened on a port in use")
	}
	if want := "HALFCLOSE_HEALTH_ADDR (--health-addr) " + l.Addr().String() + ": listen"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("newServer: %q, want it to begin %q", err, want)
	}
}

// TestUnknownEnvWarned: a HALFCLOSE_ variable no flag reads (misspelt,
// or a flag that does not exist) is warned of at start, once, named with
// the variable it probably meant when one is close, and the start goes
// on; the client's (HALFCLOSE_CLIENT_*, whatever follows), the project's
// others (otherEnv) and every flag's variable are not. Such a variable
// was ignored without a word: HALFCLOSE_MAX_JOB=4 served 64 jobs.
// --print-limits, which checks a configuration as a start would, says
// the same on stderr.
func TestUnknownEnvWarned(t *testing.T) {
	t.Setenv("HALFCLOSE_MAX_JOB", "4")
	t.Setenv("HALFCLOSE_IDLE_TIMOUT", "5s")
	t.Setenv("HALFCLOSE_FROBNICATE", "1")
	t.Setenv("HALFCLOSE_CLIENT_ADDR", "127.0.0.1:1")
	t.Setenv("HALFCLOSE_CLIENT_ADR", "127.0.0.1:1") // the client's to check
	t.Setenv("HALFCLOSE_CLIENT_", "1")              // the client's prefix alone: HALFCLOSE_CLIENT_* too
	t.Setenv("HALFCLOSE_MAX_JOBS", "5")
	for _, name := range otherEnv {
		t.Setenv(name, "1")
	}
	want := []string{
		`"level":"WARN","msg":"environment variable ignored: no flag of halfclosed reads it (did you mean \"HALFCLOSE_MAX_JOBS\"?)","variable":"HALFCLOSE_MAX_JOB"`,
		`"level":"WARN","msg":"environment variable ignored: no flag of halfclosed reads it (did you mean \"HALFCLOSE_IDLE_TIMEOUT\"?)","variable":"HALFCLOSE_IDLE_TIMOUT"`,
		`"level":"WARN","msg":"environment variable ignored: no flag of halfclosed reads it","variable":"HALFCLOSE_FROBNICATE"`,
	}
	d := startDaemon(t)
	if d.cfg.maxJobs != 5 {
		t.Errorf("--max-jobs %d, want HALFCLOSE_MAX_JOBS's 5", d.cfg.maxJobs)
	}
	var warned []string
	for _, line := range strings.Split(d.logs.String(), "\n") {
		if strings.Contains(line, "environment variable") {
			_, rest, _ := strings.Cut(line, `"level"`)
			warned = append(warned, `"level"`+strings.TrimSuffix(rest, "}"))
		}
	}
	slices.Sort(warned)
	slices.Sort(want)
	if !slices.Equal(warned, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(warned, "\n"), strings.Join(want, "\n"))
	}

	cfg, err := parseConfig([]string{"--print-limits"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	if code := printInfo(cfg, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "max_jobs 5\n") {
		t.Errorf("--print-limits: exit %d, %q", code, stdout.String())
	}
	wantErr := `halfclosed: warning: HALFCLOSE_MAX_JOB: environment variable ignored: no flag of halfclosed reads it (did you mean "HALFCLOSE_MAX_JOBS"?)` + "\n"
	if !strings.Contains(stderr.String(), wantErr) || strings.Count(stderr.String(), "\n") != 3 {
		t.Errorf("--print-limits stderr:\n%s\nwant 3 lines, one:\n%s", stderr.String(), wantErr)
	}
}
