package cli

import (
	"bytes"
	"flag"
	"runtime/debug"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testSpec() *Spec {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.String("addr", "127.0.0.1:1", "where to connect")
	fs.Bool("fast", false, "go fast: really [fast]")
	fs.Bool("F", false, "same as --fast")
	fs.String("ca", "", "CA file")
	fs.String("mode", "a", "mode")
	fs.Int("orphan", 3, "in no group")
	fs.Bool("secret", false, "hidden")
	return &Spec{
		Name: "demo", Summary: "a demo", Synopsis: []string{"[flags] X"},
		Description: "Does things.\n\n  demo x\n  demo y",
		Flags:       fs,
		Groups:      []Group{{Title: "Connection", Flags: []string{"addr", "ca"}}, {Title: "Speed", Flags: []string{"fast", "mode"}}},
		Short:       map[string]string{"fast": "F"},
		Hidden:      map[string]bool{"secret": true},
		EnvPrefix:   "DEMO",
		NoEnv:       map[string]bool{"mode": true},
		Values:      map[string]string{"ca": "file", "mode": "a b"},
		ValueNames:  map[string]string{"addr": "HOST:PORT"},
		Commands:    "--names",
		Sections:    []Section{{Title: "Exit status", Text: "0: fine."}},
	}
}

func TestUsageGroupsFlags(t *testing.T) {
	var b bytes.Buffer
	testSpec().Usage(&b)
	got := b.String()
	for _, want := range []string{
		"Usage: demo [flags] X\n",
		"\nConnection:\n      --addr HOST:PORT  where to connect (default 127.0.0.1:1)\n      --ca VALUE        CA file\n",
		"\nSpeed:\n  -F, --fast            go fast: really [fast]\n      --mode VALUE      mode (default a)\n",
		"\nOther flags:\n      --orphan VALUE    in no group (default 3)\n",
		"DEMO_<FLAG> (DEMO_ADDR for",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("usage lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "secret") {
		t.Errorf("usage shows a hidden flag:\n%s", got)
	}
}

// Every visible flag is in every generated file; hidden ones are not.
func TestGenerateNamesEveryFlag(t *testing.T) {
	s := testSpec()
	for _, kind := range Kinds {
		var b bytes.Buffer
		if err := s.Generate(&b, kind); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		for _, f := range s.AllFlags() {
			if !strings.Contains(b.String(), f.Name) {
				t.Errorf("%s does not name --%s", kind, f.Name)
			}
		}
		if strings.Contains(b.String(), "secret") {
			t.Errorf("%s names the hidden flag", kind)
		}
	}
	if err := s.Generate(&bytes.Buffer{}, "complete-tcsh"); err == nil {
		t.Error("an unknown kind was accepted")
	}
}

func TestManPage(t *testing.T) {
	var b bytes.Buffer
	if err := testSpec().Generate(&b, "man"); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{
		".TH DEMO 1 ", ".SH NAME\ndemo \\- a demo\n", ".SS Connection\n",
		`\fB\-F\fR, \fB\-\-fast\fR`, `\fB\-\-addr\fR \fIHOST:PORT\fR`,
		"variable DEMO_ADDR.", ".SH EXIT STATUS\n0: fine.\n", ".nf\n.RS 4\ndemo x\ndemo y\n.RE\n.fi\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("man page lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "DEMO_MODE") {
		t.Error("a flag with no variable got one")
	}
}

func TestVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	got := version("demo", bi)
	if !strings.HasPrefix(got, "demo v1.2.3 (rev 0123456789ab, 2026-01-02T03:04:05Z, modified) go1.99 ") {
		t.Errorf("version = %q", got)
	}
	if got := version("demo", nil); !strings.HasPrefix(got, "demo (devel) go") {
		t.Errorf("version without build info = %q", got)
	}
	if got := Version("demo"); !strings.HasPrefix(got, "demo ") {
		t.Errorf("Version = %q", got)
	}
}

func TestWrap(t *testing.T) {
	got := wrap("aa bb cc dddddddd e", 5)
	want := []string{"aa bb", "cc", "dddddddd", "e"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("wrap = %q, want %q", got, want)
	}
}

// A boolean that is on by default says so in --help and the man page:
// halfclosed's --tcp-sendfile read as off ("false: read it into the
// process") with nothing to tell it is on unless turned off. One that is
// off says nothing (its absence is the default).
func TestUsageShowsTrueBoolDefault(t *testing.T) {
	s := testSpec()
	s.Flags.Bool("quick", true, "go quick")
	s.Groups[1].Flags = append(s.Groups[1].Flags, "quick")
	var usage, man bytes.Buffer
	s.Usage(&usage)
	if err := s.Generate(&man, "man"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(usage.String(), "--quick           go quick (default true)\n") {
		t.Errorf("usage does not show --quick's default true:\n%s", usage.String())
	}
	if !strings.Contains(man.String(), `go quick (default true); variable DEMO_QUICK.`) {
		t.Errorf("man page does not show --quick's default true:\n%s", man.String())
	}
	if strings.Contains(usage.String(), "default false") || strings.Contains(man.String(), "default false") {
		t.Errorf("a false boolean's default is shown")
	}
}
