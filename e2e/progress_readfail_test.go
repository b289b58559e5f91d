package e2e

import (
	"bytes"
	"os"
	"testing"
)

// TestProgressReadFails: with --progress, whose reader wraps each upload's
// input, a FILE whose read fails (/proc/self/mem: EIO) and standard input
// that is a directory (EISDIR) are still the aborts GNU reports: the same
// standard output and exit status as the tool, its error line on stderr
// among the progress lines, the other files summed. A progress reader
// that handed on a read error as io.EOF proved the end of what it had
// read (the digest of nothing) and passed every test, none of which reads
// a failing input with --progress (mutation run).
func TestProgressReadFails(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/mem"); err != nil {
		t.Skip(err)
	}
	g, tcp := startDaemon(t)
	dir := t.TempDir()
	writeFile(t, dir, "f", []byte("data\n"))
	for _, tc := range []struct {
		argv  []string
		stdin string
	}{
		{[]string{"sha256sum", "f", "/proc/self/mem", "f"}, ""},
		{[]string{"md5sum", "f", "-", "f"}, dir},
	} {
		want := run(t, dir, tc.stdin, tc.argv...)
		if want.code != 1 || len(want.stderr) == 0 {
			t.Fatalf("%q: the tool exits %d, stderr %q; want 1 and its error", tc.argv, want.code, want.stderr)
		}
		for _, transport := range [][]string{{"--addr", g}, {"--tcp", "--tcp-addr", tcp}} {
			argv := append(append([]string{bin(t, "halfclose"), "--progress"}, transport...), tc.argv...)
			got := run(t, dir, tc.stdin, argv...)
			if got.code != want.code || !bytes.Equal(got.stdout, want.stdout) || !bytes.Contains(got.stderr, want.stderr) {
				t.Errorf("%q: exit %d (GNU %d), stderr %q (GNU's %q among it)\n%s", argv, got.code, want.code, got.stderr, want.stderr, diff(got.stdout, want.stdout))
			}
		}
	}
}
