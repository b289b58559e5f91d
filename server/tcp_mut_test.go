package server

import (
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute/engine"
)

// Tests found missing by a mutation hunt: each kills a change of the
// raw-TCP adapter's end-of-reply path that no other test noticed.

// startMutTCP serves a command port whose connections report their close
// on the returned channel (ConnHook), with the given drain timeout.
func startMutTCP(t *testing.T, drain time.Duration) (addr string, closed <-chan struct{}) {
	t.Helper()
	return serveReportingCloses(t, &TCPServer{
		Engine:       engine.New(engine.Config{Registry: testRegistry()}),
		drainTimeout: drain,
	}, 16)
}

// serveReportingCloses serves s's command port on 127.0.0.1 until the
// test ends; each connection's close is sent on the returned channel
// (ConnHook; room for buffered of them unread).
func serveReportingCloses(t *testing.T, s *TCPServer, buffered int) (addr string, closed <-chan struct{}) {
	t.Helper()
	done := make(chan struct{}, buffered)
	s.ConnHook = func(delta int) {
		if delta < 0 {
			done <- struct{}{}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { s.Serve(l); close(served) }()
	t.Cleanup(func() { s.Close(); <-served })
	return l.Addr().String(), done
}

const frobLine = "halfclose: error: INVALID_ARGUMENT: unknown command \"frob\"\n"

// TestTCPErrorLineEndsWithFIN: an error line found while the client is
// still sending (its header refused) is followed by the server's FIN at
// once (finish's CloseWrite), so the client reads a complete reply without
// half-closing first. The drain waits far longer than the test may: only
// the FIN ends the client's read. (Without the CloseWrite the reply ended
// only at the client's own FIN or the drain timeout.)
func TestTCPErrorLineEndsWithFIN(t *testing.T) {
	addr, _ := startMutTCP(t, time.Hour)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(defaultTestTimeout))
	if _, err := io.WriteString(conn, "frob\nsome input, and no FIN"); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("reading the reply before our FIN: %v (got %q)", err, reply)
	}
	if string(reply) != frobLine {
		t.Fatalf("reply %q, want %q", reply, frobLine)
	}
}

// TestTCPUnreadInputDrained: once its error line is out, the server reads
// and drops what the client still sends, until the client's FIN (finish's
// drain), and only then closes. A close with input unread, or input that
// arrives after the close, makes the kernel reset the connection: the
// client's writes and half-close fail, and the reset can destroy a reply
// it has not read yet. Here the client reads the error line (and the
// server's FIN), sends more input, half-closes, and once the server has
// closed, its socket holds no error: no reset came.
func TestTCPUnreadInputDrained(t *testing.T) {
	addr, closed := startMutTCP(t, defaultTestTimeout)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(defaultTestTimeout))
	if _, err := io.WriteString(conn, "frob\n"); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(conn)
	if err != nil || string(reply) != frobLine {
		t.Fatalf("reply %q, %v; want %q", reply, err, frobLine)
	}
	if _, err := io.WriteString(conn, "input sent after the error line"); err != nil {
		t.Fatalf("sending after the error line: %v", err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatalf("half-closing after the error line: %v", err)
	}
	select {
	case <-closed:
	case <-time.After(defaultTestTimeout):
		t.Fatal("the server did not close the connection after our FIN")
	}
	if err := sockError(t, conn.(*net.TCPConn)); err != nil {
		t.Fatalf("the connection was reset: %v", err)
	}
}

// sockError is the pending error of c's socket (SO_ERROR): ECONNRESET once
// a reset came.
func sockError(t *testing.T, c *net.TCPConn) error {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) { v, gerr = getSockoptInt(fd, syscall.SOL_SOCKET, soError) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	if v != 0 {
		return syscall.Errno(v)
	}
	return nil
}

// TestTCPChunkedEndNeedsFIN: after @chunked's zero-length chunk only the
// FIN ends the input (docs/protocol.md); a client that goes idle there
// instead is aborted as any idle one, with nothing written, not answered
// as if it had half-closed.
func TestTCPChunkedEndNeedsFIN(t *testing.T) {
	env := startEnv(t, envConfig{idle: 300 * time.Millisecond})
	conn, err := net.Dial("tcp", env.tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(defaultTestTimeout))
	if _, err := io.WriteString(conn, "@chunked testcat\n"+chunk("abc")+"0\n"); err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(conn); len(b) != 0 {
		t.Fatalf("server wrote %q to a client idle after its last chunk", b)
	}
	if oc := env.obs.nextOutcome(t); oc != OutcomeIdle {
		t.Fatalf("outcome %q, want %q", oc, OutcomeIdle)
	}
}

// TestTCPHeaderTimeoutOverWithHeader: --header-timeout bounds the header
// line only: with no idle timeout, a connection whose header came in time
// is not aborted once the header timeout has passed (readHeader clears
// its deadline), however long its input then takes. The clock is a second
// connection, opened after the first one's header, that sends nothing:
// once its header timeout has aborted it, the first one's deadline would
// have passed too, had it stayed set. A header that came late (a loaded
// machine) tests nothing: the case runs again with a longer timeout
// (withHeaderTimeouts).
func TestTCPHeaderTimeoutOverWithHeader(t *testing.T) {
	withHeaderTimeouts(t, func(timeout time.Duration) bool {
		return tcpHeaderTimeoutOverWithHeader(t, timeout)
	})
}

// tcpHeaderTimeoutOverWithHeader runs the test with timeout; false when
// the first connection's header came too late to test anything.
func tcpHeaderTimeoutOverWithHeader(t *testing.T, timeout time.Duration) bool {
	env := startEnv(t, envConfig{tcp: tcpSettings{HeaderTimeout: timeout}})
	conn, err := net.Dial("tcp", env.tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(defaultTestTimeout))
	// an error: the server aborted the connection (its header was late)
	_, werr := io.WriteString(conn, "testcat\nfirst part, ")
	if env.obs.waitStarted(t) == "" { // refused: its header was late
		if oc := env.obs.nextOutcome(t); oc != OutcomeIdle {
			t.Fatalf("the first connection, refused before its header: outcome %q, want %q", oc, OutcomeIdle)
		}
		return false
	}
	if werr != nil {
		t.Fatalf("sending the header: %v", werr)
	}

	clock, err := net.Dial("tcp", env.tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer clock.Close()
	clock.SetDeadline(time.Now().Add(defaultTestTimeout))
	if b, _ := io.ReadAll(clock); len(b) != 0 {
		t.Fatalf("the header-less connection got %q", b)
	}
	if oc := env.obs.nextOutcome(t); oc != OutcomeIdle {
		t.Fatalf("the header-less connection's outcome %q, want %q", oc, OutcomeIdle)
	}

	if _, err := io.WriteString(conn, "second part"); err != nil {
		t.Fatalf("sending after the header timeout: %v", err)
	}
	conn.(*net.TCPConn).CloseWrite()
	reply, err := io.ReadAll(conn)
	if err != nil || string(reply) != "first part, second part" {
		t.Fatalf("reply %q, %v; want the input back", reply, err)
	}
	if oc := env.obs.nextOutcome(t); oc != OutcomeOK {
		t.Fatalf("outcome %q, want %q", oc, OutcomeOK)
	}
	return true
}
