package client

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

func TestLoopbackOnly(t *testing.T) {
	for _, tc := range []struct {
		addrs []string
		want  bool
	}{
		{[]string{"127.0.0.1:50051"}, true},
		{[]string{"127.3.4.5:1", "[::1]:2", "localhost:3", "LocalHost:4"}, true},
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

// defaultCongestion is the system's TCP congestion control; a test that
// tells Reno from it skips when it is Reno.
func defaultCongestion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control")
	if err != nil {
		t.Skipf("no default congestion control: %v", err)
	}
	cc := strings.TrimSpace(string(b))
	if cc == "reno" {
		t.Skip("the system's default congestion control is reno already")
	}
	return cc
}

// peerCongestion returns the congestion control of each of this
// process's sockets connected to peer (IP:port).
func peerCongestion(peer string) []string {
	want := netip.MustParseAddrPort(peer)
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		sa, err := unix.Getpeername(fd)
		if err != nil {
			continue
		}
		var ap netip.AddrPort
		switch sa := sa.(type) {
		case *unix.SockaddrInet4:
			ap = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
		case *unix.SockaddrInet6:
			ap = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
		default:
			continue
		}
		if ap != want {
			continue
		}
		if cc, err := unix.GetsockoptString(fd, unix.IPPROTO_TCP, unix.TCP_CONGESTION); err == nil {
			out = append(out, cc)
		}
	}
	return out
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
	p.once.Do(func() { p.got = peerCongestion(p.peer) })
	return p.r.Read(b)
}

// TestRenoOnLoopback: the client's connections to a loopback server use
// Reno, over gRPC (one address or a list of them) and over raw TCP; a
// target that also names a remote address keeps the system's default
// (and grpc-go's dialer, with its proxy support). The digest is right.
func TestRenoOnLoopback(t *testing.T) {
	def := defaultCongestion(t)
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
