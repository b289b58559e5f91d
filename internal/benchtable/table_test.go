//go:build linux

package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// took is an outcome of a row that moved 1 GB in secs seconds.
func took(secs float64, sum string) outcome {
	o := outcome{res: Result{Bytes: 1e9, Elapsed: time.Duration(secs * float64(time.Second))}}
	if sum != "" {
		o.res.OutputSum = []byte(sum)
	}
	return o
}

// TestVerdicts: the verdict of each row against its baseline, its bar
// and the lowest ceiling of its group, for the rows sent with nc.
func TestVerdicts(t *testing.T) {
	noRun := func(*Env) (Result, error) { return Result{}, nil }
	row := func(name string, bar float64) Row { return Row{Group: "g", Name: name, Bar: bar, Run: noRun} }
	base := Row{Group: "g", Name: "GNU", Baseline: true, Run: noRun}
	ncRow := row("nc -N < (grep + log) (TCP)", 0.6)
	inProc := row("in process", 1.0)
	ncnc := Row{Group: "g", Name: "ceiling: nc→nc", Ceiling: "nc→nc", Run: noRun}
	updown := Row{Group: "g", Name: "ceiling: up+down", Ceiling: "nc up+down", Run: noRun}
	// The baseline takes 1.1 s: a row taking 1.1/q s has ratio q.
	at := func(q float64) outcome { return took(1.1/q, "out") }

	for _, tc := range []struct {
		name string
		rows []Row
		outs []outcome
		want map[string]string // row name → verdict
	}{
		{"pass", []Row{base, ncRow}, []outcome{at(1), at(0.7)},
			map[string]string{"GNU": "baseline", ncRow.Name: "PASS"}},
		{"fail, no ceiling", []Row{base, ncRow}, []outcome{at(1), at(0.4)},
			map[string]string{ncRow.Name: "FAIL"}},
		{"fail, ceiling above the bar", []Row{base, ncRow, ncnc}, []outcome{at(1), at(0.4), took(1.1/0.87, "")},
			map[string]string{ncRow.Name: "FAIL", ncnc.Name: "ceiling"}},
		{"fail under the nc→nc ceiling", []Row{base, ncRow, ncnc}, []outcome{at(1), at(0.4), took(1.1/0.5, "")},
			map[string]string{ncRow.Name: "FAIL (bar > nc→nc 0.50x)"}},
		{"fail under the upload+download ceiling", []Row{base, ncRow, updown}, []outcome{at(1), at(0.46), at(0.53)},
			map[string]string{ncRow.Name: "FAIL (bar > nc up+down 0.53x)", updown.Name: "ceiling"}},
		{"the lowest ceiling is named", []Row{base, ncRow, ncnc, updown}, []outcome{at(1), at(0.46), took(1.1/0.87, ""), at(0.53)},
			map[string]string{ncRow.Name: "FAIL (bar > nc up+down 0.53x)"}},
		{"a ceiling bounds only the rows sent with nc", []Row{base, inProc, updown}, []outcome{at(1), at(0.9), at(0.53)},
			map[string]string{inProc.Name: "FAIL"}},
		{"a ceiling that failed bounds nothing", []Row{base, ncRow, updown}, []outcome{at(1), at(0.4), {err: errors.New("nc: refused")}},
			map[string]string{ncRow.Name: "FAIL", updown.Name: "ERROR"}},
		{"a ceiling with the wrong output", []Row{base, ncRow, updown}, []outcome{at(1), at(0.4), took(1.1/0.53, "truncated")},
			map[string]string{updown.Name: "WRONG OUTPUT", ncRow.Name: "FAIL"}},
		{"wrong output before the bar", []Row{base, ncRow, updown}, []outcome{at(1), took(1.1/0.9, "other"), at(0.53)},
			map[string]string{ncRow.Name: "WRONG OUTPUT"}},
		{"no baseline", []Row{ncRow, updown}, []outcome{at(0.4), at(0.53)},
			map[string]string{ncRow.Name: "", updown.Name: ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines, _ := tableLines(tc.rows, tc.outs)
			got := map[string]string{}
			for _, l := range lines {
				got[l[1]] = l[6]
			}
			for name, want := range tc.want {
				if got[name] != want {
					t.Errorf("%s: verdict %q, want %q", name, got[name], want)
				}
			}
		})
	}
}

// TestTableCPUColumns: the CPU columns show what was measured, "-" for
// the sides that were not, and the notes keep the row's note.
func TestTableCPUColumns(t *testing.T) {
	noRun := func(*Env) (Result, error) { return Result{}, nil }
	rows := []Row{
		{Group: "g", Name: "a", Baseline: true, Run: noRun},
		{Group: "g", Name: "b", Run: noRun},
		{Group: "g", Name: "c", Run: noRun},
	}
	a := took(2, "")
	a.res.CPU = CPU{Client: 1500 * time.Millisecond, HasClient: true}
	b := took(1, "")
	b.res.CPU = CPU{Client: 250 * time.Millisecond, Server: 1250 * time.Millisecond, Hash: 400 * time.Millisecond, HasClient: true, HasServer: true, HasHash: true}
	b.res.Note = "a note"
	c := outcome{skipped: "no tool"}
	lines, notes := tableLines(rows, []outcome{a, b, c})
	want := [][]string{
		{"g", "a", "2.00", "500", "1.00x", "", "baseline", "1.50", "-", "-"},
		{"g", "b", "1.00", "1000", "2.00x", "", "", "0.25", "1.25", "0.40"},
		{"g", "c", "-", "-", "-", "", "SKIP", "-", "-", "-"},
	}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Fatalf("lines\n%q\nwant\n%q", lines, want)
	}
	if len(lines[0]) != len(tableHeader) {
		t.Fatalf("%d cells, %d columns", len(lines[0]), len(tableHeader))
	}
	if j := strings.Join(notes, "\n"); !strings.Contains(j, "g/b: a note") || !strings.Contains(j, "g/c: skipped: no tool") {
		t.Fatalf("notes: %q", notes)
	}
}
