package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"unicode/utf8"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/client"
	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/digest"
)

// digestFiles splits a digest command line into the remote command (flags
// only) and its FILE operands; ok is false when it is not one. A line
// without FILE operands (md5sum, sha256sum --tag, b2sum -l 8 --) reads
// standard input, as GNU's, which names it "-": files is then empty, and
// the run reads "-", so that a standard input that cannot be read is
// reported as GNU reports it (md5sum < dir: "md5sum: -: Is a directory";
// it said "halfclose: reading input: read /dev/stdin: is a directory")
// and a bad value (b2sum -l 7) is named before it is read.
// The words are read with the command's own option table, as the server
// and GNU getopt_long read them: abbreviated long flags (cksum --al md5),
// a value after a cluster (b2sum -bl 8), permuted operands, "--". A line
// the table refuses is not one: it goes to the server as it is, which
// names the bad flag before any file is read, as GNU does (split by its
// look, a value of a cluster was taken for a file and reported missing in
// the flag's place: b2sum -bl 8 -x said "b2sum: 8: No such file or
// directory").
func digestFiles(words []string) (cmd []string, files []string, ok bool) {
	// The digest commands' FILE operands the client uploads itself, one
	// stream per file, printing what GNU prints for them.
	if !digest.IsCommand(words[0]) {
		return nil, nil, false
	}
	cmd, files, err := splitDigestWords(words)
	if err != nil {
		return nil, nil, false
	}
	return cmd, files, true
}

// isDigest reports whether words are a digest command's: its name, then
// its words (not one operand of pipeline text, "md5sum | wc").
func isDigest(words []string) bool {
	return digest.IsCommand(words[0])
}

// refusedFlags reports whether the digest command refuses the flags of
// cmd (b2sum -l 7, a b3sum flag given twice), which its option table
// takes.
func refusedFlags(cmd []string) bool {
	c, ok := digestRegistry.Lookup(cmd[0])
	if !ok {
		return false
	}
	_, err := c.Build(&compute.Env{}, cmd[1:])
	return err != nil
}

// digestRegistry holds the digest commands, for their option tables.
var digestRegistry = func() *compute.Registry {
	r := compute.NewRegistry()
	digest.Register(r)
	return r
}()

// splitDigestWords reads words with the digest command's option table:
// each flag is sent in full (its value a word of its own, or after "="),
// the operands are the files.
func splitDigestWords(words []string) (cmd, files []string, err error) {
	c, ok := digestRegistry.Lookup(words[0])
	if !ok {
		return nil, nil, fmt.Errorf("%s: no option table", words[0])
	}
	g := digestGetopt(words, c.Flags)
	cmd = []string{words[0]}
	for {
		it, ok, err := g.Next()
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			break
		}
		if !it.IsFlag {
			files = append(files, it.Operand)
			continue
		}
		cmd = appendFlag(cmd, it.Flag)
	}
	return cmd, append(files, g.Rest()...), nil
}

// digestGetopt reads the words of a digest command (words[0]) with specs
// as the command's own parser does: GNU getopt_long, whose flags end at
// the first operand under POSIXLY_CORRECT ("sha256sum f --tag" sums a
// file named --tag); b3sum's clap permutes all the same, and never
// abbreviates a long flag.
func digestGetopt(words []string, specs []compute.FlagSpec) *compute.Getopt {
	exact := words[0] == "b3sum"
	order := compute.InOrder
	if _, posix := os.LookupEnv("POSIXLY_CORRECT"); posix && !exact {
		order = compute.RequireOrder
	}
	g := compute.NewGetopt(words[0], specs, order, words[1:])
	g.Exact = exact
	return g
}

// appendFlag appends f to cmd as it is sent to the server: in full, its
// value a word of its own, or after "=".
func appendFlag(cmd []string, f compute.FlagUse) []string {
	switch {
	case !f.HasValue:
		return append(cmd, f.Name)
	case strings.HasPrefix(f.Name, "--"):
		return append(cmd, f.Name+"="+f.Value)
	}
	return append(cmd, f.Name, f.Value)
}

// digestFiles uploads each file in its own stream and prints the line the
// GNU tool prints for it. Like GNU, a file that cannot be read is reported
// and the others still run; the exit code is then 1. No files is standard
// input (sumStdin).
func (r *runner) digestFiles(ctx context.Context, cmd, files []string, stdin io.Reader, stdout io.Writer) int {
	pipeline := quoteWords(cmd)
	code := 0
	if refusedFlags(cmd) {
		// A bad value (b2sum -l 7) is named before any file is opened,
		// as GNU names it: the server refuses the flags alone.
		if _, err := r.run(ctx, pipeline, strings.NewReader(""), io.Discard); err != nil {
			return r.failure(ctx, "", err)
		}
	}
	if len(files) == 0 {
		return r.sumStdin(ctx, cmd[0], pipeline, stdin, stdout)
	}
	// b3sum --raw and --no-names print no name (the b3sum tool takes no
	// abbreviations of them, nor does the server); --raw takes one file.
	bare := false
	if cmd[0] == "b3sum" {
		for _, w := range cmd[1:] {
			switch w {
			case "--raw":
				if len(files) > 1 {
					fmt.Fprintln(r.stderr, "Error: Only one filename can be provided when using --raw") // the tool's words
					return 1
				}
				bare = true
			case "--no-names":
				bare = true
			}
		}
	}
	shown := map[string]bool{} // the diagnostics printed
	for _, name := range files {
		res, sum, ferr, err := r.sumFile(ctx, cmd[0], pipeline, name, stdin)
		if ferr != nil {
			fmt.Fprintln(r.stderr, ferr.line)
			code = 1
			continue
		}
		if err != nil {
			return r.failure(ctx, name, err)
		}
		// What the command wrote on standard error (cksum --debug's
		// line): GNU, one process for all the files, writes it once.
		r.diagnose(sum, shown)
		if !bare {
			res = renameOutput(cmd[0], res, name)
		}
		if _, err := stdout.Write(res); err != nil {
			fmt.Fprintln(r.stderr, "halfclose:", r.describe(err))
			return 1
		}
	}
	return code
}

// sumStdin runs a digest command without FILE operands over standard
// input, as GNU's reads it, its file "-": one that cannot be read is the
// tool's line (md5sum < dir: "md5sum: -: Is a directory"). What it prints
// is the command's own line, not renamed (cksum's legacy "CRC SIZE" has a
// name only for an operand, "-" too, as GNU's), passed on as it comes,
// as a pipeline's output: b3sum -l 67108864's 128 MiB of hex is not held.
// halfclose's own failures name no file, as a pipeline's.
func (r *runner) sumStdin(ctx context.Context, cmd, pipeline string, stdin io.Reader, stdout io.Writer) int {
	sum, ferr, err := r.sumFileTo(ctx, cmd, pipeline, "-", stdin, stdout)
	switch {
	case err != nil:
		return r.failure(ctx, "", err)
	case ferr != nil && ferr.own:
		return r.failure(ctx, "", ferr.err)
	case ferr != nil:
		fmt.Fprintln(r.stderr, ferr.line)
		return 1
	}
	for _, line := range sum.GetDiagnostics() {
		fmt.Fprintln(r.stderr, line)
	}
	if sc, ok := context.Cause(ctx).(signalCause); ok {
		// The reply was complete, but the user asked to stop.
		return r.failure(ctx, "", sc)
	}
	return 0
}

// diagnose prints the lines the command wrote on standard error that
// shown does not hold yet, and adds them to it.
func (r *runner) diagnose(sum *apiv1.RunSummary, shown map[string]bool) {
	for _, line := range sum.GetDiagnostics() {
		if !shown[line] {
			shown[line] = true
			fmt.Fprintln(r.stderr, line)
		}
	}
}

