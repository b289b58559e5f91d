package clitest

import (
	"bytes"
	"flag"
	"testing"

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
