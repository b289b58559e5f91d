package server

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestReloaderChanges: Check loads an item when one of its files
// changed since the last look, or its last load failed (a failure is
// logged once, and again when the files change), a file that disappears
// and comes back is a change each time, and a good load after a bad one
// is logged at INFO.
func TestReloaderChanges(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, f := range []string{a, b} {
		if err := os.WriteFile(f, []byte("1"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	r := &Reloader{Log: slog.New(slog.NewTextHandler(&logs, nil))}
	loads := 0
	var fail error
	r.Watch("pair", []string{a, b}, Stamps(a, b), func() ([]any, error) { loads++; return nil, fail })

	if n := r.Check(); n != 0 || loads != 0 {
		t.Fatalf("no change: Check reloaded %d, loads %d", n, loads)
	}
	fail = errors.New("half done")
	if err := os.WriteFile(b, []byte("22"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		r.Check()
	}
	if loads != 3 || strings.Count(logs.String(), "level=WARN") != 1 || !strings.Contains(logs.String(), "half done") {
		t.Fatalf("a bad change: %d loads, log:\n%s", loads, logs.String())
	}
	// Gone (a rename in progress, an unmounted volume): a change, logged.
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	if n := r.Check(); n != 1 || strings.Count(logs.String(), "level=WARN") != 2 {
		t.Fatalf("a file removed: Check logged %d, log:\n%s", n, logs.String())
	}
	fail = nil
	if err := os.WriteFile(a, []byte("1"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.Check()
	if !strings.Contains(logs.String(), "level=INFO msg=\"reloaded pair\"") {
		t.Fatalf("a good change: %d loads, log:\n%s", loads, logs.String())
	}
	loads = 0
	r.Check()
	if loads != 0 {
		t.Fatalf("good and unchanged: %d loads", loads)
	}
}

// TestReloaderRetriesFailure: a load that failed for a reason the files'
// stats do not show (too many open files; a permission fixed with chmod,
// which changes only the ctime) is tried again at the next check, so the
// new certificate is served then, not at the next renewal; a failure that
// stays is logged and counted once, a new error again.
func TestReloaderRetriesFailure(t *testing.T) {
	f := filepath.Join(t.TempDir(), "cert")
	if err := os.WriteFile(f, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	r := &Reloader{Log: slog.New(slog.NewTextHandler(&logs, nil)), Metrics: NewMetrics(reg)}
	served := "old"
	errs := []error{
		errors.New("open cert: too many open files"),
		errors.New("open cert: too many open files"),
		errors.New("open cert: permission denied"),
		nil,
	}
	r.Watch(ReloadCert, []string{f}, Stamps(f), func() ([]any, error) {
		err := errs[0]
		errs = errs[1:]
		if err == nil {
			served = "new"
		}
		return nil, err
	})
	if err := os.WriteFile(f, []byte("new"+strings.Repeat(" ", 10)), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		r.Check()
	}
	if served != "new" {
		t.Fatalf("after 4 checks, %d loads left: still serving the %s file", len(errs), served)
	}
	out := logs.String()
	if strings.Count(out, "too many open files") != 1 || strings.Count(out, "permission denied") != 1 || strings.Count(out, "level=INFO") != 1 {
		t.Fatalf("want one warning per error and one INFO line:\n%s", out)
	}
	fams := scrape(t, reg)
	for result, want := range map[string]float64{"error": 2, "ok": 1} {
		if got := metricValue(t, fams, "halfclose_reloads_total", map[string]string{"file": ReloadCert, "result": result}); got != want {
			t.Errorf("halfclose_reloads_total{result=%q} = %v, want %v", result, got, want)
		}
	}
}

// TestReloaderChangeDuringStart: a file that changes after the stamps
// taken before its first read, and before Watch (a rotation landing while
// the server starts), is reloaded at the first Check; Watch's own stat
// would have taken the new file for the one read.
func TestReloaderChangeDuringStart(t *testing.T) {
	f := filepath.Join(t.TempDir(), "cert")
	if err := os.WriteFile(f, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	since := Stamps(f)
	if err := os.WriteFile(f, []byte("newer"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &Reloader{}
	loads := 0
	r.Watch("cert", []string{f}, since, func() ([]any, error) { loads++; return nil, nil })
	if r.Check(); loads != 1 {
		t.Fatalf("%d loads of a file changed during the start, want 1", loads)
	}
}

// TestReloaderLastByte: the stamp hashes the whole content (below
// maxStampBytes), not its first read: a 10000-byte file whose last byte
// alone is rewritten, size and time kept, is a change.
func TestReloaderLastByte(t *testing.T) {
	content := bytes.Repeat([]byte("x"), 10000)
	changed := append(bytes.Clone(content[:len(content)-1]), 'y')
	r, loads := rewriteKeepingStat(t, "bundle", content, changed)
	if r.Check(); *loads != 1 {
		t.Fatalf("%d loads of a file whose last byte changed, want 1", *loads)
	}
}

// rewriteKeepingStat writes old to a file called name, watches it with
// a Reloader that counts its loads, then rewrites it in place with new
// (of the same size) and puts its modification time back: a change its
// stat cannot tell.
func rewriteKeepingStat(t *testing.T, name string, old, new []byte) (*Reloader, *int) {
	t.Helper()
	f := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(f, old, 0o600); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(f)
	if err != nil {
		t.Fatal(err)
	}
	r := &Reloader{}
	loads := 0
	r.Watch(ReloadToken, []string{f}, Stamps(f), func() ([]any, error) { loads++; return nil, nil })
	if err := os.WriteFile(f, new, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(f, before.ModTime(), before.ModTime()); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(f)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		t.Fatalf("the rewrite changed the stat: %v %d %v, was %d %v", os.SameFile(before, after), after.Size(), after.ModTime(), before.Size(), before.ModTime())
	}
	return r, &loads
}

// TestStampUnreadStat: a look that could not read the content tells a
// change by each field of its stat, the modification time too.
func TestStampUnreadStat(t *testing.T) {
	seen := fileStamp{dev: 1, ino: 2, size: 3, mtime: 4, sum: 5}
	for _, c := range []struct {
		s    fileStamp
		want bool
	}{
		{fileStamp{dev: 1, ino: 2, size: 3, mtime: 4, unread: true}, false},
		{fileStamp{dev: 1, ino: 2, size: 3, mtime: 6, unread: true}, true},
		{fileStamp{dev: 1, ino: 2, size: 6, mtime: 4, unread: true}, true},
		{fileStamp{dev: 1, ino: 6, size: 3, mtime: 4, unread: true}, true},
		{fileStamp{dev: 6, ino: 2, size: 3, mtime: 4, unread: true}, true},
		{fileStamp{dev: 1, ino: 2, size: 3, mtime: 4, sum: 6}, true},
	} {
		if got := c.s.changedFrom(seen); got != c.want {
			t.Errorf("%+v changed from %+v: %v, want %v", c.s, seen, got, c.want)
		}
	}
}

// TestReloaderSameSizeAndTime: a file rewritten in place with content of
// the same size and the same modification time (a write within the file
// system's timestamp granularity of the last look; a copy that keeps the
// time) is a change: its stat alone, the same, left it unread.
func TestReloaderSameSizeAndTime(t *testing.T) {
	r, loads := rewriteKeepingStat(t, "tokens", []byte("alpha\n"), []byte("gamma\n"))
	if r.Check(); *loads != 1 {
		t.Fatalf("%d loads of a file rewritten with the same size and time, want 1", *loads)
	}
	if r.Check(); *loads != 1 {
		t.Fatalf("%d loads after a look with no change, want 1", *loads)
	}
}
