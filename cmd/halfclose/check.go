package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/digest"
)

// checkCommands are the digest commands with a check mode (-c): GNU
// coreutils 9.1's and the b3sum tool's.
var checkCommands = map[string]bool{
	"md5sum": true, "sha1sum": true, "sha224sum": true, "sha256sum": true, "sha384sum": true,
	"sha512sum": true, "b2sum": true, "cksum": true, "b3sum": true,
}

// checkRun is a check-mode command line: the lists to read and how to
// report.
type checkRun struct {
	cmd   string
	lists []string
	// GNU's: the last of --status, --warn and --quiet wins.
	status, warn, quiet, strict, ignoreMissing bool
	algo                                       string // cksum -a, when given
	// usage is the refusal of the line (a flag that means nothing when
	// checking), GNU's words; flagWords is the line without the check
	// flags, which the server judges first (an unknown flag, b2sum -l 7).
	usage     string
	flagWords []string
}

// checkWords reads words (a command and its words) as the command's
// check mode reads them. ok is false when the line is not a check (no -c
// before a bad word, which the server then names as usual); err is a bad
// word after -c, which GNU names as the server would, without -c.
func checkWords(words []string) (cr *checkRun, ok bool, err error) {
	if !checkCommands[words[0]] {
		return nil, false, nil
	}
	c, found := digestRegistry.Lookup(words[0])
	if !found {
		return nil, false, nil
	}
	specs := make([]compute.FlagSpec, len(c.Flags))
	for i, s := range c.Flags {
		specs[i] = s
		if digest.IsCheckFlag(s) {
			specs[i].Refuse = ""
		}
	}
	g := digestGetopt(words, specs)
	cr = &checkRun{cmd: words[0]}
	check := false
	rest := []string{words[0]} // the words but the check flags
	var uses []compute.FlagUse
	for {
		it, more, err := g.Next()
		if err != nil {
			if check {
				return nil, false, status.Error(codes.InvalidArgument, err.Error())
			}
			return nil, false, nil
		}
		if !more {
			break
		}
		if !it.IsFlag {
			cr.lists = append(cr.lists, it.Operand)
			continue
		}
		f := it.Flag
		uses = append(uses, f)
		switch f.Key {
		case "c":
			check = true
		case "status":
			cr.status, cr.warn, cr.quiet = true, false, false
		case "w":
			cr.status, cr.warn, cr.quiet = false, true, false
		case "quiet":
			cr.status, cr.warn, cr.quiet = false, false, true
		case "strict":
			cr.strict = true
		case "ignore-missing":
			cr.ignoreMissing = true
		default:
			if f.Key == "a" {
				cr.algo = f.Value
			}
			rest = appendFlag(rest, f)
		}
	}
	if !check {
		return nil, false, nil
	}
	cr.lists = append(cr.lists, g.Rest()...)
	if len(cr.lists) == 0 {
		cr.lists = []string{"-"}
	}
	cr.flagWords = rest
	cr.usage = checkUsage(words[0], cr.algo, uses)
	return cr, true, nil
}

// checkUsage is GNU's refusal of a check line's flags, in GNU's order
// (after the server's, which judges the values), or "".
func checkUsage(cmd, algo string, uses []compute.FlagUse) string {
	has := map[string]bool{}
	for _, u := range uses {
		if has[u.Key] && cmd == "b3sum" {
			return fmt.Sprintf("b3sum: flag %q given more than once", u.Name)
		}
		has[u.Key] = true
	}
	if cmd == "b3sum" {
		// clap's conflicts with --check.
		for _, u := range uses {
			switch u.Key {
			case "l", "raw", "no-names", "derive-key", "keyed":
				return fmt.Sprintf("b3sum: %s cannot be used with --check", u.Name)
			}
		}
		return ""
	}
	switch {
	case cmd == "cksum" && (algo == "bsd" || algo == "sysv" || algo == "crc"):
		return "cksum: --check is not supported with --algorithm={bsd,sysv,crc}"
	case has["z"]:
		return cmd + ": the --zero option is not supported when verifying checksums"
	case cmd != "cksum" && has["tag"]:
		return cmd + ": the --tag option is meaningless when verifying checksums"
	case cmd != "cksum" && (has["b"] || has["t"]):
		return cmd + ": the --binary and --text options are meaningless when verifying checksums"
	}
	return ""
}

