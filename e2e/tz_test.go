package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestGzipListServerTZRule: a halfclosed started with TZ a POSIX rule
// (no zone file of that name: Go alone took it for UTC) lists gzip -lv
// times in that rule's zone, as GNU gzip -lvN does with the same TZ and
// the same file on its standard input: a member stamped each side of the
// rule's changes in 2024 and 2106 (under -N, gzip -lv lists the member's
// MTIME), at gzip's last second, and stamped 0, which lists the file's
// own time (the CLI sends it). It logs the zone it took.
func TestGzipListServerTZRule(t *testing.T) {
	t.Parallel()
	const rule = "CET-1CEST,M3.5.0,M10.5.0/3"
	gz := need(t, "gzip")
	stamps := []int64{0, 1<<32 - 1}
	for _, change := range []int64{1711846800, 1729990800, 4299440400, 4311536400} { // 2024, 2106 (UTC 01:00)
		for _, d := range []int64{-60, 0, 1800, 3600} {
			stamps = append(stamps, change+d)
		}
	}
	d := launchEnv(t, []string{"TZ=" + rule})
	dir := t.TempDir()
	for _, s := range stamps {
		var in bytes.Buffer
		w := gzip.NewWriter(&in)
		w.ModTime = time.Unix(s, 0)
		w.Write([]byte("halfclose\n"))
		w.Close()
		path := writeFile(t, dir, fmt.Sprintf("%d.gz", s), in.Bytes())
		got := run(t, "", path, bin(t, "halfclose"), "--addr", d.GRPC, "gzip -lvN")
		if got.code != 0 {
			t.Fatalf("halfclose gzip -lvN exited %d: %s", got.code, got.stderr)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(gz, "-lvN")
		cmd.Args[0] = filepath.Base(gz)
		cmd.Env = []string{"LC_ALL=C", "TZ=" + rule}
		cmd.Stdin = f // the file itself, as the CLI's
		want, err := cmd.Output()
		f.Close()
		if err != nil {
			t.Fatalf("GNU gzip -lvN: %v", err)
		}
		if !bytes.Equal(got.stdout, want) {
			t.Errorf("TZ=%s, MTIME %d: halfclosed's gzip -lvN\n%s\nGNU gzip -lvN\n%s", rule, s, got.stdout, want)
		}
	}
	logged := false
	for _, r := range d.log.records() {
		if r["msg"] == "local time zone" && r["tz"] == rule && r["from"] == "rule" {
			logged = true
		}
	}
	if !logged {
		t.Errorf("no log line of the zone taken for TZ=%s:\n%s", rule, d.log.String())
	}
}
