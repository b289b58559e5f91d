package e2e

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// h2Conn connects to addr from the loopback address from and sends the
// HTTP/2 preface and SETTINGS, as a gRPC client does before its first
// call; it reports whether the server answered with its SETTINGS (open)
// or closed the connection (refused).
func h2Conn(t *testing.T, addr, from string) (net.Conn, bool) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: defaultTestTimeout}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(defaultTestTimeout))
	if _, err := io.WriteString(c, http2.ClientPreface); err == nil {
		http2.NewFramer(c, nil).WriteSettings()
	}
	f, err := http2.NewFramer(nil, c).ReadFrame()
	var ne *net.OpError
	if errors.Is(err, io.EOF) || errors.As(err, &ne) && !ne.Timeout() {
		return nil, false
	}
	if err != nil {
		t.Fatalf("from %s: %v", from, err)
	}
	if _, ok := f.(*http2.SettingsFrame); !ok {
		t.Fatalf("from %s: first frame %v, want SETTINGS", from, f)
	}
	return c, true
}

// TestGRPCConnCaps: halfclosed caps gRPC connections per address
// (--grpc-max-conns-per-peer) and in all (--grpc-max-conns). Idle HTTP/2
// connections were counted by nothing: one client's 20,000 took every
// descriptor of the process.
func TestGRPCConnCaps(t *testing.T) {
	t.Parallel()
	d := launch(t, "--metrics-addr", "127.0.0.1:0", "--grpc-max-conns", "3", "--grpc-max-conns-per-peer", "2")
	m := d.metricsAddr(t)
	// launch's own check of the port was a connection: gone first.
	waitMetricValue(t, m, "halfclose_grpc_connections", 0)
	for i := range 2 {
		if _, ok := h2Conn(t, d.GRPC, "127.0.0.1"); !ok {
			t.Fatalf("connection %d of 127.0.0.1 refused; cap 2", i+1)
		}
	}
	if _, ok := h2Conn(t, d.GRPC, "127.0.0.1"); ok {
		t.Fatal("third idle connection of 127.0.0.1 open: --grpc-max-conns-per-peer 2")
	}
	if _, ok := h2Conn(t, d.GRPC, "127.0.0.2"); !ok {
		t.Fatal("127.0.0.2 refused while 127.0.0.1 holds its share")
	}
	if _, ok := h2Conn(t, d.GRPC, "127.0.0.3"); ok {
		t.Fatal("fourth connection open: --grpc-max-conns 3")
	}
	if got := scrapeValue(t, m, "halfclose_grpc_connections"); got != 3 {
		t.Errorf("halfclose_grpc_connections %v, want 3", got)
	}
	for reason, want := range map[string]float64{"peer_conns": 1, "max_conns": 1} {
		if got := scrapeValue(t, m, `halfclose_refused_total{adapter="grpc",reason="`+reason+`"}`); got != want {
			t.Errorf("refused %s: %v, want %v", reason, got, want)
		}
	}
}

// TestGRPCConnIdleFreesPlace: a gRPC connection with no call for
// --grpc-conn-idle is closed (GOAWAY), and its place of
// --grpc-max-conns-per-peer comes back: a client that leaked its
// connections (a channel made per call, never closed) would otherwise be
// refused for good once it held its share.
func TestGRPCConnIdleFreesPlace(t *testing.T) {
	t.Parallel()
	d := launch(t, "--metrics-addr", "127.0.0.1:0", "--grpc-max-conns-per-peer", "1", "--grpc-conn-idle", "200ms")
	// launch's own check of the port was a connection: gone first.
	waitMetricValue(t, d.metricsAddr(t), "halfclose_grpc_connections", 0)
	c, ok := h2Conn(t, d.GRPC, "127.0.0.1")
	if !ok {
		t.Fatal("first connection refused")
	}
	// The server closes it: GOAWAY, a PING whose ack it awaits, a
	// second GOAWAY, then EOF.
	fr := http2.NewFramer(c, c)
	goaway := false
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			if !goaway {
				t.Fatalf("idle connection: %v before any GOAWAY", err)
			}
			break
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			goaway = true
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				fr.WritePing(true, f.Data)
			}
		}
	}
	// Its place is free once the server has closed it, which it did
	// before the EOF above.
	if _, ok := h2Conn(t, d.GRPC, "127.0.0.1"); !ok {
		t.Fatal("new connection refused after the idle one was closed: its place was not given back")
	}
}
