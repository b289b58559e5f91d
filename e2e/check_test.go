package e2e

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/internal/testenv"
)

// checkCase is one check-mode run: the lists are written into the
// directory the command runs in, stdin is its standard input (a pipe).
type checkCase struct {
	name  string
	argv  []string          // the command and its words
	lists map[string]string // file name → content
	stdin string
	file  bool // stdin is the file, not a pipe
	alt   int  // which transport make test runs it over (checkTransports)
}

// checkTransports is the transports a check case runs over: gRPC and --tcp
// in the long run (make test-long); under make test one of them, gRPC when
// alt is even, so that a table whose cases vary alt (a case's index plus
// its command's) runs each kind of case over both across its commands.
// What a check prints is the CLI's: a transport only carries each file.
func checkTransports(alt int, grpcAddr, tcpAddr string) [][]string {
	both := [][]string{{"--addr", grpcAddr}, {"--tcp", "--tcp-addr", tcpAddr}}
	if testenv.Long() {
		return both
	}
	return both[alt%2 : alt%2+1]
}

// checkFixture is a directory of files to list, and their lines as the
// GNU tools print them.
type checkFixture struct {
	dir   string
	files []string // the regular files, names GNU escapes among them
}

func newCheckFixture(t *testing.T) *checkFixture {
	t.Helper()
	dir := t.TempDir()
	fx := &checkFixture{dir: dir}
	big, err := os.ReadFile(randomFile(t, 3<<20+17)) // several chunks
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"a": []byte("hello\n"), "empty": nil, "big": big, "new\nline": []byte("nl"),
		`back\slash`: []byte("bs"), "cr\r": []byte("cr"), " lead": []byte("lead"),
		"sp ace": []byte("space"), "-dash": []byte("dash"), "par)en": []byte("paren"),
	} {
		writeFile(t, dir, name, data)
		fx.files = append(fx.files, name)
	}
	slices.Sort(fx.files) // not the map's order: a seed draws the same cases each run
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("nowhere", filepath.Join(dir, "dangle")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("loop", filepath.Join(dir, "loop")); err != nil {
		t.Fatal(err)
	}
	return fx
}

// sums is what the GNU tool (or b3sum) prints for the files: a list.
func (fx *checkFixture) sums(t *testing.T, argv ...string) string {
	t.Helper()
	r := run(t, fx.dir, "", append(append([]string{}, argv...), append([]string{"--"}, fx.files...)...)...)
	if r.code != 0 {
		t.Fatalf("%q: exit %d: %s", argv, r.code, r.stderr)
	}
	return string(r.stdout)
}

// line is the tool's line for one file.
func (fx *checkFixture) line(t *testing.T, name string, argv ...string) string {
	t.Helper()
	r := run(t, fx.dir, "", append(append([]string{}, argv...), "--", name)...)
	if r.code != 0 {
		t.Fatalf("%q %q: exit %d: %s", argv, name, r.code, r.stderr)
	}
	return string(r.stdout)
}

// compareCheck runs c with the GNU tool and with halfclose over gRPC or
// --tcp or both (checkTransports), and compares stdout, stderr and the
// exit status. runStdin bounds each run: no timeout(1) around the tool.
func compareCheck(t *testing.T, dir, grpcAddr, tcpAddr string, c checkCase) {
	t.Helper()
	for name, content := range c.lists {
		writeFile(t, dir, name, []byte(content))
	}
	stdin := writeFile(t, t.TempDir(), "stdin", []byte(c.stdin))
	runner := runPiped
	if c.file {
		runner = run
	}
	want := runner(t, dir, stdin, c.argv...)
	for _, transport := range checkTransports(c.alt, grpcAddr, tcpAddr) {
		got := runner(t, dir, stdin, append(append([]string{bin(t, "halfclose")}, transport...), c.argv...)...)
		if got.code != want.code || !bytes.Equal(got.stdout, want.stdout) || !bytes.Equal(got.stderr, want.stderr) {
			t.Errorf("%s %q %q: exit %d (the tool's %d)\nstderr %q\n  tool %q\nstdout %s\nlists %q", c.name, transport, c.argv, got.code, want.code, got.stderr, want.stderr, diff(got.stdout, want.stdout), c.lists)
		}
	}
	for name := range c.lists {
		os.Remove(filepath.Join(dir, name))
	}
}

