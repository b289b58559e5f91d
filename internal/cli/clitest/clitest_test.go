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
