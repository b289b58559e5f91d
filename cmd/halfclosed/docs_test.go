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

// docs/operations.md's and docs/protocol.md's tables show every cell: a
// row with more cells than its header loses the rest.
func TestOperationsDocTables(t *testing.T) {
	for _, name := range []string{"../../docs/operations.md", "../../docs/protocol.md"} {
		doc, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		clitest.CheckTables(t, name, doc)
	}
}
