package main

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/internal/cli/clitest"
)

// docs/operations.md's flag table lists every flag --help shows, with the
// binary's default, and no flag the binary lacks; the derived per-peer
// caps' defaults are what they derive to.
func TestOperationsDocFlags(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	c := defaultConfig()
	clitest.CheckDocTable(t, newSpec(c), doc, "## Flags and environment", "help", "version", "generate")
	for _, row := range []struct {
		cell string
		n    int
	}{
		{"| `--max-jobs-per-peer` | `max(1, --max-jobs/4)` (", c.jobsPerPeer()},
		{"| `--max-requests-per-peer` | `max(1, --max-conns/4)` (", c.requestsPerPeer()},
	} {
		if !strings.Contains(string(doc), row.cell+strconv.Itoa(row.n)+") |") {
			t.Errorf("docs/operations.md lacks %s%d) |", row.cell, row.n)
		}
	}
}
