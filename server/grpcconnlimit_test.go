package server

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
)

// refusalCounter is an Observer that counts refusals by reason.
type refusalCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (o *refusalCounter) JobStarted(string) func(string, int64, int64) {
	return func(string, int64, int64) {}
}
func (o *refusalCounter) Waited(string, time.Duration, bool) {}
func (o *refusalCounter) Waiting(int)                        {}
func (o *refusalCounter) Refused(adapter, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n[adapter+"/"+reason]++
}
func (o *refusalCounter) get(key string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n[key]
}

// h2Open connects to addr from the loopback address from, sends the
// HTTP/2 client preface and its SETTINGS, and reads the server's first
// frame: the connection is open (ok) when that is the server's SETTINGS,
// refused when the server closed it instead.
func h2Open(t *testing.T, addr, from string) (net.Conn, bool) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if dl, ok := t.Deadline(); ok {
		c.SetDeadline(dl)
	}
	// The server may have closed it already: a write can fail (reset).
	if _, err := io.WriteString(c, http2.ClientPreface); err == nil {
		http2.NewFramer(c, nil).WriteSettings()
	}
	f, err := http2.NewFramer(nil, c).ReadFrame()
	if err != nil {
		if errors.Is(err, io.EOF) || isReset(err) {
			c.Close()
			return nil, false
		}
		t.Fatalf("from %s: %v", from, err)
	}
	if _, ok := f.(*http2.SettingsFrame); !ok {
		t.Fatalf("from %s: first frame %v, want SETTINGS", from, f)
	}
	c.SetDeadline(time.Time{})
	return c, true
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}

// TestGRPCConnLimits: gRPC connections are capped in all
// (--grpc-max-conns) and per peer address (--grpc-max-conns-per-peer).
// An HTTP/2 connection that opens no stream was counted by nothing: one
// client holding 20,000 idle ones took every descriptor of halfclosed
// (527 MiB, 54,503 goroutines). One over a cap is closed at once,
// counted by reason, and a connection closed gives its places back.
func TestGRPCConnLimits(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	obs := &refusalCounter{n: map[string]int{}}
	srv := grpc.NewServer(grpc.ReadBufferSize(0))
	served := make(chan error, 1)
	go func() {
		served <- srv.Serve(NewGRPCListener(l, GRPCReadBufSize, 0, GRPCConnLimits{
			Max: 3, PerPeer: NewPeerCap(2), Observer: obs,
		}))
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	addr := l.Addr().String()

	a1, ok := h2Open(t, addr, "127.0.0.1")
	if !ok {
		t.Fatal("first connection refused")
	}
	a2, ok := h2Open(t, addr, "127.0.0.1")
	if !ok {
		t.Fatal("second connection of 127.0.0.1 refused (per peer 2)")
	}
	defer a2.Close()
	if _, ok := h2Open(t, addr, "127.0.0.1"); ok {
		t.Fatal("third connection of 127.0.0.1 open: over --grpc-max-conns-per-peer 2")
	}
	b1, ok := h2Open(t, addr, "127.0.0.2")
	if !ok {
		t.Fatal("127.0.0.2 refused while 127.0.0.1 holds its 2 places")
	}
	defer b1.Close()
	if _, ok := h2Open(t, addr, "127.0.0.3"); ok {
		t.Fatal("fourth connection open: over --grpc-max-conns 3")
	}
	if n := obs.get("grpc/" + ReasonPeerConns); n != 1 {
		t.Errorf("refused for %s: %d, want 1", ReasonPeerConns, n)
	}
	if n := obs.get("grpc/" + ReasonMaxConns); n != 1 {
		t.Errorf("refused for %s: %d, want 1", ReasonMaxConns, n)
	}
	// a1's client leaves: its places come back once grpc-go has closed
	// it, which the server does at once (it reads the client's EOF).
	a1.Close()
	for {
		c, ok := h2Open(t, addr, "127.0.0.3")
		if ok {
			c.Close()
			break
		}
	}
}
