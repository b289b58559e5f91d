// Package oracle runs the GNU tools that tests compare halfclose with.
package oracle

import (
	"bytes"
	"os/exec"
	"testing"
)

// Output runs argv (a GNU tool) over input with LC_ALL=C and returns its
// stdout; a tool that fails or is missing fails the test.
func Output(t testing.TB, input []byte, argv ...string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
	cmd.Stdin = bytes.NewReader(input)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle %v: %v", argv, err)
	}
	return string(out)
}
