package client

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/status"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/codename"
)

// TestHuntPipeTCPAtWord: pipeline text whose first word starts with "@"
// means over RunTCP what it means over gRPC (Run): the word is a command
// name, not a header option (RunTCP put the text after its own options,
// so "@file=99 wc" ran wc with a file's widths, "@trailer wc" failed as
// an option given twice). gRPC's answer is the oracle.
func TestHuntPipeTCPAtWord(t *testing.T) {
	l := serveTCP(t)
	c := newBufconnClient(t, engine.Config{})

	input := []byte("abc\n")
	for _, text := range []string{"@file=99 wc", "@trailer wc", " \t@status wc -l", "@size=4 wc", "@chunked wc", "@x | wc", "@", `\@x`, "'@x' wc"} {
		var gout, tout bytes.Buffer
		_, gerr := c.Run(ctxT(t), text, bytes.NewReader(input), &gout)
		terr := RunTCP(ctxT(t), l.Addr().String(), nil, text, bytes.NewReader(input), &tout)
		st, _ := status.FromError(gerr)
		var te *TCPError
		if gerr == nil || !errors.As(terr, &te) || te.Code != codename.Of(st.Code()) || te.Message != st.Message() || tout.Len() != 0 {
			t.Errorf("%q: TCP %v (output %q); gRPC %v (output %q)", text, terr, tout.String(), gerr, gout.String())
		}
		if !strings.Contains(st.Message(), "unknown command") {
			t.Errorf("%q: gRPC %v, want an unknown command", text, gerr)
		}
	}
}

// TestHuntPipeTCPTrailingCR: text ending in a carriage return means over
// RunTCP what it means over gRPC: the server drops a "\r" before the
// header line's "\n", so "tr -d \\<CR>" (a quoted CR) lost its operand's
// CR and failed ("backslash at end of text"). gRPC's output is the oracle.
func TestHuntPipeTCPTrailingCR(t *testing.T) {
	l := serveTCP(t)
	c := newBufconnClient(t, engine.Config{})

	input := []byte("a\r\nb\r\r\n")
	for _, text := range []string{"tr -d \\\r", "tr -d \\\r\r", "wc -c\r", "tr -d '\r'"} {
		var gout, tout bytes.Buffer
		_, gerr := c.Run(ctxT(t), text, bytes.NewReader(input), &gout)
		terr := RunTCP(ctxT(t), l.Addr().String(), nil, text, bytes.NewReader(input), &tout)
		if gerr != nil || terr != nil || gout.String() != tout.String() {
			t.Errorf("%q: TCP %q, %v; gRPC %q, %v", text, tout.String(), terr, gout.String(), gerr)
		}
	}
}
