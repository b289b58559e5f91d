package client

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/server"
)

// rawPair dials a listener with dialRaw and returns both ends.
func rawPair(t *testing.T) (*rawConn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := dialRaw(ctxT(t), l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	rc, ok := c.(*rawConn)
	if !ok {
		t.Fatalf("dialRaw gave a %T", c)
	}
	peer, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { rc.Close(); peer.Close() })
	return rc, peer
}

// TestRawConnLargeWrite writes far more than the socket buffers hold in
// one Write (it waits in the netpoller for room) and reads the reply.
func TestRawConnLargeWrite(t *testing.T) {
	c, peer := rawPair(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(peer)
		peer.Write([]byte("done"))
		peer.Close()
		got <- b
	}()
	if n, err := c.Write(data); n != len(data) || err != nil {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(data))
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, data) {
		t.Fatalf("peer read %d bytes, not the %d written", len(b), len(data))
	}
	reply, err := io.ReadAll(c)
	if err != nil || string(reply) != "done" {
		t.Errorf("reply %q, %v; want \"done\", nil (EOF)", reply, err)
	}
}

// TestRawConnPeerClose: writes to a peer that closed fail (never hang).
func TestRawConnPeerClose(t *testing.T) {
	c, peer := rawPair(t)
	peer.(*net.TCPConn).SetLinger(0) // an RST
	peer.Close()
	if _, err := c.Read(make([]byte, 10)); err == nil {
		t.Fatal("read after the peer's reset: no error")
	}
	buf := make([]byte, 1<<20)
	var err error
	for i := 0; i < 64 && err == nil; i++ {
		_, err = c.Write(buf)
	}
	if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("write to a reset peer: %v, want EPIPE or ECONNRESET", err)
	}
}

// TestRawConnDeadlines: a write to a peer that does not read, and a read
// from one that does not write, end at their deadlines with
// os.ErrDeadlineExceeded, a net.Error that is a Timeout, as net.TCPConn's.
func TestRawConnDeadlines(t *testing.T) {
	c, _ := rawPair(t)
	c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	buf := make([]byte, 64<<20) // more than both socket buffers hold
	n, err := c.Write(buf)
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() || n == len(buf) {
		t.Errorf("write past its deadline = %d, %v; want a timeout", n, err)
	}
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("read past its deadline: %v, want a timeout", err)
	}
	c.Close()
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after Close: %v, want net.ErrClosed", err)
	}
}

func TestNoProxy(t *testing.T) {
	defer func(f func(*http.Request) (*url.URL, error)) { proxyFromEnvironment = f }(proxyFromEnvironment)
	// A proxy for every host but those in noProxy (as NO_PROXY would).
	proxied := map[string]bool{}
	proxyFromEnvironment = func(r *http.Request) (*url.URL, error) {
		if r.URL.Scheme != "https" {
			t.Errorf("asked for the proxy of %s, want https:// as grpc-go asks", r.URL)
		}
		if proxied[r.URL.Host] {
			return url.Parse("http://proxy:3128")
		}
		return nil, nil
	}
	proxied["far:443"] = true
	proxied["far2:50051"] = true
	for target, want := range map[string]bool{
		"127.0.0.1:50051":                       true,
		"near:50051":                            true,
		"dns:///near:50051":                     true,
		"far:443":                               false,
		"dns:///far:443":                        false,
		"dns://8.8.8.8/far:443":                 false,
		"halfclose-static:///near:1,near:2":     true,
		"halfclose-static:///near:1,far2:50051": false,
		"unix:///run/halfclose.sock":            false,
		"passthrough:///near:50051":             false,
	} {
		if got := noProxy(target); got != want {
			t.Errorf("noProxy(%q) = %v, want %v", target, got, want)
		}
	}
}

// TestDialRawEndToEnd digests over a real TCP connection dialed by
// dialRaw (Dial with no raw gRPC options, a loopback address).
func TestDialRawEndToEnd(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	apiv1.RegisterComputeServiceServer(gs, server.NewComputeService(engine.New(engine.Config{Registry: builtin.Registry()}), server.Options{}))
	go gs.Serve(l)
	t.Cleanup(gs.Stop)
	dials := 0
	defer func(f func(*http.Request) (*url.URL, error)) { proxyFromEnvironment = f }(proxyFromEnvironment)
	proxyFromEnvironment = func(r *http.Request) (*url.URL, error) { dials++; return nil, nil }
	c, err := Dial(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if dials == 0 {
		t.Error("Dial did not ask whether a proxy applies")
	}
	input := bytes.Repeat([]byte("half-close\n"), 700_000) // several messages
	resp, err := c.Digest(ctxT(t), bytes.NewReader(input), []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(input)
	if got := resp.GetDigests()[0].GetRaw(); !bytes.Equal(got, sum[:]) || resp.GetSize() != int64(len(input)) {
		t.Errorf("digest %x of %d bytes, want %x of %d", got, resp.GetSize(), sum, len(input))
	}
}
