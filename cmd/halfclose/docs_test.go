package main

import (
	"os"
	"testing"

	"github.com/halfclose/halfclose/internal/cli/clitest"
)

// docs/cli.md's flag table lists every flag --help shows, with its
// variable and the binary's default, and no flag the binary lacks.
func TestCLIDocFlags(t *testing.T) {
	doc, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	clitest.CheckDocTable(t, newSpec(&options{}), doc, "## Flags and environment")
}

// docs/cli.md's and docs/clients.md's tables show every cell: a row with
// more cells than its header loses the rest (a stray "|" hid the hints
// of a server certificate the client cannot verify).
func TestCLIDocTables(t *testing.T) {
	for _, name := range []string{"../../docs/cli.md", "../../docs/clients.md"} {
		doc, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		clitest.CheckTables(t, name, doc)
	}
}
