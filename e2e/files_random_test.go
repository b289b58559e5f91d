package e2e

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/internal/testenv"
)

// filesCase is one generated run of a digest command with FILE operands
// (or none: standard input).
type filesCase struct {
	argv  []string
	stdin string // a file; "" for the fixture's directory d
	piped bool   // standard input is a pipe fed from it, not the file
}

// filesFlags are the words a generated line draws from, per command: the
// flags GNU takes, each with its values, and now and then one it refuses
// (bad), which the CLI must refuse too, before any file is read. Not
// drawn: cksum --debug (its line is the server's hardware's, and --tcp
// carries none), b3sum --keyed (the tool reads a key from
// standard input) and b3sum -l with a value that does not parse
// (differences docs/cli.md and docs/protocol.md keep).
var filesFlags = map[string]struct{ good, bad [][]string }{
	"*sum": { // md5sum … sha512sum
		good: [][]string{{"--tag"}, {"-z"}, {"--zero"}, {"-b"}, {"-t"}, {"--binary"}, {"--text"}, {"-bz"}, {"--ta"}, {"--"}},
		bad:  [][]string{{"-x"}, {"--bogus"}, {"--quiet"}, {"--tag=1"}, {"--status"}, {"-l", "8"}},
	},
	"b2sum": {
		good: [][]string{{"--tag"}, {"-z"}, {"-b"}, {"-t"}, {"-l", "8"}, {"-l", "256"}, {"-l", "0"}, {"--length=64"}, {"-bl", "128"}, {"--le", "512"}, {"--"}},
		bad:  [][]string{{"-l", "7"}, {"-l", "x"}, {"-l", "520"}, {"-x"}, {"--warn"}},
	},
	"cksum": {
		good: [][]string{{"-a", "md5"}, {"-a", "sha1"}, {"-a", "sha224"}, {"-a", "sha256"}, {"-a", "sha384"}, {"-a", "sha512"},
			{"-a", "blake2b"}, {"-a", "crc"}, {"-a", "sysv"}, {"-a", "bsd"}, {"-a", "sm3"}, {"--al", "blake2b", "-l", "64"}, {"--algorithm=sha1"},
			{"--untagged"}, {"--tag"}, {"-z"}, {"-za", "md5"}, {"--"}},
		bad: [][]string{{"-a", "foo"}, {"-b"}, {"--base64"}, {"-x"}, {"-l", "8"}, {"-a", "blake2b", "-l", "7"}},
	},
	"sum": {
		good: [][]string{{"-r"}, {"-s"}, {"--sysv"}, {"--sy"}, {"-rs"}, {"-sr"}, {"--"}},
		bad:  [][]string{{"--tag"}, {"-x"}, {"-a", "bsd"}, {"--sysv=1"}},
	},
	"b3sum": {
		good: [][]string{{"--no-names"}, {"--raw"}, {"-l", "8"}, {"--length", "64"}, {"-l", "1"}, {"--derive-key", "ctx"}, {"--num-threads", "1"}, {"--no-mmap"}},
		bad:  [][]string{{"--quiet"}, {"-x"}, {"--tag"}, {"--no-mmap", "--no-mmap"}},
	},
}

// generateFilesCase draws case i of seed: a digest command, flags and
// operands interleaved (GNU permutes them), and standard input.
func generateFilesCase(seed uint64, i int, files []string) filesCase {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	cmds := []string{"md5sum", "sha1sum", "sha224sum", "sha256sum", "sha384sum", "sha512sum", "b2sum", "cksum", "cksum", "b3sum", "sum"}
	cmd := cmds[rng.IntN(len(cmds))]
	fl, ok := filesFlags[cmd]
	if !ok {
		fl = filesFlags["*sum"]
	}
	var flags [][]string
	for k := rng.IntN(4); k > 0; k-- {
		if rng.IntN(15) == 0 {
			flags = append(flags, fl.bad[rng.IntN(len(fl.bad))])
		} else {
			flags = append(flags, fl.good[rng.IntN(len(fl.good))])
		}
	}
	names := append(append([]string{}, files...), "nope", "-", "-", "a", "dangle", "loop")
	if cmd != "cksum" {
		// GNU 9.1's cksum prints the CRC of nothing for a directory
		// (docs/cli.md keeps that difference).
		names = append(names, "d")
	}
	var ops []string
	for k := rng.IntN(5); k > 0; k-- {
		ops = append(ops, names[rng.IntN(len(names))])
	}
	argv := []string{cmd}
	for len(flags) > 0 || len(ops) > 0 {
		if len(ops) == 0 || len(flags) > 0 && rng.IntN(2) == 0 {
			argv = append(argv, flags[0]...)
			flags = flags[1:]
		} else {
			argv = append(argv, ops[0])
			ops = ops[1:]
		}
	}
	c := filesCase{argv: argv, stdin: "stdin", piped: rng.IntN(2) == 0}
	if cmd != "cksum" && rng.IntN(8) == 0 {
		c.stdin, c.piped = "", false
	}
	return c
}

// gnuRefused reports whether GNU's stderr is a refusal of the line (a bad
// flag or value), which it names before it reads any file.
func gnuRefused(stderr []byte) bool {
	s := string(stderr)
	for _, mark := range []string{"Try '", "invalid length", "is only supported", "maximum digest length"} {
		if strings.Contains(s, mark) {
			return true
		}
	}
	return strings.HasPrefix(s, "error: ") // the b3sum tool's (clap)
}

// TestFilesRandom: generated digest command lines with FILE operands,
// none (standard input: a pipe, a file, a directory), missing files, a
// directory, names GNU escapes, "-" once or more, flags permuted among
// them and now and then one the command refuses, against GNU coreutils
// 9.1 (and the b3sum tool): the same stdout, stderr and exit status; a
// line GNU refuses is refused with the server's words (docs/cli.md).
// make test runs 100 cases, each over gRPC or --tcp in turn (both in
// make test-long); FILESDIFF_N and FILESDIFF_SEED set others (make fuzz).
// The run found halfclose md5sum < dir saying "halfclose: reading input"
// where GNU says "md5sum: -: Is a directory".
func TestFilesRandom(t *testing.T) {
	t.Parallel()
	need(t, "b3sum")
	g, tcp := startDaemon(t)
	fx := newCheckFixture(t)
	writeFile(t, fx.dir, "stdin", []byte("standard input\n"))
	n := testenv.Uint(t, "FILESDIFF_N", 100)
	seed := testenv.Uint(t, "FILESDIFF_SEED", 20261206)
	diffs := 0
	for i := 0; i < int(n); i++ {
		c := generateFilesCase(seed, i, fx.files)
		stdin := filepath.Join(fx.dir, c.stdin)
		if c.stdin == "" {
			stdin = filepath.Join(fx.dir, "d")
		}
		want := runStdin(t, fx.dir, stdin, c.piped, c.argv...)
		for _, transport := range checkTransports(i, g, tcp) {
			got := runStdin(t, fx.dir, stdin, c.piped, append(append([]string{bin(t, "halfclose")}, transport...), c.argv...)...)
			if got.code == want.code && bytes.Equal(got.stdout, want.stdout) && bytes.Equal(got.stderr, want.stderr) {
				continue
			}
			if got.code == want.code && len(got.stdout) == 0 && len(want.stdout) == 0 && gnuRefused(want.stderr) &&
				strings.HasPrefix(string(got.stderr), "halfclose: INVALID_ARGUMENT: "+c.argv[0]+": ") && bytes.Count(got.stderr, []byte("\n")) == 1 {
				continue // both refused the line (docs/cli.md: the server's words)
			}
			diffs++
			if diffs <= 20 {
				t.Errorf("case %d (FILESDIFF_SEED=%d) %q %q < %s (piped %v): exit %d (the tool's %d)\nstderr %q\n  tool %q\nstdout %s",
					i, seed, transport, c.argv, filepath.Base(stdin), c.piped, got.code, want.code, got.stderr, want.stderr, diff(got.stdout, want.stdout))
			}
		}
	}
	if diffs > 0 {
		t.Errorf("%d of %d cases differ from GNU (FILESDIFF_SEED=%d)", diffs, n, seed)
	}
	if testing.Verbose() {
		t.Logf("%d cases (FILESDIFF_SEED=%d), each over %d transports", n, seed, len(checkTransports(0, g, tcp)))
	}
}
