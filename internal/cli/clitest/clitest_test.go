package clitest

import (
	"bytes"
	"flag"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/halfclose/halfclose/internal/cli"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The check passes on what Generate writes and fails on a file that lacks
// a flag.
func TestCheckNamesEveryFlag(t *testing.T) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.String("some-addr", "", "where")
	fs.Bool("P", false, "alias")
	fs.Bool("progress", false, "show progress")
	s := &cli.Spec{Name: "demo", Flags: fs, Short: map[string]string{"progress": "P"}}
	for _, kind := range cli.Kinds {
		var b bytes.Buffer
		if err := s.Generate(&b, kind); err != nil {
			t.Fatal(err)
		}
		CheckNamesEveryFlag(t, s, kind, b.String())
		rec := &recorder{}
		CheckNamesEveryFlag(rec, s, kind, "")
		if rec.errors != 3 {
			t.Errorf("%s: an empty file got %d errors, want 3", kind, rec.errors)
		}
	}
}

type recorder struct {
	testing.TB
	errors int
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.errors++ }

// CheckDocTable passes a table that matches the flags and counts each
// difference in one that does not.
func TestCheckDocTable(t *testing.T) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.String("some-addr", "127.0.0.1:1", "where")
	fs.Duration("wait", time.Minute, "how long")
	fs.Bool("P", false, "alias")
	fs.Bool("progress", false, "show progress")
	fs.Bool("help", false, "help")
	s := &cli.Spec{Name: "demo", Flags: fs, Short: map[string]string{"progress": "P"},
		EnvPrefix: "DEMO", NoEnv: map[string]bool{"help": true, "P": true}}
	good := "# demo\n\n## Flags\n\ntext\n\n| flag | variable | default | meaning |\n|---|---|---|---|\n" +
		"| `--some-addr HOST:PORT` | `DEMO_SOME_ADDR` | `127.0.0.1:1` | where, `a | b` |\n" +
		"| `--wait DURATION` | `DEMO_WAIT` | `1m` | how long |\n" +
		"| `-P`, `--progress` | `DEMO_PROGRESS` | off | |\n\n## Next\n\n| flag | default |\n|---|---|\n| `--nothing` | x |\n"
	CheckDocTable(t, s, []byte(good), "## Flags", "help")
	for _, c := range []struct {
		old, new string
		errors   int
	}{
		{"`1m`", "`2m`", 1},
		{"`DEMO_WAIT`", "`DEMO_WAITS`", 1},
		{"| `-P`, `--progress` | `DEMO_PROGRESS` | off | |\n", "", 1},
		{"`--wait DURATION`", "`--wait`, `--waiting`", 1},
		{"off", "`true`", 1},
		{"## Flags\n", "## Flags here\n", 1},
	} {
		rec := &recorder{}
		CheckDocTable(rec, s, []byte(strings.Replace(good, c.old, c.new, 1)), "## Flags", "help")
		if rec.errors != c.errors {
			t.Errorf("%q -> %q: %d errors, want %d", c.old, c.new, rec.errors, c.errors)
		}
	}
}

// CheckTables passes tables whose rows have their header's cells, an
// escaped "|" in code and fenced code included, and counts each row that
// has more or fewer.
func TestCheckTables(t *testing.T) {
	good := "| a | b |\n|---|---|\n| `x \\| y` | z |\n\ntext | not a row\n\n```\n| one |\n| two | cells |\n```\n| c |\n| d |\n"
	CheckTables(t, "good", []byte(good))
	for _, c := range []struct {
		old, new string
		errors   int
	}{
		{"| `x \\| y` | z |", "| `x | y` | z |", 1},
		{"| `x \\| y` | z |", "| `x` |; more | z |", 1},
		{"| `x \\| y` | z |", "| x |", 1},
		{"|---|---|", "|---|---|---|", 1},
		{"| d |", "| d | e |", 1},
	} {
		rec := &recorder{}
		CheckTables(rec, "doc", []byte(strings.Replace(good, c.old, c.new, 1)))
		if rec.errors != c.errors {
			t.Errorf("%q -> %q: %d errors, want %d", c.old, c.new, rec.errors, c.errors)
		}
	}
}

