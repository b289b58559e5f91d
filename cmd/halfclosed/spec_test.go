package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/internal/cli"
	"github.com/halfclose/halfclose/internal/cli/clitest"
)

// Every flag is in a named group of --help, and the man page and the
// completions name every one; the hidden benchmark flag is in none.
func TestSpecCoversEveryFlag(t *testing.T) {
	spec := newSpec(defaultConfig())
	var b bytes.Buffer
	spec.Usage(&b)
	if strings.Contains(b.String(), "Other flags:") {
		t.Errorf("a flag is in no group:\n%s", b.String())
	}
	for _, kind := range cli.Kinds {
		var g bytes.Buffer
		if err := spec.Generate(&g, kind); err != nil {
			t.Fatal(err)
		}
		clitest.CheckNamesEveryFlag(t, spec, kind, g.String())
		if strings.Contains(g.String(), "no-interceptors") {
			t.Errorf("%s names the hidden --no-interceptors", kind)
		}
	}
	if !strings.Contains(b.String(), "(default 16GiB)") {
		t.Errorf("--help lacks the byte-count defaults:\n%s", b.String())
	}
}

// --help, --version and --generate stop before validation; a bad flag or
// value (a route that does not compile included) is a usage error, exit 2.
func TestParseConfigUsage(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "--version", "--generate=man"} {
		c, err := parseConfig([]string{arg, "--max-jobs=0"}, io.Discard)
		if err != nil || !(c.help || c.version || c.generate != "") {
			t.Errorf("%s: %v", arg, err)
		}
	}
	for _, args := range [][]string{
		{"--bogus"}, {"--max-jobs=x"}, {"stray"}, {"--tcp-route", "127.0.0.1:0=sha256summ"},
	} {
		_, err := parseConfig(args, io.Discard)
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	t.Setenv("HALFCLOSE_VERSION", "true")
	t.Setenv("HALFCLOSE_HELP", "true")
	if c, err := parseConfig(nil, io.Discard); err != nil || c.version || c.help {
		t.Errorf("HALFCLOSE_VERSION/HELP were read: %+v, %v", c, err)
	}
}
