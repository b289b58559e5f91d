package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/halfclose/halfclose/internal/flagenv"
)

// listTimeout bounds a listing call when --timeout is not set, so a
// completion script asking a dead address does not hang the shell.
const listTimeout = 10 * time.Second

// listCommands prints the server's commands and their flags, from
// Capabilities (always over gRPC, at --addr); with --list-names only the
// names, one a line.
func (r *runner) listCommands(ctx context.Context, stdout io.Writer) int {
	timeout := r.o.timeout
	if timeout <= 0 {
		timeout = listTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	caps, err := r.c.Capabilities(ctx)
	if err != nil {
		err = ownDeadline(ctx, err)
		fmt.Fprintln(r.stderr, "halfclose:", r.describe(err))
		return 1
	}
	bw := bufio.NewWriter(stdout)
	if r.o.listNames {
		for _, c := range caps.GetCommands() {
			fmt.Fprintln(bw, c.GetName())
		}
		return r.flush(bw)
	}
	type row struct{ left, right string }
	var rows []row
	for i, c := range caps.GetCommands() {
		if i > 0 {
			rows = append(rows, row{})
		}
		rows = append(rows, row{c.GetName(), c.GetSummary()})
		for _, f := range c.GetFlags() {
			name := "  " + f.GetName()
			if f.GetTakesValue() {
				name += " N"
			}
			rows = append(rows, row{name, f.GetSummary()})
		}
	}
	width := 0
	for _, r := range rows {
		width = max(width, len(r.left))
	}
	for _, r := range rows {
		if r.left == "" {
			fmt.Fprintln(bw)
			continue
		}
		fmt.Fprintf(bw, "%-*s  %s\n", width, r.left, r.right)
	}
	if l := caps.GetLimits(); l != nil {
		var parts []string
		if l.GetMaxInputBytes() > 0 {
			parts = append(parts, "input up to "+flagenv.FormatBytes(l.GetMaxInputBytes())+" per job")
		}
		if l.GetMaxJobs() > 0 {
			jobs := fmt.Sprintf("%d jobs at once", l.GetMaxJobs())
			if n := l.GetMaxJobsPerPeer(); n > 0 {
				// The cap a client running calls in parallel meets first.
				jobs += fmt.Sprintf(" (%d from one address)", n)
			}
			parts = append(parts, jobs)
		}
		if r := l.GetRateLimitPerSecond(); r > 0 {
			// A client starting calls in a loop meets it first.
			parts = append(parts, fmt.Sprintf("%s calls a second from one address (bursts of %d)", strconv.FormatFloat(r, 'g', -1, 64), l.GetRateBurst()))
		}
		if l.GetIdleTimeoutMs() > 0 {
			parts = append(parts, "idle timeout "+(time.Duration(l.GetIdleTimeoutMs())*time.Millisecond).String())
		}
		if len(parts) > 0 {
			fmt.Fprintf(bw, "\nLimits: %s.\n", strings.Join(parts, ", "))
		}
	}
	fmt.Fprintln(bw, "\nA job is one command or a pipeline of them: halfclose 'grep -v DEBUG | sort | uniq -c' < log")
	return r.flush(bw)
}

func (r *runner) flush(bw *bufio.Writer) int {
	if err := bw.Flush(); err != nil {
		fmt.Fprintln(r.stderr, "halfclose:", err)
		return 1
	}
	return 0
}
