package server

import (
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/testenv"
)

// stopAtSetDeadlineConn is the server's end of a connection on which the
// forced stop lands just before the first SetDeadline: the server's
// context cancelled and liveConns' deadlines of now set (stop), then the
// deadline asked for, which on the old code hid them.
type stopAtSetDeadlineConn struct {
	*net.TCPConn
	stop func()
}

func (c *stopAtSetDeadlineConn) SetDeadline(t time.Time) error {
	if c.stop != nil {
		stop := c.stop
		c.stop = nil
		stop()
	}
	return c.TCPConn.SetDeadline(t)
}

// TestTCPRefuseHTTP2StopRace: a forced stop that lands after readHeader
// has seen an HTTP/2 preface's first line and before refuseHTTP2 sets
// its deadline ends the connection at once. refuseHTTP2 set the header
// timeout (an hour here) and did not look at the server's context after
// it, so the stop's deadlines of now were overwritten and the wait for
// the rest of the preface, from a client that sends no more, lasted the
// header timeout.
func TestTCPRefuseHTTP2StopRace(t *testing.T) {
	env := startEnv(t, envConfig{tcp: tcpSettings{HeaderTimeout: time.Hour}})
	env.tcp.init() // (Serve's goroutine may not have run it yet)
	client, server := loopbackPair(t)
	c := &stopAtSetDeadlineConn{TCPConn: server, stop: func() {
		env.tcp.cancel()
		for !env.tcp.live.isStopped() {
			runtime.Gosched() // until the context's AfterFunc has run
		}
	}}
	// The preface's first line only: the rest never comes.
	if _, err := io.WriteString(client, http2PrefaceLine+"\r\n"); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer server.Close()
		env.tcp.handle(c, nil, false)
	}()
	select {
	case <-done:
	case <-time.After(defaultTestTimeout):
		client.Close() // the read ends (a reset, or the hour's deadline)
		testenv.Recv(t, hangTimeout, "the connection's end after the client's close", done)
		t.Fatalf("refuseHTTP2 still waited for the preface %v after the stop", defaultTestTimeout)
	}
	if c.stop != nil {
		t.Fatal("handle set no deadline with SetDeadline: refuseHTTP2 was not reached")
	}
	client.SetReadDeadline(time.Now().Add(defaultTestTimeout))
	if reply, _ := io.ReadAll(client); len(reply) != 0 {
		t.Fatalf("a stopped connection got %q, want nothing", reply)
	}
}

// TestTCPStopBeforeHeaderDeadlineCleared: a forced stop that lands after
// readHeader has read the header and before it clears its deadline ends
// the job at once, with --idle-timeout 0. The clear overwrote the stop's
// deadline of now, and a plain connection's inline job (a digest) relies
// on that deadline to end (connInput's ends: the engine does not close
// its input for it), while its reader, with no idle timeout, sets and
// checks nothing: the job waited on its silent client until its FIN.
func TestTCPStopBeforeHeaderDeadlineCleared(t *testing.T) {
	env := startEnv(t, envConfig{tcp: tcpSettings{HeaderTimeout: time.Hour}})
	env.tcp.init() // (Serve's goroutine may not have run it yet)
	stopped := false
	env.tcp.onHeaderRead = func() {
		stopped = true
		env.tcp.cancel()
		for !env.tcp.live.isStopped() {
			runtime.Gosched() // until the context's AfterFunc has run
		}
	}
	// A plain *net.TCPConn, as Serve hands it: a wrapper would not take
	// connInput's path.
	client, server := loopbackPair(t)
	// The header, and no input and no FIN: the digest's first read waits
	// (it looks at its context after each read that brought bytes).
	if _, err := io.WriteString(client, "sha256sum\n"); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer server.Close()
		env.tcp.handle(server, nil, false)
	}()
	select {
	case <-done:
	case <-time.After(defaultTestTimeout):
		client.CloseWrite() // the job's input ends
		testenv.Recv(t, hangTimeout, "the connection's end after the client's FIN", done)
		t.Fatalf("the job still waited for its input %v after the stop", defaultTestTimeout)
	}
	if !stopped {
		t.Fatal("readHeader did not reach onHeaderRead")
	}
	client.SetReadDeadline(time.Now().Add(defaultTestTimeout))
	reply, _ := io.ReadAll(client)
	if want := "halfclose: error: UNAVAILABLE: server is shutting down\n"; string(reply) != want {
		t.Fatalf("reply %q, want %q", reply, want)
	}
}
