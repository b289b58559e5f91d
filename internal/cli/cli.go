// Package cli describes a binary's command line once — its flags (a
// flag.FlagSet), how they are grouped, their environment variables — and
// renders that description as --help text, a man page and shell
// completions, so the four never disagree. Both halfclose binaries use it.
package cli

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/halfclose/halfclose/internal/flagenv"
)

// Spec is everything a binary says about its command line.
type Spec struct {
	Name     string   // the binary, e.g. "halfclose"
	Summary  string   // one line: what it is, for the man page's NAME
	Synopsis []string // usage lines without the name, e.g. "[flags] COMMAND [ARGS...] < input"
	// Description is the text under the synopsis, paragraphs separated by
	// blank lines.
	Description string
	// Flags defines every flag; Groups says how --help groups them. A flag
	// in no group is listed under "Other flags".
	Flags  *flag.FlagSet
	Groups []Group
	// Short maps a flag to its one-letter alias (also defined in Flags),
	// e.g. "progress" → "P". Aliases are not listed on their own.
	Short map[string]string
	// Hidden flags are accepted but never shown or completed.
	Hidden map[string]bool
	// EnvPrefix names each flag's variable (flagenv.EnvName); NoEnv lists
	// the flags without one (--help, --version...).
	EnvPrefix string
	NoEnv     map[string]bool
	// Values describes what a flag's value is, for completion: "file",
	// "dir", or a space-separated list of the accepted words.
	Values map[string]string
	// ValueNames name the argument in --help and the man page, e.g.
	// "addr" → "HOST:PORT". Default: "VALUE".
	ValueNames map[string]string
	// Commands, when set, is a command line whose output lists the words
	// to complete as the first operand, one a line (for halfclose: the
	// server's commands).
	Commands string
	// Sections are extra man page sections (EXIT STATUS, EXAMPLES...),
	// in order.
	Sections []Section
}

// Group is a titled list of flag names for --help.
type Group struct {
	Title string
	Flags []string
}

// Section is a man page section: a title and paragraphs. A paragraph whose
// lines all start with two spaces is printed as an example (no filling).
type Section struct {
	Title string
	Text  string
}

// Flag is one visible flag, with what the spec says about it.
type Flag struct {
	*flag.Flag
	Short     string // one-letter alias, or ""
	Bool      bool   // takes no value
	ValueName string // "" for bool flags
	Env       string // its variable, or ""
	Values    string // completion hint (see Spec.Values)
}

// VisibleFlags returns the flags --help shows, grouped: every group's
// flags in order, then the rest by name under "Other flags".
func (s *Spec) VisibleFlags() []GroupFlags {
	seen := map[string]bool{}
	var out []GroupFlags
	for _, g := range s.Groups {
		gf := GroupFlags{Title: g.Title}
		for _, name := range g.Flags {
			if f := s.flag(name); f != nil {
				gf.Flags = append(gf.Flags, *f)
				seen[name] = true
			}
		}
		out = append(out, gf)
	}
	aliases := map[string]bool{}
	for _, a := range s.Short {
		aliases[a] = true
	}
	var rest []string
	s.Flags.VisitAll(func(f *flag.Flag) {
		if !seen[f.Name] && !aliases[f.Name] && !s.Hidden[f.Name] {
			rest = append(rest, f.Name)
		}
	})
	if len(rest) > 0 {
		sort.Strings(rest)
		gf := GroupFlags{Title: "Other flags"}
		for _, name := range rest {
			gf.Flags = append(gf.Flags, *s.flag(name))
		}
		out = append(out, gf)
	}
	return out
}

// AllFlags returns every visible flag, in --help order.
func (s *Spec) AllFlags() []Flag {
	var out []Flag
	for _, g := range s.VisibleFlags() {
		out = append(out, g.Flags...)
	}
	return out
}

// GroupFlags is a group with its flags resolved.
type GroupFlags struct {
	Title string
	Flags []Flag
}

