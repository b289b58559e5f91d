package server

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/halfclose/halfclose/internal/testpki"
)

// testPKI is the shared test PKI (internal/testpki).
type testPKI = testpki.PKI

func newTestPKI(t *testing.T) *testPKI { return testpki.New(t) }

// writeFile writes content to name in a new temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu  sync.Mutex // protects buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func writeFileB(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }
