//go:build !unix

package e2e

import "testing"

// mkfifo skips the test: there are no FIFOs (syscall.Mkfifo) here.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	t.Skipf("no FIFO for %s on this system", path)
}