func (s *Spec) flag(name string) *Flag {
	f := s.Flags.Lookup(name)
	if f == nil || s.Hidden[name] {
		return nil
	}
	out := &Flag{Flag: f, Short: s.Short[name], Values: s.Values[name]}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		out.Bool = true
	} else {
		out.ValueName = s.ValueNames[name]
		if out.ValueName == "" {
			out.ValueName = "VALUE"
		}
	}
	if s.EnvPrefix != "" && !s.NoEnv[name] {
		out.Env = flagenv.EnvName(s.EnvPrefix, name)
	}
	return out
}

// Spelling is how the flag is written in --help: "-P, --progress",
// "    --addr HOST:PORT".
func (f Flag) Spelling() string {
	b := "    "
	if f.Short != "" {
		b = "-" + f.Short + ", "
	}
	b += "--" + f.Name
	if !f.Bool {
		b += " " + f.ValueName
	}
	return b
}

// DefaultText is the default worth showing, or "": a boolean's only when
// it is on (an off one is the flag's absence).
func (f Flag) DefaultText() string {
	if f.Bool && f.DefValue == "true" {
		return "true"
	}
	if f.Bool || f.DefValue == "" || f.DefValue == "0" || f.DefValue == "0s" || f.DefValue == "[]" {
		return ""
	}
	return f.DefValue
}

// Usage writes the --help text: synopsis, description, grouped flags with
// defaults and variables.
func (s *Spec) Usage(w io.Writer) {
	for i, l := range s.Synopsis {
		if i == 0 {
			fmt.Fprintf(w, "Usage: %s %s\n", s.Name, l)
		} else {
			fmt.Fprintf(w, "       %s %s\n", s.Name, l)
		}
	}
	if s.Description != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(s.Description))
	}
	width := 0
	for _, f := range s.AllFlags() {
		width = max(width, len(f.Spelling()))
	}
	for _, g := range s.VisibleFlags() {
		fmt.Fprintf(w, "\n%s:\n", g.Title)
		for _, f := range g.Flags {
			text := f.Usage
			if d := f.DefaultText(); d != "" {
				text += " (default " + d + ")"
			}
			lines := wrap(text, max(30, usageWidth-width-4))
			fmt.Fprintf(w, "  %-*s  %s\n", width, f.Spelling(), lines[0])
			for _, l := range lines[1:] {
				fmt.Fprintf(w, "  %-*s  %s\n", width, "", l)
			}
		}
	}
	if s.EnvPrefix != "" {
		text := fmt.Sprintf("Every flag but %s can also be set by its variable %s_<FLAG> (%s for --%s); a flag on the command line wins.",
			strings.Join(s.noEnvFlags(), ", "), s.EnvPrefix, s.exampleEnv(), s.exampleEnvFlag())
		fmt.Fprintf(w, "\n%s\n", strings.Join(wrap(text, usageWidth), "\n"))
	}
}

func (s *Spec) exampleEnvFlag() string {
	for _, f := range s.AllFlags() {
		if f.Env != "" && strings.Contains(f.Name, "-") {
			return f.Name
		}
	}
	return "addr"
}

func (s *Spec) exampleEnv() string { return flagenv.EnvName(s.EnvPrefix, s.exampleEnvFlag()) }

// usageWidth is the width --help wraps to.
const usageWidth = 80

// wrap breaks text into lines of at most width runes, at spaces (a longer
// word gets a line of its own).
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) <= width:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
	}
	return append(lines, line)
}

// Kinds are what Generate can write.
var Kinds = []string{"man", "complete-bash", "complete-zsh", "complete-fish"}

// Generate writes the man page or a completion script.
func (s *Spec) Generate(w io.Writer, kind string) error {
	switch kind {
	case "man":
		return s.man(w)
	case "complete-bash":
		return s.bash(w)
	case "complete-zsh":
		return s.zsh(w)
	case "complete-fish":
		return s.fish(w)
	}
	return fmt.Errorf("--generate: unknown kind %q (want one of %s)", kind, strings.Join(Kinds, ", "))
}

// NoEnvNames lists the flags without a variable: Spec.NoEnv and the
// one-letter aliases (for flagenv.Apply's skip list).
func (s *Spec) NoEnvNames() []string {
	var out []string
	for name := range s.NoEnv {
		out = append(out, name)
	}
	for _, a := range s.Short {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}
