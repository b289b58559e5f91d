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
	got := d.Lines()
	want := []string{"sort: -:2: disorder: a", "first", "bad \uFFFD byte", strings.Repeat("x", compute.MaxDiagnosticBytes)}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Lines() = %q, want %q", got, want)
	}
	for i := len(got); i < compute.MaxDiagnostics+3; i++ {
		compute.Diagnose(ctx, "more")
	}
	got = d.Lines()
	if len(got) != compute.MaxDiagnostics+1 || got[len(got)-1] != "halfclose: 3 more diagnostic lines not shown" {
		t.Fatalf("over the bound: %d lines, last %q; want %d, the count of the 3 dropped", len(got), got[len(got)-1], compute.MaxDiagnostics+1)
	}
	for _, l := range got {
		if !utf8.ValidString(l) || strings.Contains(l, "\n") {
			t.Errorf("line %q: not one valid UTF-8 line", l)
		}
	}
}
