package text_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/halfclose/halfclose/internal/shquote"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/testenv"
)

func compressible(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(i % 1000))
		b.WriteString(" the quick brown fox\n")
	}
	return b.Bytes()[:n]
}

// TestGzipRoundTripGNU: every spelling, on inputs of several 128 KiB
// read buffers (random: 384 KiB; compressible: over 1 MiB, where the ratio
// is checked); the long run (testenv.Long) uses 3 and 6 MiB.
func TestGzipRoundTripGNU(t *testing.T) {
	t.Parallel()
	random, comp := 3*128<<10+17, 1<<20+4096
	if testenv.Long() {
		random, comp = 3<<20+17, 6<<20
	}
	ins := map[string][]byte{
		"empty":        nil,
		"one":          []byte("x"),
		"random":       computetest.RandomBytes(5, random),
		"compressible": compressible(comp),
		"long":         filterInputs()["long"],
	}
	names, all := computetest.SortedInputs(ins)
	for i, name := range names {
		in := all[i]
		// Each level has two spellings, a pair k, k+1: a large input
		// meets one of each pair (meets), so every level; the small
		// inputs meet every spelling, the long run every pair.
		for k, cmd := range []string{"gzip", "gzip -c", "gzip -1", "gzip --fast -c", "gzip -9 -n", "gzip --best"} {
			if !meets(len(in), i, k) {
				continue
			}
			z, err := computetest.RunPipeline(t, cmd, in)
			if err != nil {
				t.Fatalf("%s %s: %v", cmd, name, err)
			}
			got, ok := computetest.GNU(t, z, "gunzip", "-c")
			if !ok || !bytes.Equal(got, in) {
				t.Errorf("%s %s: GNU gunzip does not give the input back (ok=%v, %d bytes vs %d)", cmd, name, ok, len(got), len(in))
			}
			if cmd == "gzip" && len(in) > 1<<20 && name == "compressible" && len(z) > len(in)/4 {
				t.Errorf("compressible: %d -> %d bytes", len(in), len(z))
			}
		}
		// And GNU gzip's output through our gunzip, in every spelling.
		z, _ := computetest.GNU(t, in, "gzip", "-c")
		for k, cmd := range []string{"gunzip", "gunzip -c", "gzip -d", "gzip -dc", "zcat", "gzip -d -"} {
			if !meets(len(in), i, k) {
				continue
			}
			got, err := computetest.RunPipeline(t, cmd, z)
			if err != nil || !bytes.Equal(got, in) {
				t.Errorf("%s of GNU gzip %s: %v, %d bytes vs %d", cmd, name, err, len(got), len(in))
			}
		}
	}
}

func TestGunzipGNU(t *testing.T) {
	t.Parallel()
	gz := func(s string) []byte { b, _ := computetest.GNU(t, []byte(s), "gzip", "-c"); return b }
	multi := append(gz("hello\n"), gz("world\n")...)
	cases := map[string][]byte{
		"multi":       multi,
		"zeros":       append(gz("hi\n"), 0, 0, 0),
		"empty-gz":    gz(""),
		"three":       append(append(gz("a"), gz("")...), gz("b")...),
		"plain":       []byte("not gzip\n"),
		"empty":       nil,
		"truncated":   gz(strings.Repeat("abc", 1000))[:30],
		"bad-crc":     func() []byte { b := gz("hello\n"); b[len(b)-6] ^= 1; return b }(),
		"bad-len":     func() []byte { b := gz("hello\n"); b[len(b)-1] ^= 1; return b }(),
		"bad-deflate": func() []byte { b := gz(strings.Repeat("xyz", 99)); b[12] ^= 0xff; return b }(),
		"magic-only":  {0x1f, 0x8b},
		"half-magic":  {0x1f},
	}
	for name, in := range cases {
		for _, a := range [][]string{{"gunzip", "-c"}, {"gzip", "-dcf"}, {"zcat", "-f"}} {
			want, ok := computetest.GNU(t, in, a...)
			got, err := computetest.RunPipeline(t, shquote.Join(a), in)
			if ok != (err == nil) || (ok && !bytes.Equal(got, want)) {
				t.Errorf("%s %v: got %q, %v; GNU %q ok=%v", name, a, computetest.Trunc(got), err, computetest.Trunc(want), ok)
			}
			// The error names the stage as the pipeline wrote it: in
			// "gunzip | zcat" a "gunzip:" did not say which one failed.
			if err != nil && (compute.CodeOf(err) != compute.CodeInvalid || !strings.HasPrefix(err.Error(), a[0]+": invalid compressed data")) {
				t.Errorf("%s %v: err = %v, want CodeInvalid %s: invalid compressed data", name, a, err, a[0])
			}
		}
	}
}

