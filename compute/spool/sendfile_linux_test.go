package spool_test

import (
	"bytes"
	"io"
	"net"
	"os"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/compute/spool"
	"github.com/halfclose/halfclose/internal/testenv"
)

// tcpSender is a spool.FileSender over a loopback TCP connection: it sends
// the spill file with sendfile(2), as the raw-TCP adapter does
// (net.TCPConn.ReadFrom of the file), so the bytes it sends wait in the
// sockets' queues as references to the file's pages.
type tcpSender struct {
	c     *net.TCPConn
	calls chan struct{} // one value at the start of each SendFile
	// hold, when not nil, keeps every SendFile after the first from
	// sending until it is closed.
	hold chan struct{}
	sent int // SendFile calls so far
}

func (s *tcpSender) Write(p []byte) (int, error) { return s.c.Write(p) }

func (s *tcpSender) SendFile(f *os.File, off, n int64) (int64, error) {
	s.calls <- struct{}{}
	if s.sent++; s.hold != nil && s.sent > 1 {
		<-s.hold
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return s.c.ReadFrom(&io.LimitedReader{R: f, N: n})
}

// loopback returns the two ends of a loopback TCP connection.
func loopback(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return s.(*net.TCPConn), c.(*net.TCPConn)
}

// TestSpoolSendFileReusesNoSentPage: a spilled reply released to a
// FileSender goes out by reference, and the segments it was sent from are
// written again while their pages still wait, unread, in the socket's
// queue. Without care (the spare segment rewritten in place) the client
// would read the newer bytes instead; it must read exactly what was
// written, in order (the bytes themselves are the oracle). Without the
// write-behind the rewrite reaches the file before the client reads: a
// spool that reused the sent segment as its spare fails there every time
// (with it, when the client reads after the write-behind wrote).
func TestSpoolSendFileReusesNoSentPage(t *testing.T) {
	for _, wb := range []bool{true, false} {
		t.Run(map[bool]string{true: "writebehind", false: "direct"}[wb], func(t *testing.T) {
			sendFileReusesNoSentPage(t, wb)
		})
	}
}

func sendFileReusesNoSentPage(t *testing.T, writeBehind bool) {
	dir := t.TempDir()
	if !spool.PunchHoles(dir) {
		t.Log("no hole punching here: sent segments stay charged, unused, until the file empties")
	}
	const mem, seg = 4 << 10, 16 << 10
	disk := compute.NewDiskBudget(1 << 20)
	s := spool.New(compute.SpoolConfig{MemBytes: mem, Dir: dir, Disk: disk})
	s.SetSegSize(seg)
	if !writeBehind {
		s.SetWriteBehind(0)
	}
	defer s.Close()
	// The memory, then 8 whole segments: the next write takes a new
	// segment, the spare one if there is one.
	want := computetest.RandomBytes(7, mem+8*seg+200<<10)
	first, more, rest := want[:mem+8*seg], want[mem+8*seg:2*mem+8*seg], want[2*mem+8*seg:]
	if n, err := s.Write(first); n != len(first) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	srv, cli := loopback(t)
	out := &tcpSender{c: srv, calls: make(chan struct{}, 1024), hold: make(chan struct{})}
	released := make(chan error, 1)
	go func() {
		err := s.Release(out)
		srv.CloseWrite()
		released <- err
	}()
	// The second SendFile starts once the first segment is sent (in the
	// socket's queue: nothing reads it yet) and dropped from the spool;
	// it waits (hold) so that the other segments stay in the file: sent
	// at once, the file would empty and start over, and no segment would
	// be reused.
	testenv.Recv(t, hangTimeout, "the first sendfile call", out.calls)
	testenv.Recv(t, hangTimeout, "the second sendfile call", out.calls)
	// The memory the first segment's drop gave room for: written to a
	// segment of the file — the sent one's pages, if it were rewritten in
	// place.
	if n, err := s.Write(more); n != len(more) || err != nil {
		t.Fatalf("Write after the first send = %d, %v", n, err)
	}
	close(out.hold)
	wrote := make(chan error, 1)
	go func() {
		_, err := s.Write(rest)
		s.CloseWrite()
		wrote <- err
	}()
	got, err := io.ReadAll(cli)
	if err != nil {
		t.Fatal(err)
	}
	if err := testenv.Recv(t, hangTimeout, "the writer's return", wrote); err != nil {
		t.Fatal(err)
	}
	if err := testenv.Recv(t, hangTimeout, "Release's return", released); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("client read %d bytes, want %d; first difference at byte %d", len(got), len(want), i)
	}
	if disk.Used() != 0 || s.Held() != 0 {
		t.Fatalf("after Release: disk %d, held %d", disk.Used(), s.Held())
	}
	s.Close()
	computetest.EmptyDir(t, dir)
}
