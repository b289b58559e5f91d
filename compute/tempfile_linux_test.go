package compute_test

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/internal/testenv"
)

// TestSpillFileNeverNamed: a spill file never has a name in --spool-dir,
// not even for a moment (O_TMPFILE), so a server killed as it creates one
// leaves nothing there: inotify sees no file created in the directory.
// Created, then unlinked, a file was there between the two system calls,
// and a SIGKILL between them left it for good. It still holds and gives
// back what is written to it.
func TestSpillFileNeverNamed(t *testing.T) {
	dir := t.TempDir()
	var f *os.File
	testenv.NamesNothing(t, dir, "the spill file", func() {
		c := compute.SpoolConfig{Dir: dir}
		var err error
		if f, err = c.TempFile(); err != nil {
			t.Fatal(err)
		}
	})
	defer f.Close()
	want := []byte("spilled bytes")
	if _, err := f.WriteAt(want, 1<<20); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if _, err := f.ReadAt(got, 1<<20); err != nil && err != io.EOF || !bytes.Equal(got, want) {
		t.Fatalf("read back %q, %v", got, err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Fatalf("dir holds %v (%v)", entries, err)
	}
}
