package grep

import (
	"bytes"
	"context"
	"io"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/halfclose/halfclose/compute"
)

// TestLongLineSearchIsCancellable: a line too long to search as a slice
// against its pattern is searched through the cancellable reader, and a
// stop flag set before the search makes it give up at once, with nothing
// selected — where a search over the slice would run for seconds and
// count the line.
func TestLongLineSearchIsCancellable(t *testing.T) {
	t.Parallel()
	half := bytes.Repeat([]byte("ab"), 256<<10)
	line := slices.Concat(half, []byte("x"), half, []byte("\n"))
	for _, args := range [][]string{
		{"-c", "-E", ".{1000}x"},
		{"-o", "-E", "b.{999}x"},
		{"-w", "-E", "b.{999}x"},
		{"-x", "-E", "(a|b)*x(a|b){1000}"},
	} {
		st, err := buildGrep(&compute.Env{}, args)
		if err != nil {
			t.Fatal(err)
		}
		g := st.(*grepStage)
		end, slow := g.m.nextPiece(slices.Concat([]byte("short line\n"), line))
		if end != len("short line\n") || slow {
			t.Fatalf("%q: first piece ends at %d (slow %v), want the short line alone", args, end, slow)
		}
		if end, slow := g.m.nextPiece(line); end != len(line) || !slow {
			t.Fatalf("%q: a line of %d bytes is a piece of %d, slow %v; want one slow piece", args, len(line), end, slow)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var stop atomic.Bool
		stop.Store(true)
		var out bytes.Buffer
		r := &grepRun{ctx: ctx, stop: &stop, g: g, w: newOutBufTo(&out)}
		r.slow = interrupt{stop: &stop, every: 64}
		r.in = &r.slow
		r.process(line)
		r.w.Flush()
		if !r.slow.hit || r.matched != 0 || out.Len() != 0 {
			t.Fatalf("%q: search with the stop flag set: hit %v, %d selected, %q out; want it cut short", args, r.slow.hit, r.matched, out.Bytes())
		}
	}
}

// TestSlowSearchMatchesFast: the reader search gives what the slice
// search gives, on lines with and without bytes >= 0x80 (widened), for
// every shape of search it serves: a line's first match, -o, -w.
func TestSlowSearchMatchesFast(t *testing.T) {
	t.Parallel()
	lines := [][]byte{
		[]byte("foo bar foo_bar barfoo foo"),
		[]byte("\xe9foo\xe9 caf\xe9 foo\xff"),
		[]byte("aaa bbb aab abab"),
		[]byte(""),
		[]byte("x"),
	}
	for _, args := range [][]string{
		{"-o", "foo"}, {"-o", "-E", "a*"}, {"-o", "-E", `\bfoo`}, {"-o", "-E", "^foo|bar$"},
		{"-o", "-w", "foo"}, {"-o", "-E", "[^a-z ]+"}, {"-o", "-i", "-E", "A+B"}, {"-o", "-E", ".o"},
		{"-c", "-E", "f.o"}, {"-c", "-x", "-E", "[a-z ]*"}, {"-c", "-E", "\xe9."},
		// a widened byte read as one rune (hunt gnuhunt: the reader read
		// its two bytes as two runes, so '.' did not match it)
		{"-o", "-E", ".f"}, {"-o", "-E", "caf."}, {"-o", "-w", "-E", "caf."}, {"-o", "-x", "-E", ".foo. caf. foo."},
		// the same without -o: a line selected by the reader search over
		// the widened line (-c counted none of these)
		{"-c", "-E", "caf.( |$)"}, {"-c", "-x", "-E", ".*caf. foo."}, {"-c", "-w", "-E", "f.o\xe9"},
	} {
		st, err := buildGrep(&compute.Env{}, args)
		if err != nil {
			t.Fatal(err)
		}
		g := st.(*grepStage)
		var in []byte
		for _, l := range lines {
			in = append(append(in, l...), '\n')
		}
		run := func(slow bool) string {
			var stop atomic.Bool
			var out bytes.Buffer
			r := &grepRun{ctx: context.Background(), stop: &stop, g: g, w: newOutBufTo(&out)}
			r.slow = interrupt{stop: &stop, every: 3}
			for _, l := range bytes.SplitAfter(in, []byte("\n")) {
				if len(l) == 0 {
					continue
				}
				r.in = nil
				if slow {
					r.in = &r.slow
				}
				r.process(l)
			}
			if g.count {
				io.WriteString(r.w, "count ")
				r.w.WriteString(string(rune('0' + r.matched)))
			}
			r.w.Flush()
			return out.String()
		}
		if fast, slow := run(false), run(true); fast != slow {
			t.Errorf("%q: slice search %q, reader search %q", args, fast, slow)
		}
	}
}
