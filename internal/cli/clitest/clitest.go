// Package clitest checks what internal/cli generates, for the binaries' tests.
package clitest

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/cli"
	"github.com/halfclose/halfclose/internal/flagenv"
)

// CheckNamesEveryFlag fails t when text, generated as kind, does not name
// every visible flag of s (and its one-letter alias) in that kind's syntax.
// The binaries' tests call it with their real specs.
func CheckNamesEveryFlag(t testing.TB, s *cli.Spec, kind, text string) {
	t.Helper()
	for _, f := range s.AllFlags() {
		var want []string
		switch kind {
		case "man":
			want = []string{`\fB\-\-` + strings.ReplaceAll(f.Name, "-", `\-`) + `\fR`}
			if f.Short != "" {
				want = append(want, `\fB\-`+f.Short+`\fR`)
			}
		case "complete-bash", "complete-zsh":
			want = []string{"--" + f.Name}
			if f.Short != "" {
				want = append(want, "-"+f.Short)
			}
		case "complete-fish":
			want = []string{" -l " + f.Name + " "}
			if f.Short != "" {
				want = append(want, " -s "+f.Short+" ")
			}
		}
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s does not name --%s (%q)", kind, f.Name, w)
			}
		}
	}
}

// CheckDocTable fails t when the flag table under the heading section
// (a line "## Flags and environment", say) of the Markdown doc does not
// match s: a visible flag without a row (omit names the flags the table
// leaves to the text), a row naming a flag s does not have, a default
// that is not the flag's (a table with a "variable" column: a variable
// that is not the flag's, "—" for none). A row is "| `--flag VALUE` |"
// (or "| `-P`, `--progress` |", one flag and its alias) followed by its
// cells; a default is the cell's first `code` (a byte count or duration
// as the flag parses it: `1m` is 1m0s, `16GiB` 17179869184), and a cell
// without code ("none", "off", "auto", empty) stands for a flag whose
// default is empty, false, or not set.
func CheckDocTable(t testing.TB, s *cli.Spec, doc []byte, section string, omit ...string) {
	t.Helper()
	rows, header := docTable(string(doc), section)
	if len(rows) == 0 {
		t.Errorf("no flag table under %q", section)
		return
	}
	varCol := slices.Index(header, "variable")
	defCol := slices.Index(header, "default")
	if defCol < 1 {
		t.Errorf("the flag table under %q has no default column: %q", section, header)
		return
	}
	visible := map[string]cli.Flag{}
	for _, f := range s.AllFlags() {
		visible[f.Name] = f
	}
	documented := map[string]bool{}
	for _, cells := range rows {
		names := flagNames.FindAllStringSubmatch(cells[0], -1)
		if len(names) == 0 || len(cells) <= max(defCol, varCol) {
			t.Errorf("flag table under %q: bad row %q", section, cells)
			continue
		}
		for _, n := range names {
			name := n[1]
			f, ok := visible[name]
			if !ok {
				if !isShort(s, name) {
					t.Errorf("flag table under %q: --%s is not a flag of %s", section, name, s.Name)
				}
				continue
			}
			documented[name] = true
			if got := cells[defCol]; !SameDefault(got, f.DefValue) {
				t.Errorf("flag table under %q: --%s default %q, the flag's is %q", section, name, got, f.DefValue)
			}
			if varCol > 0 {
				want := "`" + f.Env + "`"
				if f.Env == "" {
					want = "—"
				}
				if cells[varCol] != want {
					t.Errorf("flag table under %q: --%s variable %s, want %s", section, name, cells[varCol], want)
				}
			}
		}
	}
	for name := range visible {
		if !documented[name] && !slices.Contains(omit, name) {
			t.Errorf("flag table under %q has no row for --%s", section, name)
		}
	}
}

var flagNames = regexp.MustCompile("`--?([a-zA-Z0-9][a-z0-9-]*)")

func isShort(s *cli.Spec, name string) bool {
	for _, short := range s.Short {
		if short == name {
			return true
		}
	}
	return false
}

// docTable returns the cells of the rows of the first table under the
// heading section whose first cell is a flag, and that table's header.
func docTable(doc, section string) (rows [][]string, header []string) {
	in := false
	for line := range strings.Lines(doc) {
		line = strings.TrimRight(line, "\n")
		if strings.HasPrefix(line, "#") {
			if in && len(rows) > 0 {
				break
			}
			in = line == section
			continue
		}
		if !in || !strings.HasPrefix(line, "| ") {
			if in && len(rows) > 0 {
				break
			}
			continue
		}
		// Only the first cells are read, before any "|" in a meaning's code.
		var cells []string
		for c := range strings.SplitSeq(strings.Trim(line, "|"), "|") {
			cells = append(cells, strings.TrimSpace(c))
		}
		switch {
		case strings.HasPrefix(cells[0], "`-"):
			rows = append(rows, cells)
		case cells[0] == "flag":
			header = cells
		}
	}
	return rows, header
}

// SameDefault reports whether a table's default cell says def, a flag's
// DefValue.
func SameDefault(cell, def string) bool {
	i := strings.Index(cell, "`")
	j := strings.Index(cell[i+1:], "`")
	if i < 0 || j < 0 {
		return def == "" || def == "false" || def == "auto"
	}
	doc := cell[i+1 : i+1+j]
	if doc == def || def == "" && strings.Contains(doc, "--") {
		return true // a default derived from other flags: max(16, --max-jobs/4)
	}
	if a, err := time.ParseDuration(doc); err == nil {
		b, err := time.ParseDuration(def)
		return err == nil && a == b
	}
	if a, err := flagenv.ParseBytes(doc); err == nil {
		b, err := flagenv.ParseBytes(def)
		return err == nil && a == b
	}
	return false
}