// CheckDocRefs passes references to headings that are there (a prefix of
// one, a wrapped line, a **bold** lead for see "..."), and counts each
// that is not: to another doc, README.md included, and within one.
func TestCheckDocRefs(t *testing.T) {
	docs := map[string]string{
		"a.md":      "# A\n\n## Sizing the pods\n\n**Lead.** text; see \"Lead.\"\n\n```\n# not a heading\n```\n",
		"README.md": "# halfclose\n\n## Quick start\n\nsee docs/a.md, \"Sizing\", and\n[`a.md`](a.md),\n\"A\"; see \"Quick start\"; README.md, \"Quick start\".\n",
		"b.md":      "# B\n\nsee README.md, \"Quick\" and docs/c.md, \"Anything\".\n",
	}
	run := func(t testing.TB, docs map[string]string) {
		b := map[string][]byte{}
		for k, v := range docs {
			b[k] = []byte(v)
		}
		CheckDocRefs(t, b)
	}
	run(t, docs)
	for _, c := range []struct {
		doc, old, new string
	}{
		{"README.md", `"Sizing"`, `"Sizing pods"`},
		{"README.md", `"A"`, `"B"`},
		{"README.md", `see "Quick start"`, `see "Slow start"`},
		{"README.md", `README.md, "Quick start"`, `README.md, "Slow start"`},
		{"b.md", `README.md, "Quick"`, `README.md, "Slow"`},
		{"a.md", `see "Lead."`, `see "not a heading"`},
	} {
		changed := map[string]string{}
		for k, v := range docs {
			changed[k] = v
		}
		changed[c.doc] = strings.Replace(docs[c.doc], c.old, c.new, 1)
		rec := &recorder{}
		run(rec, changed)
		if rec.errors != 1 {
			t.Errorf("%s: %s -> %s: %d errors, want 1", c.doc, c.old, c.new, rec.errors)
		}
	}
}

// CheckDocFlagMentions and CheckDocEnvMentions pass a doc naming only
// the spec's flags and variables (and the others given), and count each
// other name once.
func TestCheckDocMentions(t *testing.T) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.String("some-addr", "", "where")
	fs.Bool("wait", false, "wait")
	s := &cli.Spec{Name: "demo", Flags: fs, EnvPrefix: "HALFCLOSE"}
	good := "Use `--some-addr` (`HALFCLOSE_SOME_ADDR`) or --wait; sort's --reverse; a--b is no flag; HALFCLOSE_CLIENT_X is the client's.\n"
	CheckDocFlagMentions(t, s, "doc", []byte(good), "reverse")
	CheckDocEnvMentions(t, s, "doc", []byte(good), []string{"HALFCLOSE_CLIENT_"})
	for _, c := range []struct {
		old, new    string
		flags, envs int
	}{
		{"--wait", "--waits and --waits", 1, 0},
		{"`--some-addr`", "`--some-adr`", 1, 0},
		{"HALFCLOSE_SOME_ADDR", "HALFCLOSE_SOME_ADR", 0, 1},
		{"HALFCLOSE_CLIENT_X", "HALFCLOSE_CLIENTX", 0, 1},
	} {
		doc := []byte(strings.Replace(good, c.old, c.new, 1))
		rec := &recorder{}
		CheckDocFlagMentions(rec, s, "doc", doc, "reverse")
		if rec.errors != c.flags {
			t.Errorf("%q -> %q: %d flag errors, want %d", c.old, c.new, rec.errors, c.flags)
		}
		rec = &recorder{}
		CheckDocEnvMentions(rec, s, "doc", doc, []string{"HALFCLOSE_CLIENT_"})
		if rec.errors != c.envs {
			t.Errorf("%q -> %q: %d variable errors, want %d", c.old, c.new, rec.errors, c.envs)
		}
	}
}
