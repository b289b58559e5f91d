package server

import (
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/grpc/codes"

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
