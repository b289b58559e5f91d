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