// TestGunzipTrailingGNU: what follows the last member, and members that
// follow, as GNU gzip 1.12 reads them, in every spelling and under -q and
// -v, and testing (-t). GNU's exit status 0 is a result; its status 2 (a warning: trailing
// garbage, or under -v trailing zeros) a result with status 2 and GNU's
// warning line as a diagnostic (none under -q); its status 1 an error.
// We refused trailing garbage, and trailing zeros under -v.
func TestGunzipTrailingGNU(t *testing.T) {
	t.Parallel()
	gz := func(s string) []byte { b, _ := computetest.GNU(t, []byte(s), "gzip", "-cn"); return b }
	m, e := gz("hello\n"), gz("")
	// Over GNU's 256 KiB input buffer, so that what follows is read in a
	// later buffer.
	big := computetest.RandomBytes(7, 300<<10)
	bigz, _ := computetest.GNU(t, big, "gzip", "-cn1")
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[len(b)+i] ^= 1; return b }
	zeros := func(n int) []byte { return make([]byte, n) }
	inputs := map[string][]byte{
		"member":           m,
		"zero":             cat(m, zeros(1)),
		"zeros-600":        cat(m, zeros(600)),
		"zeros-then-x":     cat(m, zeros(70000), []byte("x")), // past a 64 KiB block
		"zero-x":           cat(m, []byte("\x00x")),
		"x-zero":           cat(m, []byte("x\x00")),
		"one-byte":         cat(m, []byte("x")),
		"two-bytes":        cat(m, []byte("xy")),
		"garbage":          cat(m, []byte("garbage\n")),
		"zero-then-member": cat(m, zeros(1), m),
		"pk":               cat(m, []byte("PK\x03\x04")),
		"half-magic":       cat(m, []byte{0x1f}),
		"magic":            cat(m, []byte{0x1f, 0x8b}),
		"magic-method":     cat(m, []byte{0x1f, 0x8b, 8}),
		"bad-method":       cat(m, []byte{0x1f, 0x8b, 9, 0}),
		"encrypted":        cat(m, []byte{0x1f, 0x8b, 8, 0x20}),
		"lzw":              cat(m, []byte{0x1f, 0x9d}),
		"second-cut":       cat(m, m[:len(m)-3]),
		"second-crc":       cat(m, flip(m, -6)),
		"second-len":       cat(m, flip(m, -1)),
		"bad-deflate":      cat(flip(gz(strings.Repeat("xyz", 99)), 12-len(gz(strings.Repeat("xyz", 99)))), []byte("garbage")),
		"method-only":      cat(m, []byte{0x1f, 0x8b, 7}),
		"crc-then-garbage": cat(flip(m, -6), []byte("garbage")),
		"len-then-zeros":   cat(flip(m, -2), zeros(4)),
		"multi-garbage":    cat(m, e, m, []byte("garbage")),
		"empty-garbage":    cat(e, []byte("garbage")),
		"big-garbage":      cat(bigz, []byte("garbage"), bigz),
		"big-zeros":        cat(bigz, zeros(300<<10)),
		"garbage-only":     []byte("garbage"),
		"zeros-only":       zeros(2),
		"empty":            nil,
	}
	argvs := [][]string{
		{"gunzip", "-c"}, {"gzip", "-dc"}, {"zcat"}, {"gunzip", "-q"}, {"gzip", "-d", "--silent"},
		{"zcat", "-v"}, {"gunzip", "--verbose"}, {"zcat", "-vq"}, {"gzip", "-dqv"}, {"gunzip", "-cf"}, {"zcat", "-fv"},
		{"gunzip", "-c", "-", "-"}, {"zcat", "-f", "-", "-"},
		// -t: nothing written; under -v GNU's " OK" when no warning.
		{"gzip", "-t"}, {"gunzip", "-tv"}, {"zcat", "--test", "-q"}, {"gzip", "-tvq"}, {"gzip", "-t", "--verbose"},
		{"gunzip", "-tf"}, {"gzip", "-tfv"}, {"gzip", "-tv", "-", "-"}, {"gzip", "-t", "-9"},
		// Under -f each later "-" is tested too: GNU's " OK" for each.
		{"gzip", "-tfv", "-", "-"}, {"zcat", "-tvf", "-", "-", "-"},
		// -a: GNU's warning first (not under -q), whatever follows;
		// -b: a value checked, then ignored.
		{"gunzip", "-a"}, {"zcat", "-aq"}, {"gzip", "-dqva"}, {"gzip", "-tva"}, {"gunzip", "-b", "12", "-f"},
	}
	names, all := computetest.SortedInputs(inputs)
	for i, name := range names {
		in := all[i]
		for k, argv := range argvs {
			// make test runs half the pairs: every input under half the
			// spellings, every spelling over half the inputs.
			if !testenv.Long() && (i+k)%2 == 1 {
				continue
			}
			text := shquote.Join(argv)
			// A second "-" reads what GNU's reads left of stdin, which
			// after a warning may not be the end: another error, but
			// for another reason.
			twice := strings.HasSuffix(text, "- -")
			gunzipLikeGNU(t, name, in, argv, gunzipReason, twice)
		}
	}
}

