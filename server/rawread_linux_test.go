package server

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/testenv"
)

// A raw read returns the client's bytes in order, then io.EOF at its FIN,
// and again after it.
func TestRawReaderBytesThenEOF(t *testing.T) {
	cc, sc := loopbackPair(t)
	data := randBytes(7, 5<<20+123) // more than the socket holds: reads wait
	sent := sendAll(cc, data)
	r := newRawReader(sc)
	got, err := io.ReadAll(struct{ io.Reader }{r})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, not the %d sent", len(got), len(data))
	}
	if err := testenv.Recv(t, hangTimeout, "the client's send (the server stopped reading?)", sent); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("read after the end: %d, %v; want 0, EOF", n, err)
	}
}

// A raw read waits under the connection's read deadline: past it, a
// timeout (what connReader takes for idleness), not an end.
func TestRawReaderDeadline(t *testing.T) {
	_, sc := loopbackPair(t)
	sc.SetReadDeadline(time.Now().Add(-time.Second))
	_, err := newRawReader(sc).Read(make([]byte, 10))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past the deadline: %v; want a timeout", err)
	}
}

// A reset is an error, never io.EOF: an abort is not an end.
func TestRawReaderReset(t *testing.T) {
	cc, sc := loopbackPair(t)
	if _, err := cc.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	cc.SetLinger(0)
	cc.Close()
	r := newRawReader(sc)
	buf := make([]byte, 64)
	var err error
	for err == nil {
		_, err = r.Read(buf)
	}
	if err == io.EOF {
		t.Fatal("a reset connection read as ended")
	}
}

// bufferedThen returns what the header's reader holds first, then the
// connection.
func TestBufferedThen(t *testing.T) {
	cc, sc := loopbackPair(t)
	data := append([]byte("grep x\n"), randBytes(8, 300<<10)...)
	sent := sendAll(cc, data)
	br := bufio.NewReaderSize(sc, 64<<10)
	line, err := br.ReadString('\n')
	if err != nil || line != "grep x\n" {
		t.Fatalf("header %q, %v", line, err)
	}
	got, err := io.ReadAll(&bufferedThen{br: br, raw: newRawReader(sc)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data[len(line):]) {
		t.Fatalf("read %d bytes after the header, want %d, or not the same", len(got), len(data)-len(line))
	}
	if err := testenv.Recv(t, hangTimeout, "the client's send (the server stopped reading?)", sent); err != nil {
		t.Fatal(err)
	}
}
