package main

import (
	"bytes"
	"context"
	"strings"
	"syscall"
	"testing"
)

// signalingWriter is standard output that delivers a signal, as
// cancelOnSignal does, at the first write of the output: the user's
// Ctrl-C arriving as the complete reply is printed.
type signalingWriter struct {
	bytes.Buffer
	cancel context.CancelCauseFunc
}

func (w *signalingWriter) Write(p []byte) (int, error) {
	w.cancel(signalCause{syscall.SIGINT})
	return w.Buffer.Write(p)
}

// TestSignalAfterCompleteReply: a SIGINT that arrives once the reply is
// complete (a --tcp reply is passed on after its trailer is checked) still
// exits 130 with its one line, as the shell reports a command the user
// interrupted; the output printed is the whole of it. A run that ignored
// the signal once the reply was whole exited 0 and passed every test
// (mutation run).
func TestSignalAfterCompleteReply(t *testing.T) {
	_, tcpAddr := huntServer(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	out := &signalingWriter{cancel: cancel}
	var errb bytes.Buffer
	code := run(ctx, []string{"--tcp", "--tcp-addr", tcpAddr, "wc -l"}, strings.NewReader("a\nb\n"), out, &errb)
	if want := "halfclose: interrupted (SIGINT): the call was canceled\n"; code != 130 || errb.String() != want {
		t.Fatalf("exit %d, stderr %q; want 130 and %q", code, errb.String(), want)
	}
	if out.String() != "2\n" {
		t.Fatalf("output %q, want the whole reply %q", out.String(), "2\n")
	}
}
