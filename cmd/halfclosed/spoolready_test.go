package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// spillInput is sort's input that spills under --spool-mem 64KiB.
var spillInput = bytes.Repeat([]byte("b\na\nc\n"), 120<<10)

const spoolBroken = "halfclose: error: UNAVAILABLE: spool: spill files cannot be written on this server\n"

// TestReadyzFollowsSpool: a --spool-dir removed after the start fails
// the jobs that spill UNAVAILABLE, and /readyz turns 503 (on both
// ports) with one log line naming the cause, so that a balancer sends
// the jobs to servers that can run them; once the directory is back, the
// next /readyz makes a spill file and says ready again, and jobs spill as
// before. /readyz said 200 throughout.
func TestReadyzFollowsSpool(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	td := startDaemon(t, "--spool-dir="+dir, "--spool-mem=64KiB", "--log-flush=0")
	ready := func(want int) {
		t.Helper()
		for _, addr := range []string{td.healthAddr(), td.httpAddr()} {
			if got := httpStatus(t, addr, "/readyz"); got != want {
				t.Fatalf("/readyz on %s: %d, want %d", addr, got, want)
			}
		}
	}
	ready(http.StatusOK)
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	ready(http.StatusOK) // nothing has spilled: nothing is known
	if reply, err := tcpJob(t, td.tcpAddr(), nil, "sort\n", spillInput); err != nil || reply != spoolBroken {
		t.Fatalf("sort with the spool dir removed: %q, %v", reply, err)
	}
	ready(http.StatusServiceUnavailable)
	ready(http.StatusServiceUnavailable)
	if n := strings.Count(td.logs.String(), "spill files cannot be created: not ready"); n != 1 {
		t.Errorf("%d log lines say the server is not ready, want 1:\n%s", n, td.logs)
	}
	if !strings.Contains(td.logs.String(), "no such file or directory") {
		t.Errorf("the log does not name the cause:\n%s", td.logs)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ready(http.StatusOK)
	if !strings.Contains(td.logs.String(), "spill files can be created again: ready") {
		t.Errorf("the log does not say the spool is back:\n%s", td.logs)
	}
	want := strings.Repeat("a\n", 120<<10) + strings.Repeat("b\n", 120<<10) + strings.Repeat("c\n", 120<<10)
	if reply, err := tcpJob(t, td.tcpAddr(), nil, "sort\n", spillInput); err != nil || reply != want {
		t.Fatalf("sort once the spool dir is back: %.80q, %v", reply, err)
	}
}

// TestReadyzIgnoresDefaultSpool: without --spool-dir, a system temp dir
// where no spill file could be made at the start (a warning then) is not
// asked by /readyz: the server was started knowing its jobs cannot
// spill, and stays ready for those that do not.
func TestReadyzIgnoresDefaultSpool(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	td := startDaemon(t, "--spool-mem=64KiB")
	if !strings.Contains(td.logs.String(), "spill files cannot be created in the system temp dir") {
		t.Fatalf("no warning at the start:\n%s", td.logs)
	}
	if reply, err := tcpJob(t, td.tcpAddr(), nil, "sort\n", spillInput); err != nil || reply != spoolBroken {
		t.Fatalf("sort with no temp dir: %q, %v", reply, err)
	}
	if got := httpStatus(t, td.healthAddr(), "/readyz"); got != http.StatusOK {
		t.Fatalf("/readyz: %d, want 200", got)
	}
}
