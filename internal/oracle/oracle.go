// Package oracle runs the GNU tools that tests compare halfclose with.
package oracle

import (
	"bytes"
	"os/exec"
	"testing"

	"github.com/halfclose/halfclose/internal/testenv"
)

// Output runs argv (a GNU tool) over input with LC_ALL=C and returns its
// stdout. A tool that fails fails the test; a missing one fails it under
// CI and skips it elsewhere (testenv.Tool).
func Output(t testing.TB, input []byte, argv ...string) string {
	t.Helper()
	cmd := exec.Command(testenv.Tool(t, argv[0]), argv[1:]...)
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
	cmd.Stdin = bytes.NewReader(input)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle %v: %v", argv, err)
	}
	return string(out)
}
