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

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/digest"
)

// digestFiles splits a digest command line into the remote command (flags
// only) and its FILE operands; ok is false when it is not one, or has none.
// The words are read with the command's own option table, as the server
// and GNU getopt_long read them: abbreviated long flags (cksum --al md5),
// a value after a cluster (b2sum -bl 8), permuted operands, "--". A line
// the table refuses is split by its look alone, and the server names the
// bad flag.
func digestFiles(words []string) (cmd []string, files []string, ok bool) {
	// The digest commands' FILE operands the client uploads itself, one
	// stream per file, printing what GNU prints for them.
	if _, ok := digest.ByCommand(words[0]); !ok {
		return nil, nil, false
	}
	if cmd, files, err := splitDigestWords(words); err == nil {
		return cmd, files, len(files) > 0
	}
	cmd = []string{words[0]}
	endFlags := false
	for i := 1; i < len(words); i++ {
		w := words[i]
		switch {
		case endFlags || w == "-" || !strings.HasPrefix(w, "-"):
			files = append(files, w)
		case w == "--":
			endFlags = true
		default:
			cmd = append(cmd, w)
			if valueFlags[w] && i+1 < len(words) {
				i++
				cmd = append(cmd, words[i])
			}
		}
	}
	return cmd, files, len(files) > 0
}

// valueFlags are the digest flags that take the next word, for a line
// the option table refuses.
var valueFlags = map[string]bool{"-l": true, "--length": true, "-a": true, "--algorithm": true}

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
	g := compute.NewGetopt(words[0], c.Flags, compute.InOrder, words[1:])
	g.Exact = words[0] == "b3sum" // clap: long flags are never abbreviated
	cmd = []string{words[0]}
	for {
		it, ok, err := g.Next()
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			break
		}
		switch f := it.Flag; {
		case !it.IsFlag:
			files = append(files, it.Operand)
		case !f.HasValue:
			cmd = append(cmd, f.Name)
		case strings.HasPrefix(f.Name, "--"):
			cmd = append(cmd, f.Name+"="+f.Value)
		default:
			cmd = append(cmd, f.Name, f.Value)
		}
	}
	return cmd, append(files, g.Rest()...), nil
}

// digestFiles uploads each file in its own stream and prints the line the
// GNU tool prints for it. Like GNU, a file that cannot be read is reported
// and the others still run; the exit code is then 1.
func (r *runner) digestFiles(ctx context.Context, cmd, files []string, stdin io.Reader, stdout io.Writer) int {
	pipeline := quoteWords(cmd)
	code := 0
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
		var in io.Reader = stdin
		if name != "-" {
			f, err := os.Open(name)
			if err != nil {
				fmt.Fprintf(r.stderr, "%s: %s\n", cmd[0], describeOpen(cmd[0], name, err))
				code = 1
				continue
			}
			if st, err := f.Stat(); err == nil && st.IsDir() {
				// An error for every command, also cksum's CRC, where GNU
				// 9.1 prints the CRC of nothing (docs/cli.md).
				f.Close()
				fmt.Fprintf(r.stderr, "%s: %s\n", cmd[0], describeOpen(cmd[0], name, syscall.EISDIR))
				code = 1
				continue
			}
			in = f
			defer f.Close()
		}
		var out bytes.Buffer
		label := name
		if name == "-" {
			label = ""
		}
		in, _, done := r.prog.track(in, io.Discard, r.stderr, label)
		sum, err := r.run(ctx, pipeline, in, &out) // a digest exits 0
		done()
		if err != nil {
			return r.failure(ctx, name, err)
		}
		// What the command wrote on standard error (cksum --debug's
		// line): GNU, one process for all the files, writes it once.
		for _, line := range sum.GetDiagnostics() {
			if !shown[line] {
				shown[line] = true
				fmt.Fprintln(r.stderr, line)
			}
		}
		res := out.Bytes()
		if !bare {
			res = renameOutput(cmd[0], res, name)
		}
		if _, err := stdout.Write(res); err != nil {
			fmt.Fprintln(r.stderr, "halfclose:", err)
			return 1
		}
	}
	return code
}

// describeOpen is the message of cmd for a file that cannot be read:
// GNU's, the name quoted as GNU quotes it and strerror's text; the b3sum
// tool's (Rust's), the name as it is and the text followed by the errno,
// "(os error 2)".
func describeOpen(cmd, name string, err error) string {
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
		return name + ": " + why
	}
	return quotef(name) + ": " + why
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
	}
	if term == '\n' && strings.ContainsAny(name, specials) {
		pairs := []string{"\\", `\\`, "\n", `\n`}
		if strings.ContainsRune(specials, '\r') {
			pairs = append(pairs, "\r", `\r`)
		}
		escaped = strings.NewReplacer(pairs...).Replace(name)
		prefix = `\`
	}
	if untagged {
		line = line[:len(line)-1] + escaped
	} else {
		line = strings.Replace(line, " (-) = ", " ("+escaped+") = ", 1)
	}
	return []byte(prefix + line + string(term))
}
