package server

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/halfclose/halfclose/internal/testenv"
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

func writeFileB(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

// serveTCP serves srv on a loopback port until the test ends (Close, and
// Serve returned) and returns its address.
func serveTCP(t *testing.T, srv *TCPServer) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveDone := make(chan struct{})
	go func() { srv.Serve(l); close(serveDone) }()
	t.Cleanup(func() {
		testenv.Within(t, hangTimeout, "the TCP server's Close and Serve's return", func() { srv.Close(); <-serveDone })
	})
	return l.Addr().String()
}
