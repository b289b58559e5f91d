package main

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
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
		"grpc-max-conns", "grpc-max-conns-per-peer", "max-conns",
		// the commands' (cksum, sha256sum and its check mode, sort), and
		// a misspelling quoted
		"al", "check", "tag", "debug", "quiet", "status", "warn", "strict", "ignore-missing", "reverse", "revrese")
	for _, name := range []string{"README.md", "docs/cli.md", "docs/clients.md", "docs/deploy.md", "docs/operations.md", "docs/protocol.md"} {
		doc, err := os.ReadFile("../../" + name)
		if err != nil {
			t.Fatal(err)
		}
		clitest.CheckDocEnvMentions(t, spec, name, doc, nil,
			"HALFCLOSE_CLIENT_ADR") // a misspelling quoted
	}
}

// The man page's and --help's exit statuses are docs/cli.md's, no more
// and no fewer: a status added to one of them alone fails.
func TestExitStatusesMatchCLIDoc(t *testing.T) {
	doc, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "## Exit status")
	if !ok {
		t.Fatal("docs/cli.md has no ## Exit status")
	}
	table, _, _ = strings.Cut(strings.TrimLeft(table, "\n"), "\n\n") // the table, up to its end
	documented := statuses(regexp.MustCompile(`(?m)^\| ([0-9, ]+)[ |(]`), table)
	var man map[string]bool
	for _, s := range newSpec(&options{}).Sections {
		if s.Title == "Exit status" {
			man = statuses(regexp.MustCompile(`(?m)^([0-9, ]+):`), s.Text)
		}
	}
	if len(documented) == 0 || !maps.Equal(documented, man) {
		t.Errorf("exit statuses: docs/cli.md %v, the man page %v", slices.Sorted(maps.Keys(documented)), slices.Sorted(maps.Keys(man)))
	}
}

// statuses returns the numbers of the first group of re's matches in text.
func statuses(re *regexp.Regexp, text string) map[string]bool {
	out := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		for _, n := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ',' || r == ' ' }) {
			out[n] = true
		}
	}
	return out
}
