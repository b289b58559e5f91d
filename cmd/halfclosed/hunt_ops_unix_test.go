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
func TestHuntOpsCutLineNotReset(t *testing.T) {
	d := startDaemon(t, "--shutdown-grace=0s")
	c := holdTCP(t, d.tcpAddr(), "sha256sum\n", []byte("the first part"))
	waitMetric(t, d.httpAddr(), "halfclose_jobs_in_flight", nil, 1)
	d.stop()

	br := bufio.NewReader(c)
	if line, err := br.ReadString('\n'); err != nil || line != errorLine("UNAVAILABLE", "server is shutting down") {
		t.Fatalf("cut job: %q, %v", line, err)
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after the error line: %q, %v; want the server's FIN", rest, err)
	}
	// The client goes on sending what it had, then half-closes: the
	// server reads it all, so it closes without a reset.
	if _, err := c.Write(make([]byte, 64<<10)); err != nil {
		t.Errorf("sending the rest after the error line: %v", err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Errorf("half-close after the error line: %v", err)
	}
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