// gunzipLikeGNU checks argv (gzip decompressing, testing or listing) on
// in against GNU gzip 1.12 reading the same stdin: stdout, exit status
// and stderr lines where GNU succeeds or warns (exit 0 or 2); where GNU
// fails, that we fail, with CodeInvalid and the reason (reason of GNU's
// stderr, or an unsupported input format), any reason when anyReason.
func gunzipLikeGNU(t *testing.T, name string, in []byte, argv []string, reason func([]string) string, anyReason bool) {
	t.Helper()
	text := shquote.Join(argv)
	want, wantDiag, status := computetest.GNUStderr(t, in, argv...)
	got, st, err := computetest.RunPipelineStats(t, text, in)
	switch {
	case status != 0 && status != 2:
		if err == nil {
			t.Errorf("%s %s: GNU fails (exit %d, %q), we succeed with %q", text, name, status, wantDiag, computetest.Trunc(got))
		} else if compute.CodeOf(err) != compute.CodeInvalid {
			t.Errorf("%s %s: err = %v, want CodeInvalid", text, name, err)
		} else if r := reason(wantDiag); !strings.Contains(err.Error(), r) && !strings.Contains(err.Error(), "unsupported input format") && !anyReason {
			t.Errorf("%s %s: err = %v; GNU says %q", text, name, err, wantDiag)
		}
	case err != nil:
		t.Errorf("%s %s: %v; GNU exits %d with %q", text, name, err, status, computetest.Trunc(want))
	case !bytes.Equal(got, want):
		t.Errorf("%s %s: output %q, GNU's %q", text, name, computetest.Trunc(got), computetest.Trunc(want))
	case st.ExitStatus != status:
		t.Errorf("%s %s: exit status %d, GNU's %d", text, name, st.ExitStatus, status)
	case strings.Join(st.Diagnostics, "\n") != strings.Join(wantDiag, "\n"):
		t.Errorf("%s %s: diagnostics %q, GNU's stderr %q", text, name, st.Diagnostics, wantDiag)
	}
}

// gunzipReason is the reason GNU gzip's first error line gives, as our
// errors name it.
func gunzipReason(stderr []string) string {
	for _, l := range stderr {
		for _, r := range []string{"unexpected end of file", "crc error", "length error", "format violated", "not in gzip format", "unknown method", "encrypted", "has flags"} {
			if strings.Contains(l, r) {
				return r
			}
		}
	}
	return strings.Join(stderr, "\n")
}

