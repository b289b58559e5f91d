package compute

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// What a job's commands write on standard error while they succeed: the
// line GNU sort -c writes about the first disorder, GNU grep's "binary
// file matches", gzip's warnings. A failure is an error, never a
// diagnostic; a diagnostic never changes the output. The engine gives
// every stage of a pipeline the job's Diagnostics (in a shell every
// command of a pipeline writes to the same terminal), and the gRPC
// adapter sends them in the run's summary; the raw-TCP adapter, whose
// reply is the output alone, drops them.

// Bounds on a job's diagnostics: they travel in one message.
const (
	// MaxDiagnostics is how many lines a job keeps; later ones are
	// counted, not kept.
	MaxDiagnostics = 16
	// MaxDiagnosticBytes bounds one line; a longer one is cut there (at
	// the start of a character).
	MaxDiagnosticBytes = 1024
)

// Diagnostics collects a job's diagnostic lines, in the order they were
// reported. It is safe for concurrent use.
type Diagnostics struct {
	mu      sync.Mutex
	lines   []string
	dropped int
}

// Lines returns the lines reported, each valid UTF-8 with no newline, and
// a last line saying how many were dropped when there were more than
// MaxDiagnostics.
func (d *Diagnostics) Lines() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	lines := append([]string(nil), d.lines...)
	if d.dropped > 0 {
		// Named for the server, which dropped them: the CLI's own
		// failures are its "halfclose:" lines, and a script tells a
		// pipeline's exit status from them by their absence (docs/cli.md).
		s := "s"
		if d.dropped == 1 {
			s = ""
		}
		lines = append(lines, "halfclosed: "+strconv.Itoa(d.dropped)+" more diagnostic line"+s+" not shown")
	}
	return lines
}

func (d *Diagnostics) add(text string) {
	// One message per line, as GNU tools write them: a newline inside
	// the text ends a line and starts the next (sort -cz's line, which
	// may hold newlines; grep's --label), as a terminal shows them.
	for {
		line, rest, more := strings.Cut(text, "\n")
		d.addLine(line)
		if !more {
			return
		}
		text = rest
	}
}

// addLine keeps one line, made safe to carry as a protobuf string: a
// byte that is not UTF-8 becomes U+FFFD, and the line is cut to at most
// MaxDiagnosticBytes at a character's start (a longer line is cut before
// it is checked, so a huge one is not copied).
func (d *Diagnostics) addLine(line string) {
	if len(line) > MaxDiagnosticBytes {
		line = line[:MaxDiagnosticBytes]
	}
	line = strings.ToValidUTF8(line, "\uFFFD")
	for len(line) > MaxDiagnosticBytes {
		// U+FFFD is 3 bytes: an invalid byte, or a character the first
		// cut split, grew the line.
		_, size := utf8.DecodeLastRuneInString(line)
		line = line[:len(line)-size]
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.lines) >= MaxDiagnostics {
		d.dropped++
		return
	}
	d.lines = append(d.lines, line)
}

type diagnosticsKey struct{}

// WithDiagnostics returns a context whose stage's diagnostics d collects.
func WithDiagnostics(ctx context.Context, d *Diagnostics) context.Context {
	return context.WithValue(ctx, diagnosticsKey{}, d)
}

// Diagnose reports one line a command writes on standard error while it
// succeeds, without its newline ("sort: -:2: disorder: a"); a newline
// inside it starts another line. It does nothing when ctx holds no
// Diagnostics.
func Diagnose(ctx context.Context, line string) {
	if d, ok := ctx.Value(diagnosticsKey{}).(*Diagnostics); ok {
		d.add(line)
	}
}
