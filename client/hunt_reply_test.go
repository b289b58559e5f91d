package client

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// notifyWriter collects what it is written, and closes reached once it
// holds at least n bytes.
type notifyWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	n       int
	reached chan struct{}
	once    sync.Once
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.buf.Len() >= w.n {
		w.once.Do(func() { close(w.reached) })
	}
	return len(p), nil
}

// TestHuntReplyResetIsIncomplete: the raw-TCP adapter resets the
// connection when a job fails after its output started (docs/protocol.md),
// and RunTCP reports that as the ErrIncompleteReply a reply cut by a FIN
// (a crash, or the same reset passed on by an L4 proxy) is, with every
// byte received written out. It returned the read's error as it was,
// "reading reply (the output is incomplete): writeto tcp A->B: read tcp
// A->B: read: connection reset by peer", which errors.Is(err,
// ErrIncompleteReply) did not find: the same server failure was
// ErrIncompleteReply through nginx and not directly, and the CLI printed
// that instead of "incomplete reply: ...".
func TestHuntReplyResetIsIncomplete(t *testing.T) {
	output := strings.Repeat("0123456789abcdef", 1<<13) // 128 KiB
	for _, tc := range []struct {
		name string
		// the reply is reset once the client's writer holds this much
		// of it; 0: at once, before any output is sent
		after int
	}{
		{"after output", 64 << 10},
		{"before any output", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &notifyWriter{n: tc.after, reached: make(chan struct{})}
			addr := serveOne(t, func(c *net.TCPConn) {
				// The input to its end (the client's FIN), then part of
				// the reply, then the reset.
				io.Copy(io.Discard, bufio.NewReader(c))
				if tc.after > 0 {
					io.WriteString(c, output)
					<-w.reached
				}
				c.SetLinger(0)
				c.Close()
			})
			err := RunTCP(ctxT(t), addr, nil, "gunzip -c", strings.NewReader("input"), w)
			if !errors.Is(err, ErrIncompleteReply) {
				t.Fatalf("err = %v, want an ErrIncompleteReply", err)
			}
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("err = %v does not hold the reset", err)
			}
			prefix := "incomplete reply: the server reset the connection after "
			if tc.after == 0 {
				prefix = "incomplete reply: the server reset the connection before any of the reply "
			}
			if msg := err.Error(); !strings.HasPrefix(msg, prefix) || strings.Contains(msg, "tcp") {
				t.Errorf("message %q", msg)
			}
			got := w.buf.String()
			if len(got) < tc.after || !strings.HasPrefix(output, got) {
				t.Errorf("wrote %d bytes, want a prefix of the reply of at least %d", len(got), tc.after)
			}
		})
	}
}

// serveOne listens on loopback and runs serve with the first connection
// accepted, on a goroutine that t's cleanup waits for, and returns the
// listener's address.
func serveOne(t *testing.T, serve func(c *net.TCPConn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		serve(c.(*net.TCPConn))
	}()
	return l.Addr().String()
}
