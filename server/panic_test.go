package server

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
)

// TestTCPConnectionPanicResets: a panic in a connection's goroutine
// resets that connection, never a FIN (which would make what was written
// look like a whole reply), and the server goes on serving the next one.
// Before, the panic ended the process with every job in it.
func TestTCPConnectionPanicResets(t *testing.T) {
	var calls atomic.Int32
	tcp := &TCPServer{
		Engine: engine.New(engine.Config{Registry: builtin.Registry()}),
		Allow: func(string) bool {
			if calls.Add(1) == 1 {
				panic("boom")
			}
			return true
		},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { tcp.Serve(l); close(done) }()
	t.Cleanup(func() { tcp.Close(); <-done })

	job := func() ([]byte, error) {
		conn, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			// The reset can come before Dial returns: the kernel has
			// completed the handshake, the server accepted and reset.
			return nil, err
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "sha256sum\nabc"); err != nil {
			return nil, err
		}
		conn.(*net.TCPConn).CloseWrite()
		conn.SetReadDeadline(time.Now().Add(defaultTestTimeout))
		return io.ReadAll(conn)
	}
	got, err := job()
	if len(got) != 0 || !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Errorf("the panicking connection: read %q, %v; want nothing and a connection reset", got, err)
	}
	got, err = job()
	if want := fmt.Sprintf("%x  -\n", sha256.Sum256([]byte("abc"))); err != nil || string(got) != want {
		t.Errorf("the next connection: %q, %v; want %q", got, err, want)
	}
}
