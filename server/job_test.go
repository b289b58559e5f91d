package server

import (
	"strings"
	"testing"
)

// TestJobID: 16 characters of crypto/rand.Text's base32 alphabet, as
// rand.Text()[:16] gave, and no two alike.
func TestJobID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := jobID()
		if len(id) != 16 || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
			t.Fatalf("job id %q", id)
		}
		if seen[id] {
			t.Fatalf("job id %q twice", id)
		}
		seen[id] = true
	}
}
