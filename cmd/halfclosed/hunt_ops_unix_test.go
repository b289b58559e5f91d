//go:build unix

package main

import (
	"bufio"
	"io"
	"net"
	"syscall"
	"testing"
)

// TestHuntOpsCutLineNotReset: a TCP job cut by the shutdown (the grace
// over) while its client is still sending gets its error line, and the
// connection then reads what the client still sends, up to its FIN,
// before it closes: closing at once, with the client's bytes unread, made
// the kernel reset the connection. A direct client may still read the
// line before the reset; HAProxy, whose write to the replica failed,
// passed the reset on with the line unsent (its log: 55 bytes, "SD"), and
// nc through it printed nothing and exited 0 (a second SIGTERM during a
// rolling restart under load).
//
// The client's bytes are in the kernel before the cut, unread: its job
// waits for a slot (--max-jobs 1, held by another job), and a route-port
// job reads nothing before it has one. The client sends no FIN, so the
// read-on ends with its second (cutDrainWait) and needs no move of the
// client's: the test used to send the bytes after reading the line, then
// its FIN, and passed only if it did so within that second, which a
// client stalled under load did not. (A client FIN sent before the cut
// would hide the reset: a socket that has sent its FIN and read the
// server's is in TIME_WAIT, and a reset then sets no error on it. The
// server's TestTCPCutLineNotReset covers a client that sends late.)
func TestHuntOpsCutLineNotReset(t *testing.T) {
	d := startDaemon(t, "--shutdown-grace=0s", "--max-jobs=1", "--max-jobs-per-peer=0", "--job-wait=1h",
		"--tcp-route=127.0.0.1:0=sha256sum")
	route := d.routes[0].l.addr()
	holder := holdTCP(t, route, "", []byte("the first part"))
	waitMetric(t, d.httpAddr(), "halfclose_jobs_in_flight", nil, 1)
	// Sent, and never its FIN: the read-on reads the bytes and ends with
	// its second, with nothing left unread.
	c := holdTCP(t, route, "", make([]byte, 32<<10))
	waitMetric(t, d.httpAddr(), "halfclose_jobs_waiting", nil, 1)
	d.stop()

	for _, conn := range []net.Conn{c, holder} {
		br := bufio.NewReader(conn)
		if line, err := br.ReadString('\n'); err != nil || line != errorLine("UNAVAILABLE", "server is shutting down") {
			t.Fatalf("cut job: %q, %v", line, err)
		}
		if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
			t.Fatalf("after the error line: %q, %v; want the server's FIN", rest, err)
		}
	}
	holder.(*net.TCPConn).CloseWrite() // its job read all it sent
	if err := d.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// The server has closed its end: a reset would be pending now.
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var soErr int
	if err := raw.Control(func(fd uintptr) {
		soErr, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ERROR)
	}); err != nil {
		t.Fatal(err)
	}
	if err != nil || soErr != 0 {
		t.Errorf("the server reset the connection after its error line: SO_ERROR %v (%v)", syscall.Errno(soErr), err)
	}
}