// fileError is a file that could not be read: GNU reports it and goes on
// with the others.
type fileError struct {
	err     error  // the open or read error
	line    string // the stderr line, as the tool prints it, without its newline
	missing bool   // the open said ENOENT (GNU's --ignore-missing skips it)
	own     bool   // line is halfclose's own ("halfclose: NAME: ..."), not the tool's
}

// sumFile uploads the file name ("-": stdin) as the input of pipeline,
// in its own stream, and returns the command's output and summary. A
// file that cannot be opened or read to its end (a directory, an I/O
// error, a file that changed while it was sent) is a *fileError, and the
// call, if any, was aborted; any other error (the server's, the
// connection's) is err, and stops a run.
func (r *runner) sumFile(ctx context.Context, cmd, pipeline, name string, stdin io.Reader) ([]byte, *apiv1.RunSummary, *fileError, error) {
	var out bytes.Buffer
	sum, ferr, err := r.sumFileTo(ctx, cmd, pipeline, name, stdin, &out)
	return out.Bytes(), sum, ferr, err
}

// sumFileTo is sumFile writing the command's output to out as it comes:
// standard input without a FILE operand, whose line is not renamed, so
// that b3sum -l 67108864's 128 MiB of hex is not held (as the pipeline
// path never held it).
func (r *runner) sumFileTo(ctx context.Context, cmd, pipeline, name string, stdin io.Reader, out io.Writer) (*apiv1.RunSummary, *fileError, error) {
	var in io.Reader = stdin
	var file *os.File // the FILE operand's, closed after its call
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, &fileError{err: err, line: cmd + ": " + describeOpen(cmd, name, err), missing: errors.Is(err, syscall.ENOENT)}, nil
		}
		if st, err := f.Stat(); err == nil && st.IsDir() {
			// An error for every command, also cksum's CRC, where GNU
			// 9.1 prints the CRC of nothing (docs/cli.md).
			f.Close()
			return nil, &fileError{err: syscall.EISDIR, line: cmd + ": " + describeOpen(cmd, name, syscall.EISDIR)}, nil
		}
		in, file = f, f
	}
	// Named as the error lines name it (quotef): a newline in the
	// name broke the progress line in two, an escape sequence went
	// to the terminal as it was.
	label := quotef(name)
	if name == "-" {
		label = ""
	}
	in, out, done := r.prog.track(in, out, r.stderr, label)
	sum, err := r.run(ctx, pipeline, in, out) // a digest exits 0
	done()
	if file != nil {
		// Closed now, not when the run ends: GNU holds one file
		// open at a time, and with a deferred close "sha256sum *"
		// over more files than ulimit -n said "Too many open files"
		// for the rest of them.
		file.Close()
	}
	if err != nil && ctx.Err() == nil && client.IsInputError(err) {
		// A file that could not be read to its end (standard input
		// a directory, an I/O error, a file that changed while it
		// was sent): the call was aborted; reported for this file,
		// as GNU reports a read error.
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, &fileError{err: pe, line: cmd + ": " + describeOpen(cmd, name, pe)}, nil
		}
		return nil, &fileError{err: err, line: fmt.Sprintf("halfclose: %s: %s", quotef(name), describe(err)), own: true}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return sum, nil, nil
}

// describeOpen is the message of cmd for a file that cannot be read:
// GNU's, the name quoted as GNU quotes it and strerror's text; the b3sum
// tool's (Rust's), the name as it is and the text followed by the errno,
// "(os error 2)".
func describeOpen(cmd, name string, err error) string {
	if cmd == "b3sum" {
		return lossyName(name) + ": " + openWhy(cmd, err)
	}
	return quotef(name) + ": " + openWhy(cmd, err)
}

// openWhy is the text of err as the tool prints it: strerror's, and for
// b3sum (Rust's io::Error) followed by the errno, "(os error 2)".
func openWhy(cmd string, err error) string {
	why := err.Error()
	var pe *os.PathError
	switch {
	case os.IsNotExist(err):
		why = "No such file or directory"
	case os.IsPermission(err):
		why = "Permission denied"
	case errors.Is(err, syscall.EISDIR):
		why = "Is a directory"
	case errors.As(err, &pe):
		why = pe.Err.Error()
		why = strings.ToUpper(why[:1]) + why[1:]
	}
	if cmd == "b3sum" {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			why += fmt.Sprintf(" (os error %d)", int(errno))
		}
	}
	return why
}

