package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/internal/testenv"
)

// checkKnown compares got with GNU's want.
func checkKnown(t *testing.T, _ string, got, want result) {
	t.Helper()
	if !bytes.Equal(got.stdout, want.stdout) || got.code != want.code {
		t.Errorf("exit %d (GNU %d), stderr %q\n%s", got.code, want.code, got.stderr, diff(got.stdout, want.stdout))
	}
}

// fileOperands are names GNU prints as they are or escapes ("\\", "\n").
var fileOperands = map[string][]byte{
	"plain":      nil, // filled with random data
	"with space": []byte("hello world\n"),
	`back\slash`: []byte("x"),
	"new\nline":  {},
	"cr\rname":   []byte("\r\n"),
	"-dash":      []byte("looks like a flag"),
}

// TestDigestFiles: `halfclose CMD FILE...` uploads each file and prints
// what GNU prints for the same operands, with "-" as stdin, escaped names,
// and a missing file (reported on stderr, exit 1, the others still
// printed).
func TestDigestFiles(t *testing.T) {
	t.Parallel()
	need(t, "b3sum")
	g, _ := startDaemon(t)
	dir := t.TempDir()
	for name, data := range fileOperands {
		if data == nil {
			data = randomBytes(t, 65537)
		}
		writeFile(t, dir, name, data)
	}
	if err := os.Mkdir(filepath.Join(dir, "a dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	stdin := randomFile(t, 3<<20)
	cmds := [][]string{
		{"sha256sum"}, {"md5sum"}, {"b2sum", "-l", "256"}, {"sha256sum", "--tag"},
		{"b3sum"}, {"cksum"}, {"cksum", "-a", "crc", "--tag"}, {"cksum", "-a", "sha256"}, {"cksum", "-a", "sha256", "--untagged"},
		{"sha512sum", "-z"},
		// GNU's --debug line, once for all the files
		{"cksum", "-a", "crc", "--debug"},
		// binary mode: GNU's untagged line is "HEX *NAME"
		{"md5sum", "-b"}, {"sha1sum", "-b", "-z"}, {"b2sum", "-l", "128", "--binary"}, {"sha256sum", "-b", "--tag"},
		// b3sum prints no name with these
		{"b3sum", "--no-names"}, {"b3sum", "--raw"}, {"b3sum", "--raw", "--no-names", "-l", "7"},
	}
	// The names in order: by default each name alone meets every other
	// command, in turn (the long run, testenv.Long, every command), and
	// every command meets them all in one run with stdin and a missing file.
	var names []string
	for name := range fileOperands {
		if name != "-dash" { // needs "--"; in the run of several
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for k, c := range cmds {
		cname := strings.Join(c, " ")
		t.Run(cname, func(t *testing.T) {
			t.Parallel()
			for i, name := range names {
				if !testenv.Long() && (i+k)%2 == 1 {
					continue
				}
				t.Run(strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(name), func(t *testing.T) {
					argv := append(append([]string{}, c...), name)
					want := runPiped(t, dir, stdin, argv...)
					got := run(t, dir, stdin, append([]string{bin(t, "halfclose"), "--addr", g}, argv...)...)
					checkKnown(t, cname+"|"+name, got, want)
				})
			}
			t.Run("several with stdin and a missing file", func(t *testing.T) {
				argv := append(append(append([]string{}, c...), names...), "no such file", "a dir", "-", "--", "-dash")
				if c[0] == "cksum" && (len(c) == 1 || c[2] == "crc") {
					// GNU 9.1's CRC of a directory, an empty input's, is
					// an error here (docs/cli.md)
					argv = slices.DeleteFunc(argv, func(w string) bool { return w == "a dir" })
				}
				want := runPiped(t, dir, stdin, argv...)
				got := run(t, dir, stdin, append([]string{bin(t, "halfclose"), "--addr", g}, argv...)...)
				if want.code != 1 {
					t.Fatalf("oracle exit %d, want 1: %s", want.code, want.stderr)
				}
				raw := strings.Contains(cname, "--raw") // one file only: b3sum refuses the line
				if !raw && (!bytes.Contains(got.stderr, []byte("no such file")) || !bytes.Contains(got.stderr, []byte("No such file or directory"))) {
					t.Errorf("stderr %q does not report the missing file", got.stderr)
				}
				checkKnown(t, cname+"|several", got, want)
				// The messages too: GNU's (names quoted as GNU does),
				// the b3sum tool's (Rust's, with the errno).
				if !bytes.Equal(got.stderr, want.stderr) {
					t.Errorf("stderr %q, the tool's %q", got.stderr, want.stderr)
				}
			})
		})
	}
}

// TestQuotedPipeline: one argument is pipeline text, and its output is
// what sh prints for the same pipeline.
func TestQuotedPipeline(t *testing.T) {
	t.Parallel()
	g, tcp := startDaemon(t)
	pipelines := []string{
		"sha256sum | sha256sum",
		"md5sum|b2sum -l 128",
		"wc -l | sha1sum --tag",
		"cksum | wc -c",
		`sha256sum '-' | wc`,
	}
	for _, p := range pipelines {
		for _, n := range []int{0, 65537, 3 << 20} {
			in := randomFile(t, n)
			want := runPiped(t, "", in, "sh", "-c", p)
			for _, tr := range transports {
				got := run(t, "", in, clientArgv(t, g, tcp, tr, p)...)
				if got.code != 0 || !bytes.Equal(got.stdout, want.stdout) {
					t.Errorf("%q, %s, %s: exit %d, stderr %q\n%s", p, tr, sizeName(n), got.code, got.stderr, diff(got.stdout, want.stdout))
				}
			}
		}
	}
}

// TestCLIErrors: a bad command line exits non-zero with the status code
// and a message naming the bad part, and prints nothing on stdout.
func TestCLIErrors(t *testing.T) {
	t.Parallel()
	g, tcp := startDaemon(t)
	in := randomFile(t, 65537)
	cases := []struct {
		argv []string
		want []string // parts of stderr
	}{
		{[]string{"nosuchcmd"}, []string{"INVALID_ARGUMENT: unknown command", `"nosuchcmd"`}},
		{[]string{"sha256sum | nosuchcmd -x"}, []string{"INVALID_ARGUMENT: unknown command", `"nosuchcmd"`}},
		{[]string{"sha256sum", "--bogus"}, []string{"INVALID_ARGUMENT", "sha256sum", `"--bogus"`}},
		{[]string{"wc", "-Q"}, []string{"INVALID_ARGUMENT", "wc", `"-Q"`}},
		{[]string{"b2sum", "-l", "7"}, []string{"INVALID_ARGUMENT", "b2sum"}},
		{[]string{"cksum", "-a", "nosuchalgo"}, []string{"INVALID_ARGUMENT", "nosuchalgo"}},
		{[]string{"sha256sum | "}, []string{"INVALID_ARGUMENT", "pipeline"}},
		{[]string{"sha256sum > out"}, []string{"INVALID_ARGUMENT", `"> out", a redirection`}},
	}
	for _, c := range cases {
		for _, tr := range transports {
			got := run(t, "", in, clientArgv(t, g, tcp, tr, c.argv...)...)
			if got.code == 0 || len(got.stdout) != 0 {
				t.Errorf("%q over %s: exit %d, stdout %q; want a failure and no output", c.argv, tr, got.code, got.stdout)
			}
			for _, w := range c.want {
				if !strings.Contains(string(got.stderr), w) {
					t.Errorf("%q over %s: stderr %q does not contain %q", c.argv, tr, got.stderr, w)
				}
			}
		}
	}

	// No server: a clear failure, not a hang or a result.
	dead := freeAddr(t)
	for _, tr := range transports {
		got := run(t, "", in, clientArgv(t, dead, dead, tr, "sha256sum")...)
		if got.code == 0 || len(got.stdout) != 0 || len(got.stderr) == 0 {
			t.Errorf("no server over %s: exit %d, stdout %q, stderr %q; want a failure", tr, got.code, got.stdout, got.stderr)
		}
	}
	// The daemon itself refuses a bad route or flag, naming it.
	for _, c := range []struct{ flag, value, want string }{
		{"--tcp-route", "127.0.0.1:0=nosuchcmd", "nosuchcmd"},
		{"--tcp-route", "127.0.0.1:0=sha256sum --nosuchflag", "--nosuchflag"},
		{"--max-jobs", "0", "--max-jobs"},
	} {
		got := run(t, "", "", bin(t, "halfclosed"), "--grpc-addr", "127.0.0.1:0", "--tcp-addr", "", "--health-addr", "", c.flag, c.value)
		if got.code == 0 || !strings.Contains(string(got.stderr), c.want) {
			t.Errorf("halfclosed %s %q: exit %d, stderr %q; want a failure naming %s", c.flag, c.value, got.code, got.stderr, c.want)
		}
	}
}

// randomBytes returns n random bytes, read from the cached file of that size.
func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := readFile(t, randomFile(t, n))
	return b
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestChunkSize: the CLI's data messages are --chunk-size bytes. A server
// whose --max-msg-bytes is below them refuses the call (RESOURCE_EXHAUSTED,
// naming the flag to lower, no output); at or under the server's limit the
// digest is GNU's. A --chunk-size out of its bounds is a usage error.
func TestChunkSize(t *testing.T) {
	t.Parallel()
	g, _ := startDaemon(t, "--max-msg-bytes", "512KiB")
	in := randomFile(t, 3<<20)
	want := gnu(t, in, "sha256sum")

	got := run(t, "", in, bin(t, "halfclose"), "--addr", g, "sha256sum")
	if got.code != 1 || len(got.stdout) != 0 || !strings.Contains(string(got.stderr), "RESOURCE_EXHAUSTED") || !strings.Contains(string(got.stderr), "--chunk-size") {
		t.Errorf("1 MiB messages to a 512 KiB server: exit %d, stdout %q, stderr %q; want RESOURCE_EXHAUSTED naming --chunk-size", got.code, got.stdout, got.stderr)
	}
	for _, size := range []string{"256KiB", "16KiB"} {
		got := run(t, "", in, bin(t, "halfclose"), "--addr", g, "--chunk-size", size, "sha256sum")
		if got.code != 0 || !bytes.Equal(got.stdout, want) {
			t.Errorf("--chunk-size %s: exit %d, stdout %q, stderr %q; want %q", size, got.code, got.stdout, got.stderr, want)
		}
	}
	for _, size := range []string{"1KiB", "32MiB", "lots"} {
		got := run(t, "", in, bin(t, "halfclose"), "--addr", g, "--chunk-size", size, "sha256sum")
		if got.code != 2 || len(got.stdout) != 0 || !strings.Contains(string(got.stderr), "chunk-size") {
			t.Errorf("--chunk-size %s: exit %d, stdout %q, stderr %q; want a usage error (2) naming the flag", size, got.code, got.stdout, got.stderr)
		}
	}
}
