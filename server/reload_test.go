package server

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReloaderChanges: Check loads an item only when one of its files
// changed since the last look (a failed load is not retried until the
// next change, and is logged once), a file that disappears and comes
// back is a change each time, and a good load after a bad one is logged
// at INFO.
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
	if loads != 1 || strings.Count(logs.String(), "level=WARN") != 1 || !strings.Contains(logs.String(), "half done") {
		t.Fatalf("a bad change: %d loads, log:\n%s", loads, logs.String())
	}
	// Gone (a rename in progress, an unmounted volume): a change.
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	r.Check()
	r.Check()
	if loads != 2 {
		t.Fatalf("a file removed: %d loads, want 2", loads)
	}
	fail = nil
	if err := os.WriteFile(a, []byte("1"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.Check()
	if loads != 3 || !strings.Contains(logs.String(), "level=INFO msg=\"reloaded pair\"") {
		t.Fatalf("a good change: %d loads, log:\n%s", loads, logs.String())
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
