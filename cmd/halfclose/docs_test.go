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

// Every flag docs/cli.md names, in prose and examples too, is
// halfclose's, or one of the server's or the commands' it quotes; every
// HALFCLOSE_CLIENT_ variable the docs name is a flag's.
func TestCLIDocMentions(t *testing.T) {
	doc, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	spec := newSpec(&options{})
	clitest.CheckDocFlagMentions(t, spec, "docs/cli.md", doc,
		// halfclosed's
		"auth-token-file", "idle-timeout", "max-input-bytes", "max-msg-bytes", "tcp-route", "tls-client-ca",
		// the commands' (cksum, sha256sum and its check mode, sort), and
		// a misspelling quoted
		"al", "check", "tag", "debug", "quiet", "status", "warn", "strict", "ignore-missing", "reverse", "revrese")
	for _, name := range []string{"README.md", "docs/cli.md", "docs/clients.md", "docs/deploy.md", "docs/operations.md", "docs/protocol.md"} {
		doc, err := os.ReadFile("../../" + name)
		if err != nil {
			t.Fatal(err)
		}
		clitest.CheckDocEnvMentions(t, spec, name, doc, nil)
	}
}
