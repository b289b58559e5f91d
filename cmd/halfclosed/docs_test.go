package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
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
		{"| `--max-jobs-per-peer` | `max(16, --max-jobs/4)` (", c.jobsPerPeer()},
		{"| `--max-requests-per-peer` | `max(16, --max-conns/4)` (", c.requestsPerPeer()},
		{"| `--grpc-max-requests` | `max(64, 4 × --max-jobs)` (", c.grpcRequests()},
		{"| `--grpc-max-conns-per-peer` | `max(16, --grpc-max-conns/4)` (", c.grpcConnsPerPeerCap()},
	} {
		if !strings.Contains(string(doc), row.cell+strconv.Itoa(row.n)+") |") {
			t.Errorf("docs/operations.md lacks %s%d) |", row.cell, row.n)
		}
	}
}

// docs/operations.md's, docs/protocol.md's, docs/deploy.md's and the
// README's tables show every cell: a row with more cells than its header
// loses the rest (docs/cli.md and docs/clients.md: cmd/halfclose).
func TestOperationsDocTables(t *testing.T) {
	for _, name := range []string{"../../docs/operations.md", "../../docs/protocol.md", "../../docs/deploy.md", "../../README.md"} {
		doc, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		clitest.CheckTables(t, name, doc)
	}
}

// Every flag docs/operations.md names, in prose and examples too, is
// halfclosed's, or one of the client's or the tools' it quotes; every
// HALFCLOSE_ variable the docs name (the client's HALFCLOSE_CLIENT_ ones
// and the pattern HALFCLOSE_CLIENT_* aside: cmd/halfclose checks them) is a flag's.
func TestOperationsDocMentions(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	spec := newSpec(defaultConfig())
	clitest.CheckDocFlagMentions(t, spec, "docs/operations.md", doc,
		"some-flag", // the naming rule's placeholder
		// the halfclose client's, in its examples
		"addr", "tcp", "tls", "cacert", "cert", "key", "token-file", "chunk-size",
		// sort's, b3sum's, zstd's, ghz's
		"batch-size", "sort", "num-threads", "long", "connections")
	for _, name := range docNames {
		doc, err := os.ReadFile("../../" + name)
		if err != nil {
			t.Fatal(err)
		}
		clitest.CheckDocEnvMentions(t, spec, name, doc, []string{"HALFCLOSE_CLIENT"},
			append([]string{
				"HALFCLOSE_SOME_FLAG", // the naming rule's placeholder
				"HALFCLOSE_MAX_JOB",   // a misspelling quoted
			}, otherEnv...)...) // the examples' old name for --addr, the tests' switches
	}
}

var docNames = []string{"README.md", "docs/cli.md", "docs/clients.md", "docs/deploy.md", "docs/operations.md", "docs/protocol.md"}

// A reference to a section of another doc (docs/protocol.md, "Commands")
// names a heading that is there: docs/cli.md sent readers to a paragraph
// of protocol.md's as if it were one.
func TestDocsCrossReferences(t *testing.T) {
	docs := map[string][]byte{}
	for _, name := range docNames {
		doc, err := os.ReadFile("../../" + name)
		if err != nil {
			t.Fatal(err)
		}
		docs[filepath.Base(name)] = doc
	}
	clitest.CheckDocRefs(t, docs)
}

// clientFlags are the halfclose client's flags the docs quote (also the
// example clients' names).
var clientFlags = []string{"addr", "tcp", "tcp-addr", "timeout", "tls", "cacert", "cert", "key", "token-file", "chunk-size"}

// Every flag README.md, docs/protocol.md, docs/clients.md, docs/deploy.md
// and deploy/'s files (their comments too) name is halfclosed's, a
// command's (refused ones too: protocol.md lists them), or one of the few
// others they quote. TestOperationsDocMentions and TestCLIDocMentions
// checked only operations.md and cli.md: a flag renamed in the server or
// dropped from a command could still be named in the others.
func TestProtocolDocMentions(t *testing.T) {
	var commands []string
	for _, c := range defaultConfig().commands.Commands() {
		for _, f := range c.Flags {
			if f.Long != "" {
				commands = append(commands, f.Long)
			}
		}
	}
	spec := newSpec(defaultConfig())
	for _, d := range []struct {
		name   string
		others []string
	}{
		// the halfclose client's, in its examples
		{"README.md", []string{"addr", "tcp"}},
		{"docs/protocol.md", []string{
			"addr", "tcp", "token-file", "chunk-size", // the halfclose client's
			"ver", "in", "fixed", // abbreviations, quoted (--version, grep's ambiguous --in, --fixed-)
			"revrese", // a misspelling, quoted
		}},
		{"docs/clients.md", append(slices.Clone(clientFlags),
			"pyi", "python", "grpc", "plugin", "experimental", // protoc's (--python_out...)
			"protocol", "http2-prior-knowledge", "list-methods")}, // buf curl's
		{"docs/deploy.md", append(slices.Clone(clientFlags), "rm")},                                        // docker's
		{"deploy/measure-memory.sh", append(slices.Clone(clientFlags), "call", "connections", "insecure")}, // and ghz's
		{"deploy/Dockerfile", []string{"from"}},
		{"deploy/k8s/deployment.yaml", nil},
		{"deploy/k8s/service.yaml", clientFlags},
		{"deploy/nginx/nginx.conf.template", nil},
		{"deploy/haproxy/haproxy.cfg", nil},
	} {
		doc, err := os.ReadFile("../../" + d.name)
		if err != nil {
			t.Fatal(err)
		}
		clitest.CheckDocFlagMentions(t, spec, d.name, doc, append(commands, d.others...)...)
	}
}