// lossyName is a file name as the b3sum tool prints it (Rust's
// to_string_lossy): bytes that are not UTF-8 become U+FFFD, one for each
// maximal prefix of a valid sequence, or for a byte that starts none
// ("\xe2\x82" is one, "\xed\xa0\x80" three, as Unicode's "substitution of
// maximal subparts").
func lossyName(name string) string {
	if utf8.ValidString(name) {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); {
		r, n := utf8.DecodeRuneInString(name[i:])
		if r == utf8.RuneError && n <= 1 {
			n = invalidUTF8Prefix(name[i:])
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(name[i : i+n])
		}
		i += n
	}
	return b.String()
}

// invalidUTF8Prefix is the length of the maximal subpart at the start of
// s, which does not start with a valid sequence: its lead byte and the
// continuation bytes after it that a valid sequence could have there
// (after E0 the second byte is A0..BF, after ED 80..9F, after F0 90..BF,
// after F4 80..8F), at least 1.
func invalidUTF8Prefix(s string) int {
	lo, hi := byte(0x80), byte(0xbf)
	need := 0
	switch c := s[0]; {
	case c >= 0xc2 && c <= 0xdf:
		need = 1
	case c == 0xe0:
		need, lo = 2, 0xa0
	case c == 0xed:
		need, hi = 2, 0x9f
	case c >= 0xe1 && c <= 0xef:
		need = 2
	case c == 0xf0:
		need, lo = 3, 0x90
	case c == 0xf4:
		need, hi = 3, 0x8f
	case c >= 0xf1 && c <= 0xf3:
		need = 3
	}
	n := 1
	for k := 0; k < need && n < len(s); k++ {
		if s[n] < lo || s[n] > hi {
			break
		}
		lo, hi = 0x80, 0xbf
		n++
	}
	return n
}

// renameOutput turns the line a digest command printed for stdin into the
// one GNU prints for a file: "HEX  -" → "HEX  NAME" ("HEX *-" → "HEX *NAME"
// with -b), "ALGO (-) = HEX" →
// "ALGO (NAME) = HEX", and cksum's legacy "CRC SIZE" → "CRC SIZE NAME" (also
// for "-"; names there are never escaped). In the digest formats a name with
// a backslash or newline (and, for the coreutils tools, a carriage return)
// is escaped and the line starts with "\"; with -z (lines end in NUL)
// nothing is escaped.
func renameOutput(cmd string, out []byte, name string) []byte {
	term := byte('\n')
	if len(out) > 0 && out[len(out)-1] == 0 {
		term = 0
	}
	line := strings.TrimSuffix(string(out), string(term))
	// GNU's untagged line is "HEX  NAME", or "HEX *NAME" in binary mode (-b).
	untagged := strings.HasSuffix(line, "  -") || strings.HasSuffix(line, " *-")
	tagged := strings.Contains(line, " (-) = ")
	if !untagged && !tagged {
		return []byte(line + " " + name + string(term))
	}
	if name == "-" {
		return out
	}
	escaped, prefix := name, ""
	specials := "\\\n\r"
	if cmd == "b3sum" {
		specials = "\\\n" // the b3sum tool leaves \r alone
		escaped = lossyName(name)
	}
	if term == '\n' && strings.ContainsAny(name, specials) {
		pairs := []string{"\\", `\\`, "\n", `\n`}
		if strings.ContainsRune(specials, '\r') {
			pairs = append(pairs, "\r", `\r`)
		}
		escaped = strings.NewReplacer(pairs...).Replace(escaped)
		prefix = `\`
	}
	if untagged {
		line = line[:len(line)-1] + escaped
	} else {
		line = strings.Replace(line, " (-) = ", " ("+escaped+") = ", 1)
	}
	return []byte(prefix + line + string(term))
}
