package e2e

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestHuntFilesB3sumLossyNames: the b3sum tool prints a file name that is
// not UTF-8 as Rust's to_string_lossy makes it, a U+FFFD for each maximal
// subpart ("\xe2\x82" one, "\xed\xa0\x80" three), in its lines and in its
// error for a missing file; halfclose printed the bytes. The coreutils
// tools print the bytes, as halfclose does.
func TestHuntFilesB3sumLossyNames(t *testing.T) {
	t.Parallel()
	need(t, "b3sum")
	g, _ := startDaemon(t)
	dir := t.TempDir()
	names := []string{"\xff\xfe", "\xe2\x82x", "a\xf0\x90\x80", "\xed\xa0\x80", "\xc0\xaf", "\xff\\\n", "ok \xe2\x82\xac"}
	for i, name := range names {
		writeFile(t, dir, name, bytes.Repeat([]byte{'z'}, i*700))
	}
	stdin := randomFile(t, 4097)
	for _, c := range [][]string{{"b3sum"}, {"b3sum", "-l", "8"}, {"md5sum"}, {"sha256sum", "--tag"}} {
		argv := append(append(append([]string{}, c...), names...), "\xffmissing", "-")
		want := runPiped(t, dir, stdin, argv...)
		got := run(t, dir, stdin, append([]string{bin(t, "halfclose"), "--addr", g}, argv...)...)
		if want.code != 1 {
			t.Fatalf("%q: the tool exits %d, want 1: %q", c, want.code, want.stderr)
		}
		if got.code != want.code || !bytes.Equal(got.stdout, want.stdout) || !bytes.Equal(got.stderr, want.stderr) {
			t.Errorf("%q: exit %d (the tool's %d), stderr %q (the tool's %q)\n%s", c, got.code, want.code, got.stderr, want.stderr, diff(got.stdout, want.stdout))
		}
	}
}

// TestHuntFilesRefusedLine: a digest line its option table refuses is
// refused as a whole before any file is read, naming the bad flag, as GNU
// refuses it (exit 1, nothing on stdout). Split by its look, the value of
// a cluster (-bl 8) or of an abbreviation (--al md5) was taken for a file
// and reported missing in place of the bad flag.
func TestHuntFilesRefusedLine(t *testing.T) {
	t.Parallel()
	need(t, "b3sum")
	g, _ := startDaemon(t)
	dir := t.TempDir()
	writeFile(t, dir, "f", []byte("data\n"))
	stdin := randomFile(t, 10)
	for _, c := range []struct {
		argv []string
		flag string
	}{
		{[]string{"b2sum", "-bl", "8", "-x", "f"}, `"-x"`},
		{[]string{"cksum", "--al", "md5", "-x", "f"}, `"-x"`},
		{[]string{"sha256sum", "f", "--bogus"}, `"--bogus"`},
		{[]string{"b3sum", "--len", "8", "f"}, `"--len"`},
		{[]string{"b2sum", "-l", "7", "missing"}, `"7"`},
		{[]string{"b3sum", "--no-names", "missing", "--no-names"}, `"--no-names"`},
	} {
		want := runPiped(t, dir, stdin, c.argv...)
		got := run(t, dir, stdin, append([]string{bin(t, "halfclose"), "--addr", g}, c.argv...)...)
		if want.code == 0 || len(want.stdout) != 0 {
			t.Fatalf("%q: the tool exits %d with %q", c.argv, want.code, want.stdout)
		}
		if got.code != 1 || len(got.stdout) != 0 || !strings.HasPrefix(string(got.stderr), "halfclose: INVALID_ARGUMENT: ") || !strings.Contains(string(got.stderr), c.flag) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 1, nothing, INVALID_ARGUMENT naming %s", c.argv, got.code, got.stdout, got.stderr, c.flag)
		}
	}
}

// TestHuntFilesPosixlyCorrect: with POSIXLY_CORRECT in the environment,
// GNU getopt_long ends the flags at the first operand, so the words after
// it are files ("sha256sum f --tag" sums a file named --tag, and says it
// is missing); the CLI permuted them and printed f's tagged line, exit 0.
// The b3sum tool (clap) permutes all the same.
func TestHuntFilesPosixlyCorrect(t *testing.T) {
	t.Parallel()
	need(t, "b3sum")
	g, tcp := startDaemon(t)
	dir := t.TempDir()
	writeFile(t, dir, "f", []byte("data\n"))
	writeFile(t, dir, "-l", []byte("dash\n"))
	stdin := randomFile(t, 100)
	for _, argv := range [][]string{
		{"sha256sum", "f", "--tag"},
		{"cksum", "-a", "md5", "f", "-a", "sha1"},
		{"md5sum", "--tag", "f", "--", "-", "-l"},
		{"b2sum", "f", "-l", "16"},
		{"b3sum", "f", "-l", "8", "-"},
	} {
		env := []string{"env", "POSIXLY_CORRECT=1"}
		want := runPiped(t, dir, stdin, append(env, argv...)...)
		if argv[0] != "b3sum" && want.code != 1 {
			t.Fatalf("%q: GNU exits %d, want 1 (a missing file): %q", argv, want.code, want.stderr)
		}
		for _, transport := range [][]string{{"--addr", g}, {"--tcp", "--tcp-addr", tcp}} {
			got := runPiped(t, dir, stdin, append(append(append(env, bin(t, "halfclose")), transport...), argv...)...)
			if got.code != want.code || !bytes.Equal(got.stdout, want.stdout) || !bytes.Equal(got.stderr, want.stderr) {
				t.Errorf("%q %q: exit %d (GNU %d), stderr %q (GNU %q)\n%s", transport, argv, got.code, want.code, got.stderr, want.stderr, diff(got.stdout, want.stdout))
			}
		}
	}
}

