package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/halfclose/halfclose/internal/oracle"
)

// TestRawWriterTakesWatchWhenFull: a raw reply write takes the sendWatch
// of connWriter (what the socket had queued) only when it finds the
// socket full before it wrote anything, which is what a timed-out write
// of nothing is compared with (sendWatch.moved); a write that does not
// wait asks the kernel nothing.
func TestRawWriterTakesWatchWhenFull(t *testing.T) {
	cc, sc := loopbackPair(t) // cc never reads
	// Fixed buffers: no autotuning makes room again after the socket
	// is first full.
	cc.SetReadBuffer(64 << 10)
	sc.SetWriteBuffer(64 << 10)
	w := newRawWriter(sc).(watchedWriter)

	var small sendWatch
	if n, err := w.writeWatched([]byte("reply"), &small, false); n != 5 || err != nil {
		t.Fatalf("small write: %d, %v", n, err)
	}
	if small.ok {
		t.Fatal("a write that did not wait took the watch")
	}

	big := make([]byte, 64<<20)
	sc.SetWriteDeadline(time.Now().Add(shortTimeout))
	var filling sendWatch
	n, err := w.writeWatched(big, &filling, false)
	if n == 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("filling write: %d, %v; want some bytes, then the deadline", n, err)
	}
	if filling.ok {
		t.Fatal("a write that had written bytes before the socket was full took the watch")
	}

	var full sendWatch
	for try := 0; ; try++ {
		sc.SetWriteDeadline(time.Now().Add(shortTimeout))
		full = sendWatch{c: sc}
		n, err = w.writeWatched(big, &full, false)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("write on a full socket: %d, %v; want the deadline", n, err)
		}
		if n == 0 {
			break
		}
		if full.ok {
			t.Fatal("a write that had written bytes before the socket was full took the watch")
		}
		if try == 20 {
			t.Fatalf("the socket still takes bytes after %d writes", try)
		}
	}
	q, ok := queuedOf(sc)
	if !full.ok || !ok || full.queued != q || q == 0 {
		t.Fatalf("watch %+v, queued now %d (%v): want what was queued, nothing acknowledged since", full, q, ok)
	}
	if full.moved() {
		t.Fatal("moved, with a client that reads nothing")
	}
}

// TestCloseWriteHalfCloses: closeWrite sends the FIN after what was
// written (the client reads the reply, then io.EOF) and leaves the read
// side open (the server still reads what the client sends after it), and
// fails on a closed connection. It once named syscall.SYS_SHUTDOWN, which
// linux/386 has not: the server did not build there (GOARCH=386 go vet
// ./server/, which make cross runs; this test runs there as it is).
func TestCloseWriteHalfCloses(t *testing.T) {
	cc, sc := loopbackPair(t)
	cc.SetDeadline(time.Now().Add(defaultTestTimeout))
	sc.SetDeadline(time.Now().Add(defaultTestTimeout))
	if _, err := newRawWriter(sc).Write([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	if err := closeWrite(sc); err != nil {
		t.Fatalf("closeWrite: %v", err)
	}
	if got, err := io.ReadAll(cc); string(got) != "reply" || err != nil {
		t.Fatalf("the client read %q, %v; want the reply, then the FIN", got, err)
	}
	if _, err := cc.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	cc.CloseWrite()
	if got, err := io.ReadAll(sc); string(got) != "late" || err != nil {
		t.Fatalf("the server read %q, %v after its FIN; want what the client sent", got, err)
	}
	sc.Close()
	if err := closeWrite(sc); err == nil {
		t.Fatal("closeWrite of a closed connection succeeded")
	}
}

// TestRawWriterLastWaitsForFIN: the reply's last raw write (more) leaves
// its short tail unsent until closeWrite, whose FIN then goes with it in
// one segment; the client reads the whole reply, then io.EOF. A write
// without more sends at once.
func TestRawWriterLastWaitsForFIN(t *testing.T) {
	cc, sc := loopbackPair(t)
	cc.SetDeadline(time.Now().Add(defaultTestTimeout))
	w := newRawWriter(sc).(watchedWriter)
	if n, err := w.writeWatched([]byte("head "), nil, false); n != 5 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	if q := unsent(t, sc); q != 0 {
		t.Fatalf("%d bytes unsent after a write without more, want 0", q)
	}
	if n, err := w.writeWatched([]byte("tail"), nil, true); n != 4 || err != nil {
		t.Fatalf("last write: %d, %v", n, err)
	}
	if q := unsent(t, sc); q != 4 {
		t.Fatalf("%d bytes unsent after the last write, want its 4: they wait for the FIN", q)
	}
	if err := closeWrite(sc); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(cc); string(got) != "head tail" || err != nil {
		t.Fatalf("the client read %q, %v; want the reply, then the FIN", got, err)
	}
}

// unsent is what c holds written and not sent yet (SIOCOUTQNSD).
func unsent(t *testing.T, c *net.TCPConn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ierr error
	rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQNSD) })
	if ierr != nil {
		t.Fatal(ierr)
	}
	return n
}

// TestTCPReplyCarriesFIN: a route job's reply and the server's FIN come
// in one segment: by the time the client can read the reply, the FIN is
// there too (a peek finds the end of stream, not EAGAIN). Sent apart,
// the FIN was a segment of its own, and one more acknowledgement.
func TestTCPReplyCarriesFIN(t *testing.T) {
	env := startEnv(t, envConfig{routes: []string{"sha256sum"}})
	input := bytes.Repeat([]byte("0123456789abcdef"), 64)
	want := oracle.Output(t, input, "sha256sum")
	for i := range 50 {
		c, err := net.Dial("tcp", env.routes["sha256sum"])
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(defaultTestTimeout))
		c.Write(input)
		c.(*net.TCPConn).CloseWrite()
		buf := make([]byte, 4096)
		n, err := c.Read(buf)
		if string(buf[:n]) != want || err != nil {
			t.Fatalf("job %d: read %q, %v; want %q", i, buf[:n], err, want)
		}
		rc, _ := c.(*net.TCPConn).SyscallConn()
		var peeked int
		var perr error
		rc.Control(func(fd uintptr) {
			peeked, _, perr = unix.Recvfrom(int(fd), buf, unix.MSG_PEEK|unix.MSG_DONTWAIT)
		})
		c.Close()
		if peeked != 0 || perr != nil {
			t.Fatalf("job %d: after the reply, a peek found %d bytes, %v; want the FIN, with the reply", i, peeked, perr)
		}
	}
}
