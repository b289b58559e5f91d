package server

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
)

// startDrainTCP serves a command port of one connection at a time, with
// at most maxDrains (0: the default) waiting for their client's FIN, a
// wait far longer than a test: the connections of a test that sends no
// FIN stay in it. Closes of connections are reported on the returned
// channel (ConnHook).
func startDrainTCP(t *testing.T, maxDrains int) (*TCPServer, string, <-chan struct{}) {
	t.Helper()
	s := &TCPServer{
		Engine:       engine.New(engine.Config{Registry: testRegistry()}),
		MaxConns:     1,
		maxDrains:    maxDrains,
		drainTimeout: time.Hour,
	}
	addr, closed := serveReportingCloses(t, s, 64)
	return s, addr, closed
}

// replyNoFIN dials addr, sends msg, and reads the reply up to the
// server's FIN without sending its own: the server then waits for it.
func replyNoFIN(t *testing.T, addr, msg string) (net.Conn, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(defaultTestTimeout))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the reply: %v", err)
	}
	return c, string(reply)
}

// TestTCPDrainHoldsNoBuffers: a connection waiting for its client's FIN
// after its error line holds no reader or writer buffer (320 KiB) of the
// pools. It holds no place of --max-conns either, so nothing bounded the
// buffers held so: 3,000 connections that sent a bad header line and no
// FIN held 1 GB of heap.
func TestTCPDrainHoldsNoBuffers(t *testing.T) {
	s, addr, _ := startDrainTCP(t, 0)
	for range 3 {
		if _, reply := replyNoFIN(t, addr, "frob\n"); reply != frobLine {
			t.Fatalf("reply %q, want %q", reply, frobLine)
		}
		// The buffers went back before the server's FIN, which the
		// client has read.
		if n := s.buffersHeld.Load(); n != 0 {
			t.Fatalf("%d connections waiting for their FIN hold buffers", n)
		}
	}
}

// TestTCPDrainsBounded: at most max(--max-conns, 1024) connections wait
// for their client's FIN after their reply (2 here); past that the oldest
// stops waiting and is closed. Such a connection holds no place of --max-conns, and
// nothing else bounded them: every connection that read its error line
// and sent no FIN kept a descriptor and a goroutine for the whole wait
// (5 s; an hour here). The two left are the newest: their FINs end them.
func TestTCPDrainsBounded(t *testing.T) {
	const maxDrains, conns = 2, 5
	_, addr, closed := startDrainTCP(t, maxDrains)
	var cs []net.Conn
	for range conns {
		c, reply := replyNoFIN(t, addr, "frob\n")
		if reply != frobLine {
			t.Fatalf("reply %q, want %q", reply, frobLine)
		}
		cs = append(cs, c)
	}
	waitClosed := func(n int, what string) {
		t.Helper()
		for i := range n {
			select {
			case <-closed:
			case <-time.After(defaultTestTimeout):
				t.Fatalf("%s: %d of %d connections closed", what, i, n)
			}
		}
	}
	waitClosed(conns-maxDrains, "the oldest past the bound, no FIN sent")
	for _, c := range cs[conns-maxDrains:] {
		if err := c.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
	}
	waitClosed(maxDrains, "the newest, after their FIN")
}

// TestTCPCloseEndsDrainAtOnce: Close ends the wait for a client's FIN at
// once, as before a shutdown's cut read on (cutDrainWait) after the error
// line: Close is the forced stop, and waited on every client that sent no
// FIN (a second each; an hour here).
func TestTCPCloseEndsDrainAtOnce(t *testing.T) {
	s := &TCPServer{
		Engine:       engine.New(engine.Config{Registry: testRegistry()}),
		drainTimeout: time.Hour,
		cutDrain:     time.Hour,
	}
	addr, closed := serveReportingCloses(t, s, 1)
	if _, reply := replyNoFIN(t, addr, "frob\n"); reply != frobLine {
		t.Fatalf("reply %q, want %q", reply, frobLine)
	}
	stopped := make(chan struct{})
	go func() { s.Close(); close(stopped) }()
	select {
	case <-closed:
	case <-time.After(defaultTestTimeout):
		t.Fatal("Close left the connection waiting for its client's FIN")
	}
	testenv.Recv(t, hangTimeout, "Shutdown's return after Close", stopped)
}

