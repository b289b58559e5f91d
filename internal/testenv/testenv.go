// Package testenv is what every test package of halfclose asks of its
// environment: the external tools a test needs, whether the long variants
// of the tests run, and how long a test may wait.
//
// A missing tool fails the test under CI (the CI variable set, as .ci/run
// does), where .ci/run must have installed it, and skips it elsewhere with a
// message naming the tool, so a developer sees what was not run.
package testenv

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// LongEnv is the variable that selects the long variants of the tests
// (larger inputs, every combination): make test-long sets it to 1.
const LongEnv = "HALFCLOSE_TEST_LONG"

// Long reports whether the long variants of the tests run. The default,
// short, variants cover the same code paths with smaller inputs and fewer
// combinations.
func Long() bool { return os.Getenv(LongEnv) == "1" }

// Uint is the count or seed a generated test reads from the environment
// variable name (GNUDIFF_N, FILESDIFF_SEED: make fuzz sets them), def
// when it is unset. A value that is not an unsigned integer fails the
// test: never a silent 0 cases.
func Uint(t testing.TB, name string, def uint64) uint64 {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: want an unsigned integer", name, v)
	}
	return n
}

// CI reports whether the tests run under CI, where nothing may be skipped
// for want of a tool.
func CI() bool { return os.Getenv("CI") != "" }

// Tool returns the path of the external program name. When it is not
// installed the test fails under CI and is skipped elsewhere; either way
// the message names the tool.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if CI() {
		t.Fatalf("test tool %s is required under CI (.ci/run installs it): %v", name, err)
	}
	t.Skipf("SKIP: test tool %s is not installed (%v); under CI=true this fails", name, err)
	return ""
}

// deadliner is *testing.T and *testing.F: they know the binary's -timeout.
type deadliner interface {
	Deadline() (time.Time, bool)
}

// Deadline returns when a wait of t should give up: a little before the
// test binary's -timeout (which would end every test with a panic), so
// that a hang fails this test with its own message. ok is false when the
// binary has no timeout, or t cannot tell (a benchmark).
func Deadline(t testing.TB) (d time.Time, ok bool) {
	dt, can := t.(deadliner)
	if !can {
		return time.Time{}, false
	}
	d, ok = dt.Deadline()
	if !ok {
		return d, false
	}
	// Keep a twentieth of what is left, at least a second, to report.
	margin := max(time.Until(d)/20, time.Second)
	return d.Add(-margin), true
}

// Context returns a context that ends when the test ends or at
// Deadline(t), whichever comes first; cancel releases it.
func Context(t testing.TB) (ctx context.Context, cancel context.CancelFunc) {
	if d, ok := Deadline(t); ok {
		return context.WithDeadline(t.Context(), d)
	}
	return context.WithCancel(t.Context())
}

// Timeout returns how long a wait of t may last: until Deadline(t), or an
// hour when the test binary runs without a -timeout.
func Timeout(t testing.TB) time.Duration {
	if d, ok := Deadline(t); ok {
		return time.Until(d)
	}
	return time.Hour
}
