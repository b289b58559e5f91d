package main

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
)

// TestHuntPipeOneLineLimitCode: pipeline text over the server's limit
// fails with the code the server gives it (a limit: RESOURCE_EXHAUSTED)
// also when the CLI splits it first, for a newline or a byte that is not
// UTF-8; it said INVALID_ARGUMENT then. Text that does not split for
// another reason stays INVALID_ARGUMENT.
func TestHuntPipeOneLineLimitCode(t *testing.T) {
	long := "grep -c x" + strings.Repeat(" ", engine.MaxPipelineBytes)
	if _, err := engine.SplitPipeline(long); compute.CodeOf(err) != compute.CodeResourceExhausted {
		t.Fatalf("the server's split of %d bytes: %v, want a limit", len(long), err)
	}
	for _, text := range []string{long + "\n", long + "'\xff'", "\n" + long} {
		if _, err := oneLineUTF8(text); status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "at most 65536 allowed") {
			t.Errorf("oneLineUTF8(%d bytes): %v, want RESOURCE_EXHAUSTED", len(text), err)
		}
	}
	if _, err := oneLineUTF8("grep '\xff"); status.Code(err) != codes.InvalidArgument {
		t.Errorf("unterminated quote: %v, want INVALID_ARGUMENT", err)
	}
}
