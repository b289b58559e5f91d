package client

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/halfclose/halfclose/internal/testenv"
)

func TestLoopbackOnly(t *testing.T) {
	for _, tc := range []struct {
		addrs []string
		want  bool
	}{
		{[]string{"127.0.0.1:50051"}, true},
		{[]string{"127.3.4.5:1", "[::1]:2", "localhost:3"}, true},
		{[]string{"LocalHost:4"}, false}, // Go's proxy rule: "localhost" exactly
		{[]string{"[::ffff:127.0.0.1]:1"}, true},
		{[]string{"127.0.0.1:1", "10.0.0.1:2"}, false},
		{[]string{"example.com:1"}, false},
		{[]string{"localhost.example.com:1"}, false},
		{[]string{"0.0.0.0:1"}, false},
		{[]string{"127.0.0.1"}, false}, // no port: not host:port
		{[]string{"unix:/tmp/x"}, false},
		{nil, false},
	} {
		if got := loopbackOnly(tc.addrs); got != tc.want {
			t.Errorf("loopbackOnly(%q) = %v, want %v", tc.addrs, got, tc.want)
		}
	}
}

// probeReader gives data and, at its first Read (the connection is up
// then), records the congestion control of the sockets to peer.
type probeReader struct {
	peer string
	r    io.Reader
	once sync.Once
	got  []string
}

func (p *probeReader) Read(b []byte) (int, error) {
	p.once.Do(func() { p.got = testenv.PeerCongestion(p.peer) })
	return p.r.Read(b)
}

// TestRenoOnLoopback: the client's connections to a loopback server use
// Reno, over gRPC (one address or a list of them) and over raw TCP; a
// target that also names a remote address keeps the system's default
// (and grpc-go's dialer, with its proxy support). The digest is right.
func TestRenoOnLoopback(t *testing.T) {
	def := testenv.DefaultCongestion(t)
	input := randomInput(t, 3<<20)
	want := gnuSHA256(t, input)
	srv := startServers(t, 1, nil)[0]
	port := srv.addr[strings.LastIndexByte(srv.addr, ':')+1:]

	for _, tc := range []struct {
		target, cc string
	}{
		{srv.addr, "reno"},
		{"localhost:" + port, "reno"},
		{srv.addr + ",[::1]:" + port, "reno"},
		{srv.addr + ",192.0.2.1:9", def}, // TEST-NET-1: not loopback
	} {
		c, err := Dial(tc.target)
		if err != nil {
			t.Fatal(err)
		}
		p := &probeReader{peer: srv.addr, r: bytes.NewReader(input)}
		resp, err := c.Digest(ctxT(t), p, sha256Only, nil)
		c.Close()
		if err != nil {
			t.Fatalf("%s: %v", tc.target, err)
		}
		if got := resp.GetDigests()[0].GetHex(); got != want {
			t.Fatalf("%s: digest %s, want %s", tc.target, got, want)
		}
		if len(p.got) == 0 {
			t.Fatalf("%s: no socket to %s found", tc.target, srv.addr)
		}
		for _, cc := range p.got {
			if cc != tc.cc {
				t.Errorf("%s: congestion control %q, want %q", tc.target, cc, tc.cc)
			}
		}
	}

	l := serveTCP(t)
	p := &probeReader{peer: l.Addr().String(), r: bytes.NewReader(input)}
	var out bytes.Buffer
	if err := RunTCP(ctxT(t), l.Addr().String(), nil, "sha256sum", p, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != want+"  -\n" {
		t.Fatalf("RunTCP: %q, want %q", out.String(), want+"  -\n")
	}
	if len(p.got) != 1 || p.got[0] != "reno" {
		t.Fatalf("RunTCP: congestion control %q, want [reno]", p.got)
	}
}