// TestTCPDrainsBoundedInCut: the bound on the connections waiting for
// their client's FIN holds in a shutdown's cut too: a job the cut ends
// (its error line, then the read-on of cutDrainWait) evicts the oldest
// waiting connection as any other does. The read-on took the eviction's
// deadline for the cut's and waited again, so every connection waited.
// The waits are made longer than the test can take: only the eviction
// (or a FIN) ends one.
func TestTCPDrainsBoundedInCut(t *testing.T) {
	s := &TCPServer{
		Engine:       engine.New(engine.Config{Registry: testRegistry()}),
		MaxConns:     1,
		maxDrains:    1,
		drainTimeout: time.Hour,
		cutDrain:     time.Hour,
	}
	addr, closed := serveReportingCloses(t, s, 4)
	// a: its error line out, waiting for its FIN, which never comes.
	if _, reply := replyNoFIN(t, addr, "frob\n"); reply != frobLine {
		t.Fatalf("reply %q, want %q", reply, frobLine)
	}
	// b: a job still reading its input when the cut comes.
	b, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.SetDeadline(time.Now().Add(defaultTestTimeout))
	io.WriteString(b, "testcat\npartial")
	// Whether the cut finds b's job running or still being accepted or
	// reading its header, b gets an error line and waits for its FIN.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	reply, err := io.ReadAll(b) // b's error line, then its FIN
	if err != nil || !strings.HasPrefix(string(reply), "halfclose: error: ") {
		t.Fatalf("b: %q, %v", reply, err)
	}
	// b waits for its FIN now; a, the oldest, must be evicted.
	select {
	case <-closed:
	case <-time.After(defaultTestTimeout):
		t.Fatal("in the cut, the oldest waiting connection past maxDrains was not closed")
	}
	b.(*net.TCPConn).CloseWrite()
	if err := testenv.Recv(t, hangTimeout, "Shutdown's return after the client's FIN", done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestTCPDrainsPerPeer: one address holds at most its
// --max-requests-per-peer (2 here) of the connections waiting for their
// client's FIN: past that its own oldest stops waiting, not another
// address's. Its connections refused for that cap wait too, a handshake
// each, and the oldest of all was evicted: one address that sent no FIN
// on max(--max-conns, 1024) connections within --tcp-fin-wait ended
// every other address's wait, and reset its error line behind it.
func TestTCPDrainsPerPeer(t *testing.T) {
	s := &TCPServer{
		Engine:       engine.New(engine.Config{Registry: testRegistry()}),
		MaxConns:     1,
		maxDrains:    4,
		drainTimeout: time.Hour,
		PeerRequests: NewPeerCap(2),
	}
	addr, _ := serveReportingCloses(t, s, 64)
	// replyFrom reads the error line and FIN of a connection from src
	// that sends a bad header line and no FIN.
	replyFrom := func(src string) net.Conn {
		t.Helper()
		c := tcpFrom(t, addr, src)
		io.WriteString(c, "frob\n")
		if reply, err := io.ReadAll(c); err != nil || string(reply) != frobLine {
			t.Fatalf("from %s: %q, %v; want %q", src, reply, err, frobLine)
		}
		return c
	}
	victim := replyFrom("127.0.0.2")
	for range 10 {
		replyFrom("127.0.0.3")
	}
	// Each connection was counted among the waiting, and any eviction
	// done, before its FIN was sent.
	s.drainMu.Lock()
	defer s.drainMu.Unlock()
	waiting := map[string]int{}
	victimWaits := false
	for e := s.drains.Front(); e != nil; e = e.Next() {
		dc := e.Value.(*drainingConn)
		waiting[PeerIP(dc.c.RemoteAddr())]++
		victimWaits = victimWaits || dc.c.RemoteAddr().String() == victim.LocalAddr().String()
	}
	if !victimWaits || waiting["127.0.0.2"] != 1 || waiting["127.0.0.3"] != 2 {
		t.Fatalf("waiting for their FIN: %v (127.0.0.2's still waiting: %v); want 127.0.0.2's one and 127.0.0.3's newest 2", waiting, victimWaits)
	}
}
