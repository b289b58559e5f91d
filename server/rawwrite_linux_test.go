package server

import (
	"errors"
	"io"
	"os"
	"testing"
	"time"
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
	if n, err := w.writeWatched([]byte("reply"), &small); n != 5 || err != nil {
		t.Fatalf("small write: %d, %v", n, err)
	}
	if small.ok {
		t.Fatal("a write that did not wait took the watch")
	}

	big := make([]byte, 64<<20)
	sc.SetWriteDeadline(time.Now().Add(shortTimeout))
	var filling sendWatch
	n, err := w.writeWatched(big, &filling)
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
		n, err = w.writeWatched(big, &full)
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
