package server

import (
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/halfclose/halfclose/compute"
)

// TestHuntPipeLongMessageCut: a verdict's message that quotes a long word
// of the request is cut to maxMessageBytes at a character's start, its
// "…" included (docs/protocol.md: "at most 1 KiB"; it was 1027 bytes),
// keeps its code and its start, and ends in "…" (e2e
// TestHuntPipeLongWordError has a real client that failed on the whole
// message); a short one, and one of exactly maxMessageBytes, unchanged.
func TestHuntPipeLongMessageCut(t *testing.T) {
	for _, word := range []string{strings.Repeat("a", 20000), strings.Repeat("\u00e9", 10000), "x" + strings.Repeat("\u20ac", 5000)} {
		full := compute.Invalidf("unknown command %q", word).Error()
		v := classify(compute.Invalidf("unknown command %q", word))
		body, cut := strings.CutSuffix(v.msg, "…")
		if v.code != codes.InvalidArgument || !cut || len(v.msg) > maxMessageBytes || len(v.msg) < maxMessageBytes-3 ||
			!strings.HasPrefix(full, body) || !utf8.ValidString(v.msg) {
			t.Errorf("%d-byte word: %v %d bytes %.80q", len(word), v.code, len(v.msg), v.msg)
		}
	}
	if v := classify(compute.Invalidf("unknown command %q", "frob")); v.msg != `unknown command "frob"` {
		t.Errorf("short message: %q", v.msg)
	}
	exact := "unknown command \"" + strings.Repeat("a", maxMessageBytes-len("unknown command \"\"")) + "\""
	if v := classify(compute.Invalidf("%s", exact)); v.msg != exact {
		t.Errorf("a message of exactly %d bytes was cut: %d bytes %.40q", maxMessageBytes, len(v.msg), v.msg)
	}
}

// TestClientMessageCutEveryOffset: a long message is cut to the longest
// whole-character start that leaves room for its "…" within
// maxMessageBytes, wherever its characters of 1 to 4 bytes fall around
// the cut, and the result is valid UTF-8. The oracle walks the message a
// character at a time (utf8.DecodeRuneInString), not by RuneStart. The
// words of TestHuntPipeLongMessageCut put a character across the cut at
// one offset each: planted faults that cut one byte short (a message of
// 1023 bytes) or that took a continuation byte of 0xA0 or more for a
// character's start (a "€" split) passed it.
func TestClientMessageCutEveryOffset(t *testing.T) {
	const ellipsis = "…"
	for _, r := range []string{"a", "\u00e9", "\u20ac", "\U0001F600"} {
		for pad := range 2 * utf8.UTFMax {
			for size := maxMessageBytes - 8; size <= maxMessageBytes+2*utf8.UTFMax+8; size++ {
				msg := strings.Repeat("p", pad)
				msg += strings.Repeat(r, max(0, size-len(msg))/len(r))
				want := msg
				if len(msg) > maxMessageBytes {
					body := ""
					for rest := msg; ; {
						_, n := utf8.DecodeRuneInString(rest)
						if len(body)+n+len(ellipsis) > maxMessageBytes {
							break
						}
						body, rest = msg[:len(body)+n], rest[n:]
					}
					want = body + ellipsis
				}
				if got := clientMessage(msg); got != want || !utf8.ValidString(got) || len(got) > maxMessageBytes {
					t.Fatalf("%q after %d bytes, %d in all: cut to %d bytes %q, want %d bytes %q",
						r, pad, len(msg), len(got), got[max(0, len(got)-12):], len(want), want[max(0, len(want)-12):])
				}
			}
		}
	}
}

// TestErrorLineCutEveryOffset: the raw-TCP adapter's error line carries
// the message cut as the gRPC status is, valid UTF-8 whichever
// character falls on the cut: the same unknown command of 1- to 4-byte
// characters, shifted a byte at a time, sent to both adapters.
func TestErrorLineCutEveryOffset(t *testing.T) {
	env := startEnv(t, envConfig{})
	for _, r := range []string{"\u20ac", "\U0001F600"} {
		for pad := range utf8.UTFMax {
			word := strings.Repeat("p", pad) + strings.Repeat(r, 1200/len(r))
			stream, err := env.client.Run(jobCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			stream.Send(runHeader(word))
			stream.CloseSend()
			_, _, err = collectRun(stream)
			s := status.Convert(err)
			line := tcpCall(t, env.tcpAddr, word+"\n", nil)
			msg, ok := strings.CutPrefix(line, "halfclose: error: INVALID_ARGUMENT: ")
			msg, nl := strings.CutSuffix(msg, "\n")
			if s.Code() != codes.InvalidArgument || !ok || !nl || msg != s.Message() || !utf8.ValidString(line) ||
				len(msg) > maxMessageBytes || msg != clientMessage(compute.Invalidf("unknown command %q", word).Error()) {
				t.Errorf("%q after %d bytes: gRPC %v %d bytes, TCP %d bytes %q", r, pad, s.Code(), len(s.Message()), len(line), line[max(0, len(line)-16):])
			}
			env.obs.nextOutcome(t)
			env.obs.nextOutcome(t)
		}
	}
}