// checkLists runs a check: each list is read line by line, and each file
// a line names is uploaded in its own stream, as a FILE operand is, and
// its digest compared with the line's; what is printed, on stdout and
// stderr, and the exit status are the tool's. A call the server refuses
// or fails (a lost connection) stops the run there, as in FILE mode:
// nothing it did not verify is reported OK (or FAILED).
func (r *runner) checkLists(ctx context.Context, cr *checkRun, stdin io.Reader, stdout io.Writer) int {
	if refusedFlags(cr.flagWords) {
		// A bad value (b2sum -l 7) is named before any list is read,
		// as GNU names it: the server refuses the flags alone.
		if _, err := r.run(ctx, quoteWords(cr.flagWords), strings.NewReader(""), io.Discard); err != nil {
			return r.failure(ctx, "", err)
		}
	}
	if cr.usage != "" {
		return r.failure(ctx, "", status.Error(codes.InvalidArgument, cr.usage))
	}
	c := &checker{r: r, cr: cr, stdin: stdin, stdout: stdout, shown: map[string]bool{}}
	if cr.cmd == "b3sum" {
		return c.b3Lists(ctx)
	}
	c.p = newGNUParser(cr.cmd, cr.algo)
	ok := true
	for _, list := range cr.lists {
		good, code := c.gnuList(ctx, list)
		if code >= 0 {
			return code
		}
		ok = ok && good
	}
	if !ok {
		return 1
	}
	return 0
}

// checker is one run of checkLists.
type checker struct {
	r      *runner
	cr     *checkRun
	p      *gnuParser
	stdin  io.Reader
	stdout io.Writer
	shown  map[string]bool // the diagnostics printed
}

// errOut is a write to stdout that failed: the run stops.
type errOut struct{ err error }

func (c *checker) print(s string) error {
	if _, err := io.WriteString(c.stdout, s); err != nil {
		return errOut{err}
	}
	return nil
}

func (e errOut) Error() string { return e.err.Error() }

// stop reports err, which ends the run at the file name, and returns the
// run's exit code: stdout's failure (errOut), or the server's or the
// connection's.
func (c *checker) stop(ctx context.Context, name string, err error) int {
	var eo errOut
	if errors.As(err, &eo) {
		fmt.Fprintln(c.r.stderr, "halfclose:", c.r.describe(eo.err))
		return 1
	}
	return c.r.failure(ctx, name, err)
}

// gnuList checks one list as GNU's digest_check does. code is -1, or the
// exit code of a run that must stop.
func (c *checker) gnuList(ctx context.Context, list string) (ok bool, code int) {
	cmd := c.cr.cmd
	display := list
	var in io.Reader = c.stdin
	if list == "-" {
		display = "standard input"
	} else {
		f, err := os.Open(list)
		if err != nil {
			fmt.Fprintf(c.r.stderr, "%s: %s\n", cmd, describeOpen(cmd, list, err))
			return false, -1
		}
		defer f.Close()
		in = f
	}
	var (
		misformatted, mismatched, unread int
		properly, matched                bool
	)
	br := bufio.NewReaderSize(in, 64<<10)
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			fmt.Fprintf(c.r.stderr, "%s: %s: read error\n", cmd, quotef(display))
			return false, -1
		}
		if len(line) == 0 {
			break
		}
		if line[0] == '#' {
			continue
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			continue
		}
		l, good := c.p.parse(line)
		if !good || list == "-" && l.name == "-" {
			misformatted++
			if c.cr.warn {
				fmt.Fprintf(c.r.stderr, "%s: %s: %d: improperly formatted %s checksum line\n", cmd, quotef(display), lineNo, c.p.typeString())
			}
			continue
		}
		properly = true
		res, err := c.verify(ctx, l)
		if err != nil {
			return false, c.stop(ctx, l.name, err)
		}
		switch res {
		case verifyUnread:
			unread++
		case verifyMismatch:
			mismatched++
		case verifyOK:
			matched = true
		}
	}
	if !properly {
		fmt.Fprintf(c.r.stderr, "%s: %s: no properly formatted checksum lines found\n", cmd, quotef(display))
		return false, -1
	}
	if !c.cr.status {
		plural := func(n int, one, many string) {
			if n == 1 {
				fmt.Fprintf(c.r.stderr, "%s: WARNING: %d %s\n", cmd, n, one)
			} else if n > 1 {
				fmt.Fprintf(c.r.stderr, "%s: WARNING: %d %s\n", cmd, n, many)
			}
		}
		plural(misformatted, "line is improperly formatted", "lines are improperly formatted")
		plural(unread, "listed file could not be read", "listed files could not be read")
		plural(mismatched, "computed checksum did NOT match", "computed checksums did NOT match")
		if c.cr.ignoreMissing && !matched {
			fmt.Fprintf(c.r.stderr, "%s: %s: no file was verified\n", cmd, quotef(display))
		}
	}
	return matched && mismatched == 0 && unread == 0 && (!c.cr.strict || misformatted == 0), -1
}