// TestGunzipWarningInPipeline: gunzip's warning is written whatever the
// stage (a shell's commands share a stderr), but its status 2 is the
// pipeline's only from the last stage.
func TestGunzipWarningInPipeline(t *testing.T) {
	t.Parallel()
	in, _ := computetest.GNU(t, []byte("a\nb\n"), "gzip", "-cn")
	in = append(in, "garbage"...)
	warning := []string{"|gzip: stdin: decompression OK, trailing garbage ignored"} // after GNU's empty line
	for _, c := range []struct {
		text   string
		status int
	}{{"gunzip -c | wc -l", 0}, {"head -c 100000 | gunzip", 2}, {"gunzip | grep -c b", 0}} {
		want, _ := computetest.Sh(t, in, c.text)
		got, st, err := computetest.RunPipelineStats(t, c.text, in)
		if err != nil || !bytes.Equal(got, want) || st.ExitStatus != c.status || strings.Join(st.Diagnostics, "|") != warning[0] {
			t.Errorf("%s: %q, status %d, diagnostics %q, %v; want %q, status %d, %q", c.text, got, st.ExitStatus, st.Diagnostics, err, want, c.status, warning)
		}
		_, gnuErr, status := computetest.GNUStderr(t, in, "/bin/sh", "-c", c.text)
		if status != c.status || strings.Join(gnuErr, "|") != warning[0] {
			t.Errorf("%s: GNU exits %d with %q", c.text, status, gnuErr)
		}
	}
}

// TestGunzipMessagesAsGNU: an input GNU gunzip refuses is refused for the
// same reason: text whose fourth byte has the 0x20 bit ("junk") is not in
// gzip format, not "encrypted" (the flag bits were read before the magic).
func TestGunzipMessagesAsGNU(t *testing.T) {
	t.Parallel()
	gunzip := testenv.Tool(t, "gunzip")
	reasons := []string{"not in gzip format", "encrypted", "unexpected end of file"}
	for _, in := range []string{"junk\nline\n", "ab\x20\xe0", "PK\x03\x04", "\x1f\x8b\x08\x20xxxxxxxx", "\x1f\x8b\x08\x60xxxxxx", "\x1f\x8b", "x", "\x00", ""} {
		cmd := exec.Command(gunzip, "-c")
		cmd.Stdin = strings.NewReader(in)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if cmd.Run() == nil {
			t.Fatalf("GNU gunzip accepts %q", in)
		}
		_, err := computetest.RunPipeline(t, "gunzip", []byte(in))
		if err == nil {
			t.Errorf("%q: accepted", in)
			continue
		}
		for _, r := range reasons {
			if strings.Contains(stderr.String(), r) != strings.Contains(err.Error(), r) {
				t.Errorf("%q: %v; GNU says %q", in, err, stderr.String())
			}
		}
	}
}

func TestGzipPipeline(t *testing.T) {
	t.Parallel()
	in := compressible(1 << 20)
	got, err := computetest.RunPipeline(t, "gzip -c | gunzip -c | tail -n 3", in)
	want, _ := computetest.Sh(t, in, "gzip -c | gunzip -c | tail -n 3")
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("pipeline: %v, %q vs %q", err, got, want)
	}
}

func TestGzipErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ text, want string }{
		{"gzip -x", `"-x"`},
		{"gzip file", `"file"`},
		{"gunzip -0", `"-0"`},
		{"zcat --bogus", `"--bogus"`},
	} {
		_, err := computetest.RunPipeline(t, c.text, nil)
		if compute.CodeOf(err) != compute.CodeInvalid || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want CodeInvalid with %q", c.text, err, c.want)
		}
	}
}

