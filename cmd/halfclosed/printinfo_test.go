package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/internal/testenv"
)

// TestInfoWriteErrorAsGNU: --help, --version, --generate and
// --print-limits to a standard output that cannot be written (/dev/full)
// exit 1 with the words GNU cat --help prints for it ("cat: write error:
// No space left on device"); they exited 0 and said nothing. An unknown
// --generate kind stays exit 2.
func TestInfoWriteErrorAsGNU(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer full.Close()
	cmd := exec.Command(testenv.Tool(t, "cat"), "--help")
	cmd.Env = []string{"LC_ALL=C"}
	cmd.Stdout = full
	var gnu bytes.Buffer
	cmd.Stderr = &gnu
	err = cmd.Run()
	i := strings.Index(gnu.String(), ": write error")
	if err == nil || cmd.ProcessState.ExitCode() != 1 || i < 0 {
		t.Fatalf("GNU cat --help >/dev/full: %v, %q; want exit 1, a write error", err, &gnu)
	}
	want := "halfclosed" + gnu.String()[i:]
	for _, args := range [][]string{{"--help"}, {"--version"}, {"--generate", "man"}, {"--generate", "complete-bash"}, {"--print-limits"}} {
		cfg, err := parseConfig(args, &bytes.Buffer{})
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		var errb bytes.Buffer
		if code := printInfo(cfg, full, &errb); code != 1 || errb.String() != want {
			t.Errorf("%q >/dev/full: exit %d, stderr %q; want exit 1, %q", args, code, errb.String(), want)
		}
		var out bytes.Buffer
		errb.Reset()
		if code := printInfo(cfg, &out, &errb); code != 0 || out.Len() == 0 || errb.Len() != 0 {
			t.Errorf("%q: exit %d, %d bytes, stderr %q; want exit 0 and text", args, code, out.Len(), errb.String())
		}
	}
	cfg, err := parseConfig([]string{"--generate", "nroff"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := printInfo(cfg, &out, &errb); code != 2 || !strings.Contains(errb.String(), "unknown kind") {
		t.Errorf("--generate nroff: exit %d, stderr %q; want exit 2, unknown kind", code, errb.String())
	}
}
