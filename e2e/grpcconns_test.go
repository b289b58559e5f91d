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
	for reason, want := range map[string]float64{"peer_conns": 1, "max_conns": 1} {
		if got := scrapeValue(t, m, `halfclose_refused_total{adapter="grpc",reason="`+reason+`"}`); got != want {
			t.Errorf("refused %s: %v, want %v", reason, got, want)
		}
	}
}