// TestGzipASCIIBitsLikeGNU: -a and -b, which GNU 1.12 on a POSIX
// system reads and ignores (-a with a warning, -b after checking its
// value), compressing and decompressing, against GNU gzip.
func TestGzipASCIIBitsLikeGNU(t *testing.T) {
	t.Parallel()
	in := []byte("hello\nworld\n")
	z, _ := computetest.GNU(t, in, "gzip", "-cn")
	for _, argv := range [][]string{
		{"gzip", "-a"}, {"gzip", "--ascii"}, {"gzip", "--asc", "-9"}, {"gzip", "-aq"}, {"gzip", "-qa"},
		{"gzip", "-a", "-q", "-v"}, {"gzip", "-v", "-q", "-a"}, {"gzip", "-a", "-a"},
		{"gzip", "-b", "12"}, {"gzip", "-b12"}, {"gzip", "--bits=99"}, {"gzip", "--bits", "007"},
		{"gzip", "--bits="}, {"gzip", "-b", ""}, {"gzip", "-ab", "5"}, {"gzip", "-b", "99999999999999999999"},
		{"gzip", "-b", "x"}, {"gzip", "-b", "-1"}, {"gzip", "-b", "+1"}, {"gzip", "-b", " 1"}, {"gzip", "-b", "1x"},
		{"gzip", "--bits=0x10"}, {"gzip", "-b", "-c"}, {"gzip", "-a", "-b", "1.5"},
		{"gunzip", "-a"}, {"gzip", "-d", "--ascii", "-v"}, {"zcat", "-a", "-b", "3"}, {"gunzip", "-b", "z"},
		{"gzip", "-ta"}, {"gzip", "-tqa"},
	} {
		text := shquote.Join(argv)
		data, decomp := in, argv[0] != "gzip" || slices.ContainsFunc(argv, func(a string) bool { return strings.HasPrefix(a, "-d") || strings.HasPrefix(a, "-t") })
		if decomp {
			data = z
		}
		want, wantDiag, status := computetest.GNUStderr(t, data, argv...)
		got, st, err := computetest.RunPipelineStats(t, text, data)
		if status != 0 {
			// GNU's usage error: its first line is ours, and the
			// try-help line is not.
			if compute.CodeOf(err) != compute.CodeInvalid || len(wantDiag) == 0 || !strings.Contains(err.Error(), wantDiag[0]) {
				t.Errorf("%s: err = %v; GNU exits %d with %q", text, err, status, wantDiag)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v; GNU exits 0 with %q", text, err, wantDiag)
			continue
		}
		if decomp && !bytes.Equal(got, want) {
			t.Errorf("%s: output %q, GNU's %q", text, computetest.Trunc(got), computetest.Trunc(want))
		}
		if !decomp {
			if back, ok := computetest.GNU(t, got, "gunzip", "-c"); !ok || !bytes.Equal(back, in) {
				t.Errorf("%s: GNU gunzip does not give the input back: %q", text, back)
			}
		}
		// Compressing under -v, GNU's ratio line follows; our bytes, so
		// our ratio, may differ: only the lines before it are compared.
		diag := st.Diagnostics
		if !decomp && slices.Contains(argv, "-v") && len(wantDiag) > 0 && len(diag) > 0 {
			wantDiag, diag = wantDiag[:len(wantDiag)-1], diag[:len(diag)-1]
		}
		if st.ExitStatus != status || strings.Join(diag, "\n") != strings.Join(wantDiag, "\n") {
			t.Errorf("%s: status %d, diagnostics %q; GNU's %d, %q", text, st.ExitStatus, st.Diagnostics, status, wantDiag)
		}
	}
}

func BenchmarkGzip(b *testing.B) { benchFilter(b, "gzip -c", compressible(32<<20)) }
func BenchmarkGunzip(b *testing.B) {
	var z bytes.Buffer
	in := compressible(32 << 20)
	zw := gzip.NewWriter(&z)
	zw.Write(in)
	zw.Close()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := computetest.RunPipeline(b, "gunzip -c", z.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestGunzipTrailingAbort: an input that aborts after trailing garbage or
// zeros is an abort, never the data with status 2 (the abort in the
// read that brought the garbage, or in a later one).
func TestGunzipTrailingAbort(t *testing.T) {
	t.Parallel()
	errAbort := errors.New("connection reset")
	m, _ := computetest.GNU(t, []byte("hello\n"), "gzip", "-cn")
	for name, tail := range map[string][]byte{
		"garbage": []byte("garbage"), "zeros": make([]byte, 10), "zeros-garbage": []byte("\x00\x00x"),
		"long-garbage": bytes.Repeat([]byte("g"), 1<<20), "long-zeros": make([]byte, 1<<20),
		"long-zeros-garbage": append(make([]byte, 1<<20), 'x'),
	} {
		for _, same := range []bool{true, false} {
			var in io.Reader = io.MultiReader(bytes.NewReader(m), bytes.NewReader(tail), iotest.ErrReader(errAbort))
			if same {
				in = iotest.DataErrReader(in) // the error comes with the last bytes
			}
			e := computetest.Engine(engine.Config{})
			p, err := e.Compile("gunzip -v")
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			st, err := e.Run(t.Context(), p, in, &out)
			if !errors.Is(err, errAbort) {
				t.Errorf("%s (same read %v): err = %v, status %d, diagnostics %q; want the abort", name, same, err, st.ExitStatus, st.Diagnostics)
			}
		}
	}
}

// splitReader returns its input in the pieces cut at the offsets in at,
// one piece a Read, as a network client's segments arrive.
type splitReader struct {
	b  []byte
	at []int // ascending offsets into the original input
	n  int   // bytes returned so far
}

func (s *splitReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	k := len(s.b)
	for _, a := range s.at {
		if a > s.n {
			k = min(k, a-s.n)
			break
		}
	}
	k = copy(p, s.b[:k])
	s.b, s.n = s.b[k:], s.n+k
	return k, nil
}

// TestGunzipMemberStartInOneRead: a member whose first two bytes end one
// read of the input is a member, however the reads fall. The check after
// a member kept the two bytes Peek returned, a view of the read buffer,
// across a longer Peek that slid and refilled that buffer, and then read
// whatever lay there: a second member of a valid stream arriving that
// way (nc over TCP, a segment ending just past its magic) was "trailing
// garbage ignored", exit status 2, its data dropped. GNU gunzip -c is the
// oracle for each stream, cut at each byte around the member
// boundaries and in pieces of 1 to 5 bytes.
func TestGunzipMemberStartInOneRead(t *testing.T) {
	t.Parallel()
	gz := func(data []byte) []byte {
		z, ok := computetest.GNU(t, data, "gzip", "-cn")
		if !ok {
			t.Fatal("GNU gzip failed")
		}
		return z
	}
	e := computetest.Engine(engine.Config{})
	p, err := e.Compile("gunzip -c")
	if err != nil {
		t.Fatal(err)
	}
	// A member's start far into the 128 KiB buffer shows only when the
	// refill reaches that far: a large member after a large one.
	big := computetest.RandomBytes(7, 100000)
	for _, members := range [][][]byte{
		{[]byte("first\n"), big[:3000]},
		{big[:40000], big[40000:]},
		{nil, []byte("stored data")},
	} {
		var in []byte
		var ends []int
		for _, m := range members {
			in = append(in, gz(m)...)
			ends = append(ends, len(in))
		}
		in = append(in, gz([]byte("last\n"))...)
		want, ok := computetest.GNU(t, in, "gunzip", "-c")
		if !ok {
			t.Fatal("GNU gunzip refuses GNU gzip's members")
		}
		var cuts [][]int
		for _, end := range ends {
			for d := -5; d <= 5; d++ {
				cuts = append(cuts, []int{end + d}, []int{end - 1, end + d}, []int{end - 9, end + 2, end + 2 + 100000})
			}
		}
		for step := 1; step <= 5; step++ {
			var at []int
			for a := step; a < len(in) && a < 5000; a += step {
				at = append(at, a)
			}
			cuts = append(cuts, at)
		}
		for _, at := range cuts {
			var out bytes.Buffer
			st, err := e.Run(t.Context(), p, &splitReader{b: in, at: at}, &out)
			if err != nil || st.ExitStatus != 0 || len(st.Diagnostics) != 0 || !bytes.Equal(out.Bytes(), want) {
				t.Fatalf("members ending at %v, reads cut at %v: %d bytes, status %d, diagnostics %q, %v; GNU gunzip -c: %d bytes, status 0",
					ends, at[:min(len(at), 4)], out.Len(), st.ExitStatus, st.Diagnostics, err, len(want))
			}
		}
	}
}

// TestGzipTestEachRun: a stage compiled once runs for every connection of
// a --tcp-route, at once: gunzip -tv's " OK" is each run's, not withheld
// after another run's warning (the stage once kept that it had warned).
func TestGzipTestEachRun(t *testing.T) {
	t.Parallel()
	ok, _ := computetest.GNU(t, []byte("hello\n"), "gzip", "-cn")
	garbage := append(bytes.Clone(ok), "garbage"...)
	e := computetest.Engine(engine.Config{})
	p, err := e.Compile("gunzip -tv")
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		in   []byte
		diag string
	}{{garbage, "|gzip: stdin: decompression OK, trailing garbage ignored"}, {ok, " OK"}, {garbage, "|gzip: stdin: decompression OK, trailing garbage ignored"}, {ok, " OK"}} {
		ctx, cancel := testenv.Context(t)
		st, err := e.Run(ctx, p, bytes.NewReader(c.in), io.Discard)
		cancel()
		if err != nil || strings.Join(st.Diagnostics, "|") != c.diag {
			t.Errorf("run %d: diagnostics %q, %v; want %q", i, st.Diagnostics, err, c.diag)
		}
	}
}
