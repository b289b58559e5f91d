package main

import (
	"io"
	"log/slog"
	"testing"

	"github.com/halfclose/halfclose/internal/testenv"
)

// TestSpoolDirCheckLeavesNoName: the start's check of --spool-dir makes
// its file as a job makes a spill file, one that never has a name
// (O_TMPFILE), so a server killed during the check leaves nothing in the
// directory: inotify sees no file created there. The check created
// halfclose-spool-check-* and then removed it.
func TestSpoolDirCheckLeavesNoName(t *testing.T) {
	dir := t.TempDir()
	testenv.NamesNothing(t, dir, "the check's file", func() {
		c := &config{spoolDir: dir}
		if err := c.checkSpoolDir(slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
			t.Fatal(err)
		}
	})
}
