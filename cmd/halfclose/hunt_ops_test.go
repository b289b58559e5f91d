package main

import (
	"strings"
	"testing"
)

// TestHuntOpsInfoIgnoresBadVariable: --help, --version and --generate
// answer whatever the HALFCLOSE_CLIENT_* variables hold. A bad one made
// them fail with exit status 2, and that error's hint was "Try 'halfclose
// --help'", which failed the same way.
func TestHuntOpsInfoIgnoresBadVariable(t *testing.T) {
	t.Setenv("HALFCLOSE_CLIENT_TIMEOUT", "soon")
	for _, args := range [][]string{{"--help"}, {"--version"}, {"--generate", "man"}} {
		code, out, errOut := runCLI(t, args...)
		if code != 0 || out == "" || errOut != "" {
			t.Errorf("%v with a bad HALFCLOSE_CLIENT_TIMEOUT: exit %d, stderr %q", args, code, errOut)
		}
	}
	// A command still reads the variable, and is refused.
	if code, _, errOut := runCLI(t, "sha256sum"); code != 2 || !strings.Contains(errOut, "HALFCLOSE_CLIENT_TIMEOUT (--timeout)") {
		t.Errorf("sha256sum with a bad HALFCLOSE_CLIENT_TIMEOUT: exit %d, stderr %q", code, errOut)
	}
}