// flipHex changes the first hex digit of a line's digest.
func flipHex(line string) string {
	i := strings.IndexFunc(line, func(r rune) bool { return strings.ContainsRune("0123456789abcdef", r) })
	if i < 0 {
		return line
	}
	b := []byte(line)
	if b[i] == '0' {
		b[i] = '1'
	} else {
		b[i] = '0'
	}
	return string(b)
}

// TestCheckGNU: halfclose DIGEST -c prints what GNU coreutils 9.1's
// DIGEST -c prints, on stdout and stderr, with its exit status, for the
// edge cases of its list format and flags, over gRPC and --tcp.
func TestCheckGNU(t *testing.T) {
	t.Parallel()
	g, tcp := startDaemon(t)
	fx := newCheckFixture(t)
	var cases []checkCase
	// alt: the command's index plus the case's among its command's, so
	// that make test runs each kind of case over gRPC for some commands
	// and over --tcp for others (checkTransports)
	ci, first := 0, 0
	alt := func() int { return ci + len(cases) - first }
	add := func(name, list, stdin string, argv ...string) {
		cases = append(cases, checkCase{name: name, argv: argv, lists: map[string]string{"L": list}, stdin: stdin, alt: alt()})
	}
	for i, cmd := range []string{"md5sum", "sha1sum", "sha224sum", "sha256sum", "sha384sum", "sha512sum", "b2sum"} {
		ci, first = i, len(cases)
		good := fx.sums(t, cmd)
		tagged := fx.sums(t, cmd, "--tag")
		a := fx.line(t, "a", cmd)
		aTag := fx.line(t, "a", cmd, "--tag")
		hexA, _, _ := strings.Cut(a, " ")
		add(cmd+"/good", good, "", cmd, "-c", "L")
		add(cmd+"/tagged", tagged, "", cmd, "--check", "L")
		add(cmd+"/binary", fx.sums(t, cmd, "-b"), "", cmd, "-c", "L")
		for _, flags := range [][]string{{"--quiet"}, {"--status"}, {"-w"}, {"--strict"}, {"--warn", "--strict"}, {"--quiet", "--status", "-w"}, {"--status", "--quiet"}, {"-w", "--status"}, {"--ignore-missing"}} {
			mixed := good + "\n# comment\n\ngarbage\n" + flipHex(aTag) + hexA + "  missing\n" + hexA + "  d\n" + hexA + "  dangle\n" + strings.ToUpper(hexA) + "  a\n" + hexA[2:] + "  a\n" + hexA + "  a\r\n"
			add(cmd+"/mixed"+strings.Join(flags, ""), mixed, "", append(append([]string{cmd}, flags...), "-c", "L")...)
			add(cmd+"/allmissing"+strings.Join(flags, ""), hexA+"  missing\n"+hexA+"  gone\n", "", append(append([]string{cmd}, flags...), "-c", "L")...)
		}
		add(cmd+"/empty", "", "", cmd, "-c", "L")
		add(cmd+"/blank", "\n\n\r\n", "", cmd, "-c", "L")
		add(cmd+"/comments", "# "+a+"#x\n", "", cmd, "-c", "L")
		add(cmd+"/stdin-list", good, "", cmd, "-c")
		add(cmd+"/stdin-list-dash", good+hexA+"  -\n", "", cmd, "-c", "-")
		add(cmd+"/stdin-list-dash-w", "", good+hexA+"  -\nx\n", cmd, "-c", "-w", "-", "new\nline", "a")
		add(cmd+"/stdin-piped", "", good, cmd, "-c", "-")
		add(cmd+"/dash-in-list", a+hexA+"  -\n"+hexA+"  -\n", "hello\n", cmd, "-c", "L")
		add(cmd+"/dup", a+a+aTag+aTag, "", cmd, "-c", "L")
		add(cmd+"/no-final-newline", strings.TrimSuffix(a, "\n"), "", cmd, "-c", "L")
		add(cmd+"/reversed", hexA+" a\n"+hexA+" missing\n"+a, "", cmd, "-c", "L")
		add(cmd+"/reversed-after-gnu", a+hexA+" a\n", "", cmd, "-c", "L")
		add(cmd+"/unreadable", hexA+"  /proc/self/mem\n"+hexA+"  loop\n"+hexA+"  a/x\n"+hexA+"  \n"+hexA+"  "+strings.Repeat("n", 300)+"\n"+aTag[:strings.Index(aTag, "(")+1]+") = "+hexA+"\n", "", cmd, "-c", "L", "a/x", "loop")
		// --ignore-missing skips a file that does not exist (ENOENT)
		// alone: the other open errors are reported.
		add(cmd+"/unreadable-ignore-missing", hexA+"  loop\n"+hexA+"  a/x\n"+hexA+"  "+strings.Repeat("n", 300)+"\n"+hexA+"  dangle\n"+a, "", cmd, "-c", "--ignore-missing", "L")
		add(cmd+"/abbrev", good, "", cmd, "--che", "--stat", "L")
		add(cmd+"/cluster", good+"x\n", "", cmd, "-cw", "--ign", "--stri", "L", "--", "-w")
		cases = append(cases, checkCase{name: cmd + "/stdin-file", argv: []string{cmd, "-c", "-", "M", "M"}, file: true,
			lists: map[string]string{"M": a + hexA + "  -\n"}, stdin: good, alt: alt()})
		add(cmd+"/short-names", hexA+"  \n"+hexA+" *\n"+hexA+" \n"+hexA+"\n", "", cmd, "-c", "L")
		add(cmd+"/short-names-gnu", a+hexA+"  \n"+hexA+" *\n", "", cmd, "-c", "L")
		add(cmd+"/escapes", `\`+hexA+"  \\x\n"+`\`+hexA+"  a\\\n"+`\`+hexA+"  \\a\n"+`\`+hexA+"  b\\\\s\n", "", cmd, "-c", "L")
		add(cmd+"/blanks-tabs", "  "+a+"\t"+a+hexA+"\ta\n"+hexA+" \ta\n", "", cmd, "-c", "L")
		add(cmd+"/nul", hexA+"  a\x00junk\n"+`\`+hexA+"  a\x00\n"+aTag[:len(aTag)-3]+"\x00x\n", "", cmd, "-c", "L")
		add(cmd+"/tag-variants", strings.Replace(aTag, " (", "(", 1)+strings.Replace(aTag, ") = ", ")=", 1)+strings.Replace(aTag, " (", "  (", 1)+strings.Replace(aTag, " = ", " \t= \t", 1)+strings.Replace(aTag, " (", "\t(", 1)+strings.Replace(aTag, " = ", " - ", 1)+strings.Replace(aTag, " = ", " ", 1), "", cmd, "-c", "L")
		add(cmd+"/two-lists", good, "", cmd, "-c", "L", "nolist", "d", "L", "-")
		cases = append(cases, checkCase{name: cmd + "/ignore-missing-two", argv: []string{cmd, "-c", "--ignore-missing", "L", "M"},
			lists: map[string]string{"L": hexA + "  missing\n", "M": a}, alt: alt()})
	}
	// b2sum: the length comes from each line.
	for _, bits := range []string{"8", "16", "256", "504"} {
		l := fx.sums(t, "b2sum", "-l", bits)
		lt := fx.sums(t, "b2sum", "--tag", "-l", bits)
		add("b2sum/l"+bits, l+lt, "", "b2sum", "-c", "L")
		add("b2sum/l"+bits+"-flag", l, "", "b2sum", "-l", "128", "-c", "L")
	}
	b2a := fx.line(t, "a", "b2sum", "-l", "256", "--tag")
	add("b2sum/odd-tags", strings.Replace(b2a, "-256", "-0x100", 1)+strings.Replace(b2a, "-256", "-0400", 1)+strings.Replace(b2a, "-256", "- 256", 1)+
		strings.Replace(b2a, "-256", "-+256", 1)+strings.Replace(b2a, "-256", "--256", 1)+strings.Replace(b2a, "-256", "-255", 1)+
		strings.Replace(b2a, "-256", "-0", 1)+strings.Replace(b2a, "-256", "-520", 1)+strings.Replace(b2a, "-256", "-12", 1)+"BLAKE2b-12 (a) = abc\n"+strings.Replace(b2a, "-256 (", "X(", 1)+
		strings.Replace(b2a, "-256 (", "-256(", 1)+strings.Replace(b2a, "-256", "-99999999999999999999999", 1), "", "b2sum", "-c", "L")
	// cksum: tagged lines of any algorithm without -a; -a for untagged.
	var mixed strings.Builder
	for _, algo := range []string{"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "blake2b", "sm3"} {
		mixed.WriteString(fx.line(t, "a", "cksum", "-a", algo))
		mixed.WriteString(fx.line(t, "big", "cksum", "-a", algo))
		add("cksum/"+algo+"-untagged", fx.sums(t, "cksum", "-a", algo, "--untagged"), "", "cksum", "-a", algo, "-c", "L")
		add("cksum/"+algo+"-untagged-no-a", fx.sums(t, "cksum", "-a", algo, "--untagged"), "", "cksum", "-c", "L", "-w")
		add("cksum/"+algo+"-tagged-a", fx.sums(t, "cksum", "-a", algo), "", "cksum", "-a", algo, "-c", "L")
	}
	mixed.WriteString(fx.line(t, "a", "cksum", "-a", "blake2b", "-l", "128"))
	mixed.WriteString(fx.line(t, "a", "cksum"))
	mixed.WriteString(fx.line(t, "a", "cksum", "-a", "sysv"))
	mixed.WriteString("CRC (a) = 1234\nBSD (a) = 1234\nSHA3 (a) = 00\nBLAKE2bb (a) = 00\n")
	add("cksum/mixed", mixed.String(), "", "cksum", "-c", "L")
	add("cksum/mixed-w", mixed.String(), "", "cksum", "-w", "-c", "L")
	add("cksum/mixed-a", mixed.String(), "", "cksum", "-a", "sha256", "-w", "-c", "L")
	sha := fx.line(t, "a", "sha256sum")
	add("cksum/truncated", "SHA256-128 (a) = "+sha[:32]+"\nSHA256-128 (a) = "+sha[32:64]+"\nSHA256-8 (a) = "+sha[:2]+"\n", "", "cksum", "-c", "L")
	add("cksum/leak", "SHA256-128 (a) = "+sha[:32]+"\n"+sha[:32]+"  a\n"+sha[:64]+"  a\n", "", "cksum", "-a", "sha256", "-c", "L")
	b2 := fx.line(t, "a", "b2sum")
	add("b2sum/too-long", b2[:128]+"00"+b2[128:]+b2[:128]+"0000"+b2[128:]+b2, "", "b2sum", "-c", "L")
	add("cksum/blake2b-untagged", fx.sums(t, "b2sum", "-l", "64")+fx.sums(t, "b2sum"), "", "cksum", "-a", "blake2b", "-c", "L")
	for _, c := range cases {
		compareCheck(t, fx.dir, g, tcp, c)
	}
}

// TestCheckB3sum: halfclose b3sum -c prints what the b3sum tool's check
// mode prints (its own format and words, no summary).
func TestCheckB3sum(t *testing.T) {
	t.Parallel()
	need(t, "b3sum")
	g, tcp := startDaemon(t)
	fx := newCheckFixture(t)
	good := fx.sums(t, "b3sum")
	a := fx.line(t, "a", "b3sum")
	hexA := a[:64]
	add := func(name, list, stdin string, argv ...string) checkCase {
		return checkCase{name: name, argv: argv, lists: map[string]string{"L": list}, stdin: stdin}
	}
	for i, c := range []checkCase{
		add("good", good, "", "b3sum", "-c", "L"),
		add("quiet", good, "", "b3sum", "--quiet", "--check", "L"),
		add("bad-lines", good+"\nx\n"+strings.ToUpper(hexA)+"  a\n"+hexA+" a\n"+hexA+"  \n"+hexA+"  missing\n"+hexA+"  d\n"+flipHex(a)+hexA+"  a\r\n"+"é"+hexA+"  a\n", "", "b3sum", "-c", "L"),
		add("escapes", `\`+hexA+"  a\\\n"+`\`+hexA+"  \\x\n"+`\`+hexA+"  \\\\a\n"+hexA+"  a\x00\n"+hexA+"  \uFFFD\n", "", "b3sum", "-c", "L"),
		add("dash", a+hexA+"  -\n", "hello\n", "b3sum", "-c", "L"),
		add("stdin-list", good, "", "b3sum", "-c"),
		add("not-utf8", a+"\xff\n"+a, "", "b3sum", "-c", "L"),
		add("missing-list", a, "", "b3sum", "-c", "L", "nolist", "L"),
		add("dir-list", a, "", "b3sum", "-c", "d"),
		add("empty", "", "", "b3sum", "-c", "L"),
	} {
		c.alt = i
		compareCheck(t, fx.dir, g, tcp, c)
	}
	// Generated lists, as TestCheckRandom's.
	rng := rand.New(rand.NewPCG(0x6233, 2026))
	lines := strings.SplitAfter(good, "\n")
	lines = lines[:len(lines)-1]
	for i := 0; i < 40; i++ {
		var list strings.Builder
		for n := rng.IntN(6); n >= 0; n-- {
			l := lines[rng.IntN(len(lines))]
			if rng.IntN(2) == 0 {
				l = mutateLine(rng, l)
			}
			list.WriteString(l)
		}
		argv := []string{"b3sum", "-c", "L"}
		if rng.IntN(3) == 0 {
			argv = []string{"b3sum", "--quiet", "-c", "L"}
		}
		compareCheck(t, fx.dir, g, tcp, checkCase{name: fmt.Sprint("random ", i), argv: argv, lists: map[string]string{"L": list.String()}, alt: i})
	}
}

// TestCheckRefused: a check line GNU refuses is refused before any list
// is read, with GNU's words after "halfclose: INVALID_ARGUMENT: " and
// GNU's exit status; a flag the server judges (b2sum -l 7) as in FILE mode.
func TestCheckRefused(t *testing.T) {
	t.Parallel()
	need(t, "b3sum")
	g, _ := startDaemon(t)
	dir := t.TempDir()
	writeFile(t, dir, "L", []byte("x\n"))
	for _, c := range []struct {
		argv []string
		gnu  bool // halfclose's line is GNU's first line
	}{
		{[]string{"sha256sum", "-c", "--tag", "L"}, true},
		{[]string{"md5sum", "-z", "-c", "L"}, true},
		{[]string{"sha1sum", "-c", "-b", "L"}, true},
		{[]string{"b2sum", "-t", "-c", "L"}, true},
		{[]string{"cksum", "-a", "crc", "-c", "L"}, true},
		{[]string{"cksum", "-c", "-a", "sysv", "-z", "L"}, true},
		{[]string{"b2sum", "-c", "-l", "7", "L"}, false},
		{[]string{"sha256sum", "-c", "--bogus", "L"}, false},
		{[]string{"sha256sum", "-c", "--s", "L"}, false},
		{[]string{"b3sum", "-c", "-l", "8", "L"}, false},
		{[]string{"b3sum", "-c", "--no-names", "L"}, false},
		{[]string{"b3sum", "-c", "--quiet", "--quiet", "L"}, false},
	} {
		want := run(t, dir, "", append([]string{"timeout", "10"}, c.argv...)...)
		got := run(t, dir, "", append([]string{bin(t, "halfclose"), "--addr", g}, c.argv...)...)
		first, _, _ := strings.Cut(string(want.stderr), "\n")
		if want.code == 0 || len(want.stdout) != 0 {
			t.Fatalf("%q: the tool exits %d with %q", c.argv, want.code, want.stdout)
		}
		ok := got.code == want.code && len(got.stdout) == 0 && strings.HasPrefix(string(got.stderr), "halfclose: INVALID_ARGUMENT: ")
		if c.gnu {
			ok = ok && string(got.stderr) == "halfclose: INVALID_ARGUMENT: "+first+"\n"
		}
		if !ok {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; the tool: exit %d, %q", c.argv, got.code, got.stdout, got.stderr, want.code, want.stderr)
		}
	}
}

// TestCheckStopsOnServerError: a call the server fails stops the check
// there: the files before it are reported, the failing one is named with
// the server's error and nothing after it is printed, neither OK nor
// FAILED (the server's --max-input-bytes refuses the big file).
func TestCheckStopsOnServerError(t *testing.T) {
	t.Parallel()
	g, tcp := startDaemon(t, "--max-input-bytes", "1000")
	dir := t.TempDir()
	writeFile(t, dir, "a", []byte("hello\n"))
	writeFile(t, dir, "big", bytes.Repeat([]byte("x"), 5000))
	list := "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  a\n" +
		"0000000000000000000000000000000000000000000000000000000000000000  big\n" +
		"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  a\n"
	writeFile(t, dir, "L", []byte(list))
	for _, transport := range [][]string{{"--addr", g}, {"--tcp", "--tcp-addr", tcp}} {
		got := run(t, dir, "", append(append([]string{bin(t, "halfclose")}, transport...), "sha256sum", "-c", "L")...)
		if got.code != 1 || string(got.stdout) != "a: OK\n" || !strings.HasPrefix(string(got.stderr), "halfclose: big: RESOURCE_EXHAUSTED") || strings.Count(string(got.stderr), "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 1, a: OK alone, one line naming big", transport, got.code, got.stdout, got.stderr)
		}
	}
}

// TestCheckRandom compares generated lists, lines mutated at random from
// the tools' own, with the GNU tools: 150 lists (about 5 CPU-seconds),
// from a fixed seed, so that a failure repeats (the fixture's files are
// sorted: in a map's order the same seed drew other lists each run);
// CHECKDIFF_N and CHECKDIFF_SEED set others (make fuzz).
func TestCheckRandom(t *testing.T) {
	t.Parallel()
	g, tcp := startDaemon(t)
	fx := newCheckFixture(t)
	n := testenv.Uint(t, "CHECKDIFF_N", 150)
	seed := testenv.Uint(t, "CHECKDIFF_SEED", 2026)
	rng := rand.New(rand.NewPCG(0x636b, seed))
	type tool struct{ argv, sums []string }
	var tools []tool
	for _, c := range []struct {
		argv []string
		gens [][]string // the commands whose lines the lists are made of
	}{
		{[]string{"sha256sum"}, [][]string{{"sha256sum"}, {"sha256sum", "--tag"}, {"sha256sum", "-b"}}},
		{[]string{"md5sum"}, [][]string{{"md5sum"}, {"md5sum", "--tag"}, {"sha1sum"}}},
		{[]string{"b2sum"}, [][]string{{"b2sum"}, {"b2sum", "--tag"}, {"b2sum", "-l", "64"}, {"b2sum", "--tag", "-l", "64"}}},
		{[]string{"cksum"}, [][]string{{"cksum", "-a", "md5"}, {"cksum", "-a", "blake2b", "-l", "248"}, {"cksum", "-a", "sha256"}, {"cksum", "-a", "sm3"}, {"cksum"}}},
		{[]string{"cksum", "-a", "sha1"}, [][]string{{"cksum", "-a", "sha1"}, {"cksum", "-a", "sha1", "--untagged"}}},
		{[]string{"cksum", "-a", "blake2b"}, [][]string{{"cksum", "-a", "blake2b"}, {"cksum", "-a", "blake2b", "--untagged", "-l", "64"}}},
		{[]string{"cksum", "-a", "sm3"}, [][]string{{"cksum", "-a", "sm3"}, {"cksum", "-a", "sm3", "--untagged"}, {"cksum", "-a", "sha256", "--untagged"}}},
	} {
		var sums []string
		for _, gen := range c.gens {
			for l := range strings.Lines(fx.sums(t, gen...)) {
				sums = append(sums, l)
			}
		}
		tools = append(tools, tool{c.argv, sums})
	}
	flagSets := [][]string{{}, {"--quiet"}, {"--status"}, {"-w"}, {"--strict"}, {"--ignore-missing"}, {"-w", "--strict"}}
	for i := 0; i < int(n); i++ {
		tl := tools[rng.IntN(len(tools))]
		var list strings.Builder
		for n := rng.IntN(8); n >= 0; n-- {
			l := tl.sums[rng.IntN(len(tl.sums))]
			if rng.IntN(3) == 0 {
				l = mutateLine(rng, l)
			}
			list.WriteString(l)
		}
		if !strings.HasSuffix(list.String(), "\n") {
			// GNU reads past the end of a last line without its
			// newline in one case (b2sum's "BLAKE2b" alone).
			list.WriteString("\n")
		}
		argv := append(append(append([]string{}, tl.argv...), flagSets[rng.IntN(len(flagSets))]...), "-c", "L")
		compareCheck(t, fx.dir, g, tcp, checkCase{name: fmt.Sprintf("random %d (CHECKDIFF_SEED=%d)", i, seed), argv: argv, lists: map[string]string{"L": list.String()}, alt: i})
	}
}

// mutateLine changes a line of a list at random, as a hand edit or a
// damaged copy would.
func mutateLine(rng *rand.Rand, l string) string {
	b := []byte(l)
	switch rng.IntN(9) {
	case 0: // a byte changed
		const set = " \t*\\()=-0aF\n\r\x00x"
		b[rng.IntN(len(b))] = set[rng.IntN(len(set))]
	case 1: // a byte dropped
		i := rng.IntN(len(b))
		b = append(b[:i], b[i+1:]...)
	case 2: // a byte doubled
		i := rng.IntN(len(b))
		b = append(b[:i+1], b[i:]...)
	case 3:
		return strings.ToUpper(l)
	case 4:
		return "\\" + l
	case 5:
		return " " + l
	case 6:
		return strings.Replace(l, "\n", "\r\n", 1)
	}
	return string(b)
}

// TestCheckServerDies: a server killed while a listed file is being sent
// stops the check at that file: the file before it is OK, nothing is
// printed for it (neither OK nor FAILED) or for the file after it, and
// the error names it. The file is a FIFO, so the server dies while the
// client reads it.
func TestCheckServerDies(t *testing.T) {
	t.Parallel()
	for _, tcp := range []bool{false, true} {
		d := launch(t)
		dir := t.TempDir()
		writeFile(t, dir, "a", []byte("hello\n"))
		const hexA = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
		writeFile(t, dir, "L", []byte(hexA+"  a\n"+hexA+"  fifo\n"+hexA+"  a\n"))
		fifo := filepath.Join(dir, "fifo")
		mkfifo(t, fifo)
		argv := []string{"--addr", d.GRPC}
		if tcp {
			argv = []string{"--tcp", "--tcp-addr", d.TCP}
		}
		cmd := exec.Command(bin(t, "halfclose"), append(argv, "sha256sum", "-c", "L")...)
		cmd.Dir, cmd.Env = dir, cleanEnv()
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // once the client opens it: a is checked
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal(err)
		}
		w.Write(bytes.Repeat([]byte("x"), 100000))
		d.kill(t)
		w.Close()
		err = waitTimeout(t, cmd)
		if code := cmd.ProcessState.ExitCode(); code != 1 || out.String() != "a: OK\n" || !strings.HasPrefix(errb.String(), "halfclose: fifo: ") || strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("tcp %v: exit %d (%v), stdout %q, stderr %q; want 1, a: OK alone, one line naming fifo", tcp, code, err, out.String(), errb.String())
		}
	}
}

// TestCheckOpenLimit: the files a list names, and the lists, are opened
// one at a time, as GNU opens them, so a check of more files (or lists)
// than ulimit -n allows open at once reads them all.
func TestCheckOpenLimit(t *testing.T) {
	t.Parallel()
	g, tcp := startDaemon(t)
	dir := t.TempDir()
	var list strings.Builder
	for i := range 100 {
		name := "f" + strconv.Itoa(i)
		writeFile(t, dir, name, []byte(name+"\n"))
		list.WriteString(fmt.Sprintf("%x  %s\n", sha256.Sum256([]byte(name+"\n")), name))
	}
	writeFile(t, dir, "L", []byte(list.String()))
	writeFile(t, dir, "S", []byte(fmt.Sprintf("%x  f0\n", sha256.Sum256([]byte("f0\n")))))
	argv := []string{"sha256sum", "-c", "L"}
	for range 50 {
		argv = append(argv, "S")
	}
	limited := []string{"sh", "-c", `ulimit -n 40 && exec "$@"`, "sh"} // the hard limit too: Go cannot raise it
	want := run(t, dir, "", append(limited, argv...)...)
	if want.code != 0 || bytes.Count(want.stdout, []byte(": OK\n")) != 150 {
		t.Fatalf("GNU under ulimit -n 40: exit %d, stderr %q", want.code, want.stderr)
	}
	for _, transport := range [][]string{{"--addr", g}, {"--tcp", "--tcp-addr", tcp}} {
		got := run(t, dir, "", append(append(append(limited, bin(t, "halfclose")), transport...), argv...)...)
		if got.code != 0 || !bytes.Equal(got.stdout, want.stdout) || len(got.stderr) != 0 {
			t.Errorf("%q under ulimit -n 40: exit %d, stderr %.200q\n%s", transport, got.code, got.stderr, diff(got.stdout, want.stdout))
		}
	}
}

// TestCheckStdoutFails: a write to stdout that fails (a full disk) ends
// the check at once, exit 1 as GNU's, with one line on stderr in GNU
// cat's words: nothing more is uploaded for a report that cannot be
// written.
func TestCheckStdoutFails(t *testing.T) {
	t.Parallel()
	need(t, "b3sum")
	g, tcp := startDaemon(t)
	dir := t.TempDir()
	writeFile(t, dir, "a", []byte("hello\n"))
	const (
		sha = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  a\n"
		bad = "0000000000000000000000000000000000000000000000000000000000000000  a\n"
		b3  = "8e4c7c1b99dbfd50e7a95185fead5ee1448fa904a2fdd778eaf5f2dbfd629a99  a\n"
	)
	writeFile(t, dir, "L", []byte(sha+sha))
	writeFile(t, dir, "Q", []byte(sha+bad+sha))
	writeFile(t, dir, "B", []byte(b3+b3))
	full := []string{"sh", "-c", `exec "$@" >/dev/full`, "sh"}
	if want := run(t, dir, "", append(full, "sha256sum", "-c", "L")...); want.code != 1 {
		t.Fatalf("GNU to /dev/full: exit %d, stderr %q", want.code, want.stderr)
	}
	for _, transport := range [][]string{{"--addr", g}, {"--tcp", "--tcp-addr", tcp}} {
		for _, argv := range [][]string{{"sha256sum", "-c", "L"}, {"sha256sum", "--quiet", "-c", "Q"}, {"b3sum", "-c", "B"}} {
			got := run(t, dir, "", append(append(append(full, bin(t, "halfclose")), transport...), argv...)...)
			if got.code != 1 || string(got.stderr) != "halfclose: write error: No space left on device\n" {
				t.Errorf("%q %q to /dev/full: exit %d, stderr %q; want 1 and one line", transport, argv, got.code, got.stderr)
			}
		}
	}
}
