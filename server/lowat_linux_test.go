package server

import (
	"context"
	"io"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/halfclose/halfclose/internal/testenv"
)

// The mark is set past lowatAfter, raised and lowered by setMark, and
// once given up for a slow client, stays given up.
func TestConnReaderMark(t *testing.T) {
	cc, sc := loopbackPair(t)
	sent := sendAll(cc, randBytes(45, lowatAfter+1))
	cr := &connReader{ctx: context.Background(), c: sc, r: sc, idle: time.Minute, tc: sc, lowat: 64 << 10}
	mark := func() int {
		rc, err := sc.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var v int
		var gerr error
		rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVLOWAT) })
		if gerr != nil {
			t.Fatal(gerr)
		}
		return v
	}
	cr.setMark(true) // before the mark is on: nothing
	if m := mark(); m > 1 {
		t.Fatalf("SO_RCVLOWAT %d before %d bytes, want the default", m, lowatAfter)
	}
	if _, err := io.ReadFull(cr, make([]byte, lowatAfter)); err != nil {
		t.Fatal(err)
	}
	if m := mark(); m != 64<<10 {
		t.Fatalf("SO_RCVLOWAT %d past %d bytes, want %d", m, lowatAfter, 64<<10)
	}
	cr.setMark(true)
	if m := mark(); m != bigMarkFactor*64<<10 {
		t.Fatalf("raised SO_RCVLOWAT %d, want %d", m, bigMarkFactor*64<<10)
	}
	cr.setMark(false)
	if m := mark(); m != 64<<10 {
		t.Fatalf("lowered SO_RCVLOWAT %d, want %d", m, 64<<10)
	}
	cr.endLowat()
	cr.setMark(true)
	if m := mark(); m != 1 {
		t.Fatalf("SO_RCVLOWAT %d after the mark was given up, want 1", m)
	}
	if _, err := io.Copy(io.Discard, cr); err != nil {
		t.Fatal(err)
	}
	if err := testenv.Recv(t, hangTimeout, "the client's send (the server stopped reading?)", sent); err != nil {
		t.Fatal(err)
	}
}
