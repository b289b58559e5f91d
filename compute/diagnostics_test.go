package compute_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/halfclose/halfclose/compute"
)

func TestDiagnostics(t *testing.T) {
	compute.Diagnose(context.Background(), "no holder: dropped, no panic")

	var d compute.Diagnostics
	ctx := compute.WithDiagnostics(context.Background(), &d)
	if got := d.Lines(); got != nil {
		t.Fatalf("no line reported: Lines() = %q, want nil", got)
	}
	compute.Diagnose(ctx, "sort: -:2: disorder: a")
	compute.Diagnose(ctx, "first\nsecond")
	compute.Diagnose(ctx, "bad \xff byte")
	compute.Diagnose(ctx, strings.Repeat("x", compute.MaxDiagnosticBytes+10))
	// A character the cut would split goes whole, as does a byte that
	// is not UTF-8 whose U+FFFD would pass the bound.
	compute.Diagnose(ctx, strings.Repeat("y", compute.MaxDiagnosticBytes-1)+"é")
	compute.Diagnose(ctx, strings.Repeat("z", compute.MaxDiagnosticBytes-2)+"\xff")
	got := d.Lines()
	want := []string{"sort: -:2: disorder: a", "first", "second", "bad \uFFFD byte", strings.Repeat("x", compute.MaxDiagnosticBytes),
		strings.Repeat("y", compute.MaxDiagnosticBytes-1), strings.Repeat("z", compute.MaxDiagnosticBytes-2)}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Lines() = %q, want %q", got, want)
	}
	for i := len(got); i < compute.MaxDiagnostics+3; i++ {
		compute.Diagnose(ctx, "more")
	}
	got = d.Lines()
	// Not a "halfclose:" line, which the CLI prints for its failures alone.
	if len(got) != compute.MaxDiagnostics+1 || got[len(got)-1] != "halfclosed: 3 more diagnostic lines not shown" {
		t.Fatalf("over the bound: %d lines, last %q; want %d, the count of the 3 dropped", len(got), got[len(got)-1], compute.MaxDiagnostics+1)
	}
	var one compute.Diagnostics
	octx := compute.WithDiagnostics(context.Background(), &one)
	for range compute.MaxDiagnostics + 1 {
		compute.Diagnose(octx, "more")
	}
	if l := one.Lines(); l[len(l)-1] != "halfclosed: 1 more diagnostic line not shown" {
		t.Errorf("one dropped: last line %q", l[len(l)-1])
	}
	for _, l := range got {
		if !utf8.ValidString(l) || strings.Contains(l, "\n") || len(l) > compute.MaxDiagnosticBytes {
			t.Errorf("line %q: not one valid UTF-8 line within the bound", l)
		}
	}
}