// TestHuntFilesReadFails: a file that opens and whose read fails
// (/proc/self/mem: EIO at address 0, in whichever process reads it) is
// reported as GNU reports it, and the others still run; cksum's CRC too,
// where coreutils 9.1 prints the CRC of nothing with exit 0 (docs/cli.md).
func TestHuntFilesReadFails(t *testing.T) {
	t.Parallel()
	need(t, "b3sum")
	if _, err := os.Stat("/proc/self/mem"); err != nil {
		t.Skip(err)
	}
	g, tcp := startDaemon(t)
	dir := t.TempDir()
	writeFile(t, dir, "f", []byte("data\n"))
	for _, c := range [][]string{{"md5sum"}, {"sha256sum", "--tag"}, {"b3sum"}, {"cksum", "-a", "sha1"}, {"cksum"}} {
		argv := append(append([]string{}, c...), "f", "/proc/self/mem", "f")
		want := run(t, dir, "", argv...)
		if len(c) == 1 && c[0] == "cksum" {
			want = result{stdout: bytes.Repeat([]byte("2797087131 5 f\n"), 2), stderr: []byte("cksum: /proc/self/mem: Input/output error\n"), code: 1}
		}
		if want.code != 1 {
			t.Fatalf("%q: the tool exits %d, want 1: %q", argv, want.code, want.stderr)
		}
		for _, transport := range [][]string{{"--addr", g}, {"--tcp", "--tcp-addr", tcp}} {
			got := run(t, dir, "", append(append([]string{bin(t, "halfclose")}, transport...), argv...)...)
			if got.code != want.code || !bytes.Equal(got.stdout, want.stdout) || !bytes.Equal(got.stderr, want.stderr) {
				t.Errorf("%q %q: exit %d (want %d), stderr %q (want %q)\n%s", transport, argv, got.code, want.code, got.stderr, want.stderr, diff(got.stdout, want.stdout))
			}
		}
	}
}

// TestHuntFilesSysTCP: a file of /sys says 4096 bytes and holds a line.
// halfclose --tcp declared @size=4096 for it, as an operand or as
// standard input, and failed ("input ended after 4 of its 4096 bytes",
// exit 1); it now reads it to its end, as GNU and the gRPC path do (wc
// still pads to the digits of the size it says, as GNU's wc < FILE).
func TestHuntFilesSysTCP(t *testing.T) {
	t.Parallel()
	var name string
	for _, n := range []string{"/sys/devices/system/cpu/possible", "/sys/devices/system/cpu/online"} {
		if st, err := os.Stat(n); err == nil && st.Mode().IsRegular() && st.Size() == 4096 {
			name = n
			break
		}
	}
	if name == "" {
		t.Skip("no file of /sys that says 4096 bytes")
	}
	g, tcp := startDaemon(t)
	for _, c := range []struct {
		stdin string
		argv  []string
	}{
		{"", []string{"sha256sum", name, "-"}},
		{"", []string{"cksum", name}},
		{name, []string{"b2sum", "-l", "64", "--tag", "-"}},
		{name, []string{"wc"}},
		{name, []string{"head -n1 - -"}},
	} {
		gnu := c.argv
		if len(gnu) == 1 {
			gnu = []string{"sh", "-c", gnu[0]} // pipeline text
		}
		want := run(t, "", c.stdin, gnu...)
		if want.code != 0 {
			t.Fatalf("%q: GNU exits %d: %q", c.argv, want.code, want.stderr)
		}
		for _, transport := range [][]string{{"--addr", g}, {"--tcp", "--tcp-addr", tcp}} {
			got := run(t, "", c.stdin, append(append([]string{bin(t, "halfclose")}, transport...), c.argv...)...)
			if got.code != 0 || !bytes.Equal(got.stdout, want.stdout) || len(got.stderr) != 0 {
				t.Errorf("%q %q < %q: exit %d, stderr %q\n%s", transport, c.argv, c.stdin, got.code, got.stderr, diff(got.stdout, want.stdout))
			}
		}
	}
}

// TestHuntFilesOpenLimit: FILE operands are opened one at a time, as GNU
// opens them, so a run of more files than ulimit -n allows open at once
// sums them all. The CLI closed each file when the run ended: under
// ulimit -n 40, the 31st of 100 files and all after it said "Too many
// open files" (with --tcp, the dial of the next connection failed).
func TestHuntFilesOpenLimit(t *testing.T) {
	t.Parallel()
	g, tcp := startDaemon(t)
	dir := t.TempDir()
	names := make([]string, 100)
	for i := range names {
		names[i] = "f" + strconv.Itoa(i)
		writeFile(t, dir, names[i], []byte(names[i]+"\n"))
	}
	limited := []string{"sh", "-c", `ulimit -n 40 && exec "$@"`, "sh"} // the hard limit too: Go cannot raise it
	want := run(t, dir, "", append(append(limited, "sha256sum"), names...)...)
	if want.code != 0 || bytes.Count(want.stdout, []byte("\n")) != len(names) {
		t.Fatalf("GNU under ulimit -n 40: exit %d, stderr %q", want.code, want.stderr)
	}
	for _, transport := range [][]string{{"--addr", g}, {"--tcp", "--tcp-addr", tcp}} {
		argv := append(append(append(append(limited, bin(t, "halfclose")), transport...), "sha256sum"), names...)
		got := run(t, dir, "", argv...)
		if got.code != 0 || !bytes.Equal(got.stdout, want.stdout) || len(got.stderr) != 0 {
			t.Errorf("%q under ulimit -n 40: exit %d, stderr %.200q\n%s", transport, got.code, got.stderr, diff(got.stdout, want.stdout))
		}
	}
}