// CheckTables fails t for each row of a Markdown table in doc (named
// name) with more or fewer cells than its header: GitHub drops a row's
// cells past the header's, so the text after a stray "|" is never shown
// (a "|" in a cell's code must be escaped, "\|"). Fenced code is skipped.
func CheckTables(t testing.TB, name string, doc []byte) {
	t.Helper()
	fenced, header, n := false, 0, 0
	for line := range strings.Lines(string(doc)) {
		n++
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
		}
		if fenced || !strings.HasPrefix(line, "|") {
			header = 0
			continue
		}
		cells := tableCells(line)
		if header == 0 {
			header = cells
		} else if cells != header {
			t.Errorf("%s:%d: a table row of %d cells under a header of %d", name, n, cells, header)
		}
	}
}

// tableCells counts the cells of a table row: its "|" not escaped, the
// outer ones excepted.
func tableCells(row string) int {
	row = strings.TrimPrefix(row, "|")
	if strings.HasSuffix(row, "|") && !strings.HasSuffix(row, `\|`) {
		row = row[:len(row)-1]
	}
	cells := 1
	for i := 0; i < len(row); i++ {
		switch row[i] {
		case '\\':
			i++
		case '|':
			cells++
		}
	}
	return cells
}

var (
	docFlag = regexp.MustCompile(`(^|[^\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)`)
	docEnv  = regexp.MustCompile(`\bHALFCLOSE_[A-Z0-9_]*[A-Z0-9]`)
)

// CheckDocFlagMentions fails t when the Markdown doc name (its text doc)
// mentions a flag, anywhere (prose, a table, an example), that is not a
// flag of s, hidden ones included, nor one of others: the flags of the
// other binary and of the commands or tools the doc quotes. A renamed or
// dropped flag then fails the doc that still names it, not only its table.
func CheckDocFlagMentions(t testing.TB, s *cli.Spec, name string, doc []byte, others ...string) {
	t.Helper()
	seen := map[string]bool{}
	for _, m := range docFlag.FindAllStringSubmatch(string(doc), -1) {
		f := m[2]
		if seen[f] {
			continue
		}
		seen[f] = true
		if s.Flags.Lookup(f) == nil && !slices.Contains(others, f) {
			t.Errorf("%s mentions --%s, which is not a flag of %s (nor one of the others it quotes)", name, f, s.Name)
		}
	}
}

// CheckDocEnvMentions fails t when a doc names a variable under s's
// prefix (s.EnvPrefix + "_") that is not the variable of one of s's flags,
// nor one of others (full names). Names under a longer prefix in skip
// (the client's HALFCLOSE_CLIENT_ for the server's HALFCLOSE_) are left to
// the spec they belong to.
func CheckDocEnvMentions(t testing.TB, s *cli.Spec, name string, doc []byte, skip []string, others ...string) {
	t.Helper()
	known := map[string]bool{}
	for _, o := range others {
		known[o] = true
	}
	for _, f := range s.AllFlags() {
		if f.Env != "" {
			known[f.Env] = true
		}
	}
	prefix := s.EnvPrefix + "_"
	for _, v := range docEnv.FindAllString(string(doc), -1) {
		if !strings.HasPrefix(v, prefix) || known[v] || slices.ContainsFunc(skip, func(p string) bool { return strings.HasPrefix(v, p) }) {
			continue
		}
		known[v] = true // once
		t.Errorf("%s names %s, which is not the variable of a flag of %s (%s<FLAG>)", name, v, s.Name, prefix)
	}
}

var (
	docRef     = regexp.MustCompile(`(?:docs/)?\b([A-Za-z][\w-]*\.md)` + "`?" + `\]?(?:\([^)]*\))?,? "([^"]+)"`)
	docHeading = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*$`)
	seeRef     = regexp.MustCompile(`\b[Ss]ee "([^"]+)"`)
)

// CheckDocRefs fails t when a reference of the form docs/NAME.md,
// "Section" (or [`NAME.md`](NAME.md), "Section"; README.md, "Section"
// too) in one of docs (file name to text; lines joined, so a reference
// may wrap) names a section
// that is not a heading of NAME.md, or the start of one ("Sizing" for
// "Sizing the pods"), and when a doc's own see "Section" names neither
// one of its headings nor a **Section** paragraph lead of it. A heading
// is a # line outside code fences.
func CheckDocRefs(t testing.TB, docs map[string][]byte) {
	t.Helper()
	headings := map[string][]string{}
	for name, doc := range docs {
		fenced := false
		for _, l := range strings.Split(string(doc), "\n") {
			if strings.HasPrefix(l, "```") {
				fenced = !fenced
				continue
			}
			if m := docHeading.FindStringSubmatch(l); m != nil && !fenced {
				headings[name] = append(headings[name], m[1])
			}
		}
	}
	for name, doc := range docs {
		flat := strings.Join(strings.Fields(string(doc)), " ")
		for _, m := range seeRef.FindAllStringSubmatch(flat, -1) {
			section := m[1]
			if !slices.ContainsFunc(headings[name], func(h string) bool { return strings.HasPrefix(h, section) }) &&
				!strings.Contains(flat, "**"+section+"**") {
				t.Errorf("%s says see %q: no such heading (or **bold** paragraph lead) in it", name, section)
			}
		}
		for _, m := range docRef.FindAllStringSubmatch(flat, -1) {
			target, section := m[1], m[2]
			hs, ok := headings[target]
			if !ok {
				continue // not one of docs (README.md's own, a tool's)
			}
			if !slices.ContainsFunc(hs, func(h string) bool { return strings.HasPrefix(h, section) }) {
				t.Errorf("%s refers to %s, %q: no such heading there", name, target, section)
			}
		}
	}
}
