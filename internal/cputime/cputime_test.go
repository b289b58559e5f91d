package cputime

import (
	"crypto/sha256"
	"testing"
)

// TestProcess: the process's CPU time is known and does not go back
// after work.
func TestProcess(t *testing.T) {
	before, err := Process()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1<<20)
	for range 64 {
		s := sha256.Sum256(b)
		b[0] = s[0]
	}
	after, err := Process()
	if err != nil {
		t.Fatal(err)
	}
	if before <= 0 || after < before {
		t.Errorf("CPU time %v then %v", before, after)
	}
}