// What verify found.
const (
	verifyOK = iota
	verifyMismatch
	verifyUnread  // FAILED open or read
	verifyMissing // skipped: --ignore-missing
)

// verify uploads the file of l, compares its digest and prints GNU's
// line for it. err stops the run: the server's or the connection's, or
// stdout's (errOut).
func (c *checker) verify(ctx context.Context, l checkLine) (int, error) {
	pipeline, width := c.linePipeline(l)
	name := l.name
	if !c.cr.status && strings.ContainsRune(name, '\n') {
		// GNU escapes a name only where it would break the line.
		name = `\` + strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`).Replace(name)
	}
	out, sum, ferr, err := c.r.sumFile(ctx, c.cr.cmd, pipeline, l.name, c.stdin)
	if err != nil {
		return 0, err
	}
	if ferr != nil {
		if ferr.missing && c.cr.ignoreMissing {
			return verifyMissing, nil
		}
		fmt.Fprintln(c.r.stderr, ferr.line)
		if !c.cr.status {
			if err := c.print(name + ": FAILED open or read\n"); err != nil {
				return 0, err
			}
		}
		return verifyUnread, nil
	}
	c.r.diagnose(sum, c.shown)
	got, err := digestHex(out, width)
	if err != nil {
		return 0, err
	}
	// GNU compares the first hex digits the line has (cksum's
	// "SHA256-128 (f) = …" checks half of the digest), in either case.
	res := verifyOK
	if len(l.hex) > len(got) || !strings.EqualFold(got[:len(l.hex)], l.hex) {
		res = verifyMismatch
	}
	if !c.cr.status {
		switch {
		case res == verifyMismatch:
			err = c.print(name + ": FAILED\n")
		case !c.cr.quiet:
			err = c.print(name + ": OK\n")
		}
	}
	return res, err
}

// linePipeline is the command that computes the digest a line of a list
// wants, and the number of hex digits it prints.
func (c *checker) linePipeline(l checkLine) (string, int) {
	switch c.cr.cmd {
	case "b3sum":
		return "b3sum", 64
	case "b2sum":
		if l.bits == 512 {
			return "b2sum", 128
		}
		return "b2sum -l " + strconv.Itoa(l.bits), l.bits / 4
	case "cksum":
		algo := strings.ToLower(cksumTags[l.algo])
		if algo == "blake2b" {
			if l.bits == 512 {
				return "cksum -a blake2b --untagged", 128
			}
			return "cksum -a blake2b --untagged -l " + strconv.Itoa(l.bits), l.bits / 4
		}
		return "cksum -a " + algo + " --untagged", cksumBits[l.algo] / 4
	}
	return c.cr.cmd, gnuTag[c.cr.cmd].bits / 4
}

// digestHex is the digest of a command's "HEX  -" line, width hex digits.
func digestHex(out []byte, width int) (string, error) {
	hex, _, _ := strings.Cut(string(out), " ")
	if len(hex) != width || strings.IndexFunc(hex, func(r rune) bool { return !isXdigit(byte(r)) || r > 0x7f }) >= 0 {
		return "", status.Errorf(codes.Internal, "the server's digest line is not one of %d hex digits: %q", width, out)
	}
	return hex, nil
}

// b3Lists checks the lists as the b3sum tool (1.2) does: lines of
// exactly "HEX  NAME" (64 lower-case hex digits), an error for any other
// line (on stderr, and the run's status is 1), "NAME: FAILED (why)" for a
// file that cannot be read, and no summary. A list that cannot be opened
// or read, or that is not UTF-8, ends the run, as the tool's "Error:".
func (c *checker) b3Lists(ctx context.Context) int {
	failed := false
	for _, list := range c.cr.lists {
		good, code := c.b3List(ctx, list)
		if code >= 0 {
			return code
		}
		failed = failed || !good
	}
	if failed {
		return 1
	}
	return 0
}

// b3List checks one list. code is -1, or the exit code of a run that
// must stop.
func (c *checker) b3List(ctx context.Context, list string) (ok bool, code int) {
	var in io.Reader = c.stdin
	if list != "-" {
		f, err := os.Open(list)
		if err != nil {
			fmt.Fprintf(c.r.stderr, "Error: %s\n", openWhy("b3sum", err))
			return false, 1
		}
		defer f.Close()
		in = f
	}
	ok = true
	br := bufio.NewReaderSize(in, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			fmt.Fprintf(c.r.stderr, "Error: %s\n", openWhy("b3sum", err))
			return false, 1
		}
		if len(line) == 0 {
			return ok, -1
		}
		if !utf8.Valid(line) {
			fmt.Fprintln(c.r.stderr, "Error: stream did not contain valid UTF-8")
			return false, 1
		}
		l, shown, why := parseB3Line(strings.TrimRight(string(line), "\n"))
		if why != "" {
			fmt.Fprintln(c.r.stderr, "b3sum: "+why)
			ok = false
			continue
		}
		good, err := c.b3Verify(ctx, l, shown)
		if err != nil {
			return false, c.stop(ctx, l.name, err)
		}
		ok = ok && good
	}
}

// b3Verify uploads the file of l, compares its digest and prints the
// tool's line for it.
func (c *checker) b3Verify(ctx context.Context, l checkLine, shown string) (bool, error) {
	out, sum, ferr, err := c.r.sumFile(ctx, "b3sum", "b3sum", l.name, c.stdin)
	if err != nil {
		return false, err
	}
	if ferr != nil {
		why := describe(ferr.err) // the file changed while it was read
		var errno syscall.Errno
		if errors.As(ferr.err, &errno) {
			why = openWhy("b3sum", ferr.err) // Rust's io::Error
		}
		return false, c.print(shown + ": FAILED (" + why + ")\n")
	}
	c.r.diagnose(sum, c.shown)
	got, err := digestHex(out, 64)
	if err != nil {
		return false, err
	}
	if got != l.hex {
		return false, c.print(shown + ": FAILED\n")
	}
	if !c.cr.quiet {
		return true, c.print(shown + ": OK\n")
	}
	return true, nil
}

// parseB3Line reads a line of a b3sum list (its newline taken off): the
// file and its digest, and the name as the tool prints it (as written,
// after its "\" if escaped); or why the line is bad, the tool's words.
func parseB3Line(line string) (l checkLine, shown, why string) {
	if line == "" {
		return l, "", "Empty line"
	}
	escaped := line[0] == '\\'
	if escaped {
		line = line[1:]
	}
	const prefix = 64 + 2
	if len(line) <= prefix {
		return l, "", "Short line"
	}
	for i := 0; i < prefix; i++ {
		if line[i] >= 0x80 {
			return l, "", "Non-ASCII prefix"
		}
	}
	if line[64:66] != "  " {
		return l, "", "Invalid space"
	}
	for _, c := range line[:64] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return l, "", "Invalid hex"
		}
	}
	l.hex = line[:64]
	l.name = line[prefix:]
	shown = l.name
	if escaped {
		shown = `\` + shown
		var b strings.Builder
		for s := l.name; ; {
			i := strings.IndexByte(s, '\\')
			if i < 0 {
				b.WriteString(s)
				break
			}
			if i == len(s)-1 {
				return l, "", "Invalid backslash escape"
			}
			b.WriteString(s[:i])
			switch s[i+1] {
			case 'n':
				b.WriteByte('\n')
			case '\\':
				b.WriteByte('\\')
			default:
				return l, "", "Invalid backslash escape"
			}
			s = s[i+2:]
		}
		l.name = b.String()
	}
	if strings.ContainsRune(l.name, 0) {
		return l, "", "Null character in path"
	}
	if strings.ContainsRune(l.name, utf8.RuneError) {
		return l, "", "Unicode replacement character in path"
	}
	return l, shown, ""
}
