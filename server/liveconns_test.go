package server

import (
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
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
	testenv.Until(t, hangTimeout, "the forced stop's mark (live.isStopped) after Close", func() bool { return env.tcp.live.isStopped() }) // until the context's AfterFunc has run
	done := make(chan struct{})
	go func() {
		defer close(done)
		env.tcp.handle(sc, nil, false) // no header, no FIN: the client waits
	}()
	select {
	case <-done:
	case <-time.After(defaultTestTimeout):
		client.Close() // the read ends (or the deadline of an hour)
		testenv.Recv(t, hangTimeout, "handle's return after the client's close", done)
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

// TestLiveConnsEmptyAfterEveryEnd: a connection leaves the live list
// however it ends: a panic in its goroutine, a failed TLS handshake, a
// plaintext client on the TLS port, a job done; the list does not grow
// with the connections served.
func TestLiveConnsEmptyAfterEveryEnd(t *testing.T) {
	p := newTestPKI(t)
	cfg, err := LoadServerTLS(p.ServerCert, p.ServerKey, "")
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	ended := make(chan struct{}, 10)
	srv := &TCPServer{
		Engine:    engine.New(engine.Config{Registry: testRegistry()}),
		TLSConfig: cfg,
		Allow: func(string) bool {
			if calls.Add(1) == 1 {
				panic("boom")
			}
			return true
		},
		ConnHook: func(d int) {
			if d < 0 {
				ended <- struct{}{} // handle has returned
			}
		},
	}
	addr := serveTCP(t, srv)

	raw := func(send string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return // the reset of the panic can come before Dial returns
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(defaultTestTimeout))
		io.WriteString(c, send)
		c.(*net.TCPConn).CloseWrite()
		io.ReadAll(c)
	}
	for _, tc := range []struct {
		name string
		run  func()
	}{
		{"panic", func() { raw("sha256sum\nabc") }},
		{"TLS handshake cut", func() { raw("\x16\x03\x01\x00") }},
		{"plaintext on TLS", func() { raw("sha256sum\nabc") }},
		{"job", func() {
			c, err := tls.Dial("tcp", addr, p.ClientTLS(t, false))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(defaultTestTimeout))
			io.WriteString(c, "sha256sum\nabc")
			c.CloseWrite()
			if reply, _ := io.ReadAll(c); !strings.HasSuffix(string(reply), "  -\n") {
				t.Fatalf("job reply %q", reply)
			}
		}},
	} {
		tc.run()
		testenv.Recv(t, hangTimeout, "the job's end as the connection registry saw it", ended)
		srv.live.mu.Lock()
		head := srv.live.head
		srv.live.mu.Unlock()
		if head != nil {
			t.Fatalf("%s: the connection is still in the live list after it ended", tc.name)
		}
	}
}
