//go:build unix

package server

import (
	"bufio"
	"context"
	"io"
	"syscall"
	"testing"

	"github.com/halfclose/halfclose/internal/testenv"
)

// TestTCPCutLineNotReset: a job cut by the shutdown while its client is
// still sending gets its error line and the server's FIN, and the
// connection then reads what the client still sends, up to its FIN,
// before it closes: closing at once, with the client's bytes unread, made
// the kernel reset the connection, and HAProxy passed the reset on with
// the line unsent. The read-on (cutDrainWait) is made longer than the test
// can take, so only the client's FIN ends it: cmd/halfclosed's
// TestHuntOpsCutLineNotReset needs its client to send within the second.
func TestTCPCutLineNotReset(t *testing.T) {
	env := startEnv(t, envConfig{idle: defaultTestTimeout, tcp: tcpSettings{drainTimeout: 10 * defaultTestTimeout, cutDrain: 10 * defaultTestTimeout}})
	c := tcpFrom(t, env.tcpAddr, "127.0.0.1")
	io.WriteString(c, "sha256sum\nthe first part")
	env.obs.waitStarted(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no grace: the job is cut
	done := make(chan error, 1)
	go func() { done <- env.tcp.Shutdown(ctx) }()

	br := bufio.NewReader(c)
	if line, err := br.ReadString('\n'); err != nil || line != "halfclose: error: UNAVAILABLE: server is shutting down\n" {
		t.Fatalf("cut job: %q, %v", line, err)
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after the error line: %q, %v; want the server's FIN", rest, err)
	}
	if _, err := c.Write(make([]byte, 64<<10)); err != nil {
		t.Errorf("sending the rest after the error line: %v", err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Errorf("half-close after the error line: %v", err)
	}
	testenv.Recv(t, hangTimeout, "the server's close of the connection", done)
	raw, err := c.SyscallConn()
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