// docs/protocol.md's table of commands ("## Commands") names every
// command the daemon serves and no other, and each one-letter flag its
// flags column gives is one its commands take (-N and -NUM stand for a
// count): a command added, or a flag dropped or refused, fails the table
// users read, not only Capabilities.
func TestProtocolDocCommands(t *testing.T) {
	doc, err := os.ReadFile("../../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]*compute.Command{}
	for _, c := range defaultConfig().commands.Commands() {
		served[c.Name] = c
	}
	rows := commandRows(string(doc))
	if len(rows) == 0 {
		t.Fatal(`docs/protocol.md: no table of commands under "## Commands"`)
	}
	named := map[string]bool{}
	name := regexp.MustCompile("`([a-z0-9]+)`")
	short := regexp.MustCompile("(?:^|[\\s`(,/])-([A-Za-z0-9]+)")
	for _, cells := range rows {
		var cmds []*compute.Command
		for _, m := range name.FindAllStringSubmatch(cells[0], -1) {
			named[m[1]] = true
			if c := served[m[1]]; c != nil {
				cmds = append(cmds, c)
			} else {
				t.Errorf("docs/protocol.md lists the command %q, which the daemon does not serve", m[1])
			}
		}
		for _, m := range short.FindAllStringSubmatch(cells[1], -1) {
			f := m[1]
			if f == "N" || f == "NUM" || len(f) != 1 {
				continue // a count, or a word (-NUM, --long: TestProtocolDocMentions)
			}
			for _, c := range cmds {
				if !slices.ContainsFunc(c.Flags, func(s compute.FlagSpec) bool { return s.Short == f[0] && s.Refuse == "" }) {
					t.Errorf("docs/protocol.md gives %s the flag -%s, which it does not take", c.Name, f)
				}
			}
		}
	}
	for n := range served {
		if !named[n] {
			t.Errorf("docs/protocol.md's table of commands has no row for %s", n)
		}
	}
}

// commandRows returns the cells of the rows of the table under
// "## Commands" ("\|" in a cell is not a separator).
func commandRows(doc string) [][]string {
	var rows [][]string
	in := false
	for line := range strings.Lines(doc) {
		line = strings.TrimRight(line, "\n")
		if strings.HasPrefix(line, "## ") {
			in = line == "## Commands"
			continue
		}
		if !in || !strings.HasPrefix(line, "| `") {
			if in && len(rows) > 0 && !strings.HasPrefix(line, "|") {
				break
			}
			continue
		}
		var cells []string
		for c := range strings.SplitSeq(strings.ReplaceAll(strings.Trim(line, "|"), `\|`, "\x00"), "|") {
			cells = append(cells, strings.TrimSpace(strings.ReplaceAll(c, "\x00", "|")))
		}
		rows = append(rows, cells)
	}
	return rows
}

// The man page's and --help's exit status 1 names what docs/operations.md
// says exits 1 ("A listener, certificate, ... that cannot be used exits
// with status 1"): the man page left out --spool-dir.
func TestExitStatusMatchesOperationsDoc(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`A (listener, [^.]*?) that\s+cannot be used exits with status 1`).FindStringSubmatch(string(doc))
	if m == nil {
		t.Fatal("docs/operations.md does not say what exits with status 1")
	}
	want := strings.Join(strings.Fields(strings.ReplaceAll(m[1], "`", "")), " ")
	for _, s := range newSpec(defaultConfig()).Sections {
		if s.Title != "Exit status" {
			continue
		}
		if got := strings.Join(strings.Fields(s.Text), " "); !strings.Contains(got, "1: a "+want+" that cannot be used") {
			t.Errorf("the exit status section says %q; docs/operations.md: status 1 for a %s", got, want)
		}
		return
	}
	t.Error("halfclosed's spec has no exit status section")
}

// Every test, benchmark or fuzz target the docs cite as evidence
// (`TestMemoryBound`, `go test -run X -bench BenchmarkStreamLayers`) is
// one the repository has, and every path they name under its own
// directories (server/codec.go, e2e/waitmem_test.go) is there: a renamed
// test or moved file left the docs pointing at nothing.
func TestDocsNameRealTestsAndFiles(t *testing.T) {
	removed := map[string]bool{
		"TestConnInputFillsWhileJobBusy": true, // operations.md tells of its removal
	}
	funcs := map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func ((?:Test|Benchmark|Fuzz|Example)\w*)\(`)
	err := filepath.WalkDir("../..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllSubmatch(src, -1) {
			funcs[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`\b(?:Test|Benchmark|Fuzz)[A-Z]\w*`)
	link := regexp.MustCompile(`\]\(([^)\s#]+)(?:#[^)]*)?\)`)
	path := regexp.MustCompile("(?:^|[\\s`(])((?:cmd|server|client|compute|internal|e2e|deploy|examples|proto|api|tools|docs)/[\\w./-]*[\\w/])")
	for _, doc := range docNames {
		text, err := os.ReadFile("../../" + doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range name.FindAllString(string(text), -1) {
			if !funcs[n] && !removed[n] {
				t.Errorf("%s cites %s, which no test file declares", doc, n)
			}
		}
		for _, m := range path.FindAllStringSubmatch(string(text), -1) {
			p := m[1]
			if p == "internal/poll" { // Go's own, not the repository's
				continue
			}
			if _, err := os.Stat("../../" + p); err != nil {
				t.Errorf("%s names %s, which is not in the repository", doc, p)
			}
		}
		// A link's target, relative to the doc ([client](../client/client.go),
		// [protocol](protocol.md#commands)): the paths above are the ones
		// written under the repository's directories, which ../ is not.
		for _, m := range link.FindAllStringSubmatch(string(text), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if _, err := os.Stat(filepath.Join("../..", filepath.Dir(doc), target)); err != nil {
				t.Errorf("%s links to %s, which is not in the repository", doc, target)
			}
		}
	}
}
