package client

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestHuntShortReplyReset: a reply the server resets after fewer bytes
// than an error line's prefix ("halfclose: error: ", 18), or within or
// just after a first line that starts as an error line does, is the
// ErrIncompleteReply of a reset, with every byte received written out
// and counted, as a longer reply's is. readReply's first Peek held the
// short one: the reset returned with none written ("after 0 bytes of
// the reply"); the others lost the reset (the read after it found an
// end: "the reply ended after N bytes without its trailer"). A reset
// before any of the reply says so, not that the job failed after its
// output started.
func TestHuntShortReplyReset(t *testing.T) {
	for _, tc := range []struct{ name, output string }{
		{"under the prefix", "0123456789"},
		{"in a line like an error line", "halfclose: error: INTERNAL: cut"},
		{"after a line like an error line", "halfclose: error: INTERNAL: x\n"},
		{"before any of the reply", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := serveOne(t, func(c *net.TCPConn) {
				io.Copy(io.Discard, c) // the input, to the client's FIN
				io.WriteString(c, tc.output)
				waitAcked(c)
				c.SetLinger(0)
				c.Close()
			})
			var w strings.Builder
			err := RunTCP(ctxT(t), addr, nil, "gunzip -c", strings.NewReader("input"), &w)
			if !errors.Is(err, ErrIncompleteReply) || !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("err = %v, want an ErrIncompleteReply holding the reset", err)
			}
			want := fmt.Sprintf("reset the connection after %d bytes of the reply", len(tc.output))
			if tc.output == "" {
				// No output started: no "failed after its output started".
				want = "reset the connection before any of the reply (the server was stopped, or it aborted the job before all of the input had arrived)"
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message %q lacks %q", err, want)
			}
			if w.String() != tc.output {
				t.Errorf("wrote %q, want %q", w.String(), tc.output)
			}
		})
	}
}

// waitAcked returns once c's peer has acknowledged all that was written
// to c (SIOCOUTQ is 0): it is in the peer's receive queue, where a reset
// (SO_LINGER 0, which drops c's unsent bytes) cannot discard it.
func waitAcked(c *net.TCPConn) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	for queued := 1; queued > 0 && err == nil; runtime.Gosched() {
		rc.Control(func(fd uintptr) { queued, err = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) })
	}
}

// TestHuntResetBeforeTheEndWritesNothing: what comes before a reset
// that ends the call while its input is still being sent is no output (a
// server replies only after the end of the input): none of it is written,
// as with a FIN there, and the error says the input had not ended.
// RunTCP passed the last bytes it held back (up to a trailer's length)
// to the caller's writer when a reset ended them, though not when a FIN
// did.
func TestHuntResetBeforeTheEndWritesNothing(t *testing.T) {
	addr := serveOne(t, func(c *net.TCPConn) {
		br := bufio.NewReader(c)
		br.ReadString('\n')
		io.CopyN(io.Discard, br, 1000)
		io.WriteString(c, "halfclose: ok out=0 in=1000\n")
		waitAcked(c)
		c.SetLinger(0)
		c.Close()
	})
	in := &blockingReader{n: 1000, release: make(chan struct{})}
	defer close(in.release)
	var w strings.Builder
	err := RunTCP(ctxT(t), addr, nil, "wc -c", in, &w)
	if !errors.Is(err, ErrIncompleteReply) || !strings.Contains(err.Error(), "before the input ended") {
		t.Fatalf("err = %v, want an ErrIncompleteReply before the input ended", err)
	}
	if w.Len() != 0 {
		t.Errorf("wrote %q, want nothing", w.String())
	}
}
