package server

import (
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// TestLiveConns: a forced stop stops every connection in the set and each
// one added after it, none removed before it; a connection's place costs
// no allocation (a context.AfterFunc was three).
func TestLiveConns(t *testing.T) {
	var l liveConns
	ws := make([]*connWriter, 5)
	for i := range ws {
		c, peer := net.Pipe()
		t.Cleanup(func() { c.Close(); peer.Close() })
		ws[i] = &connWriter{c: c}
	}
	for _, w := range ws {
		l.add(w)
	}
	// Out of the middle, the head and the tail, and twice.
	for _, i := range []int{2, 4, 0, 2} {
		l.remove(ws[i])
	}
	if n := testing.AllocsPerRun(100, func() { l.add(ws[0]); l.remove(ws[0]) }); n != 0 {
		t.Errorf("add and remove: %v allocations, want 0", n)
	}
	l.stopAll()
	for i, w := range ws {
		want := i == 1 || i == 3
		if w.stopped != want {
			t.Errorf("writer %d stopped %v, want %v", i, w.stopped, want)
		}
	}
	l.add(ws[0])
	if !ws[0].stopped {
		t.Error("a connection added after the stop is not stopped")
	}
}

// TestTCPStoppedConnWaitsNoHeader: a command-port connection that reaches
// handle after the forced stop (accepted just before Close or the end of
// Shutdown's grace) is stopped at once, not given --header-timeout to send
// its header: liveConns.add set its read deadline to now, then readHeader
// set it to the header timeout, and Close waited an hour here.
func TestTCPStoppedConnWaitsNoHeader(t *testing.T) {
	env := startEnv(t, envConfig{tcp: tcpSettings{HeaderTimeout: time.Hour}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	env.tcp.Close()
	for !env.tcp.live.isStopped() {
		runtime.Gosched() // until the context's AfterFunc has run
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		env.tcp.handle(sc, nil) // no header, no FIN: the client waits
	}()
	select {
	case <-done:
	case <-time.After(defaultTestTimeout):
		client.Close() // the read ends (or the deadline of an hour)
		<-done
		t.Fatal("a connection served after the forced stop waited for its header")
	}
	client.SetReadDeadline(time.Now().Add(defaultTestTimeout))
	reply, _ := io.ReadAll(client)
	if want := "halfclose: error: UNAVAILABLE: server is shutting down\n"; string(reply) != want {
		t.Fatalf("reply %q, want %q", reply, want)
	}
}

// isStopped tells whether stopAll has run, for tests.
func (l *liveConns) isStopped() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stopped
}
