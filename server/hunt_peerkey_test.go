package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"strings"
	"testing"
	"time"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// TestPeerKeys: an IPv4-mapped IPv6 address (a dual-stack listener's view
// of an IPv4 client) is the same peer as the IPv4 address; IPv6 peers are
// keyed by their prefix, a link-local one by its address and zone; 0 and
// 128 key each address.
func TestPeerKeys(t *testing.T) {
	tcp := func(s string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(s), Port: 1234} }
	for _, tc := range []struct {
		bits int
		addr net.Addr
		want string
	}{
		{64, tcp("127.0.0.1"), "127.0.0.1"},
		{64, tcp("::ffff:127.0.0.1"), "127.0.0.1"},
		{0, tcp("::ffff:127.0.0.1"), "127.0.0.1"},
		{64, tcp("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64"},
		{56, tcp("2001:db8:1:2ff:3:4:5:6"), "2001:db8:1:200::/56"},
		{128, tcp("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2:3:4:5:6"},
		{0, tcp("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2:3:4:5:6"},
		// Link-local: every host of every link is in fe80::/64, so each
		// address is its own peer, on its own link: the zone is part of
		// the key (two links' hosts may have one address).
		{64, &net.TCPAddr{IP: net.ParseIP("fe80::1"), Zone: "eth0", Port: 1}, "fe80::1%eth0"},
		{64, &net.TCPAddr{IP: net.ParseIP("fe80::1"), Zone: "eth1", Port: 1}, "fe80::1%eth1"},
		{64, &net.TCPAddr{IP: net.ParseIP("fe80::2"), Zone: "eth1", Port: 1}, "fe80::2%eth1"},
		{0, &net.TCPAddr{IP: net.ParseIP("fe80::1"), Zone: "eth0", Port: 1}, "fe80::1%eth0"},
		{128, &net.TCPAddr{IP: net.ParseIP("fe80::1"), Zone: "eth0", Port: 1}, "fe80::1%eth0"},
		{64, &net.TCPAddr{IP: net.ParseIP("fe80::1"), Zone: "3", Port: 1}, "fe80::1%3"},
		{64, tcp("fe80::1"), "fe80::1"},
		// A zone on an IPv4 address (net gives none) is dropped, also
		// one with a colon (which brackets the cached string).
		{64, &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Zone: "eth0", Port: 1}, "127.0.0.1"},
		{64, &net.TCPAddr{IP: net.ParseIP("::ffff:127.0.0.1"), Zone: "eth0", Port: 1}, "127.0.0.1"},
		{64, &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Zone: "a:b", Port: 1}, "127.0.0.1"},
		// A zone on an address that is not link-local (Linux and the
		// BSDs give none) leaves its key as without: its prefix, or the
		// address (it was the address and zone, out of its /64's peer).
		{64, &net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Zone: "eth0", Port: 1}, "2001:db8:1:2::/64"},
		{0, &net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Zone: "eth0", Port: 1}, "2001:db8:1:2:3:4:5:6"},
		{64, &net.TCPAddr{IP: net.ParseIP("::1"), Zone: "lo", Port: 1}, "::/64"},
		{48, tcp("febf::1:2:3"), "febf::1:2:3"},
		{64, tcp("::1"), "::/64"},
		{64, &net.UnixAddr{Name: "/s", Net: "unix"}, "/s"},
	} {
		if got := (PeerKeys{IPv6Prefix: tc.bits}).Key(tc.addr); got != tc.want {
			t.Errorf("PeerKeys{%d}.Key(%v) = %q, want %q", tc.bits, tc.addr, got, tc.want)
		}
	}
}

// zonedTCPAddr is the address "ip" or "ip%zone" with port.
func zonedTCPAddr(s string, port int) *net.TCPAddr {
	ip, zone, _ := strings.Cut(s, "%")
	return &net.TCPAddr{IP: net.ParseIP(ip), Zone: zone, Port: port}
}

// remoteAs is a real connection that says it comes from remote.
type remoteAs struct {
	*net.TCPConn
	remote net.Addr
}

func (c remoteAs) RemoteAddr() net.Addr { return c.remote }

// remoteListener gives the connections it accepts, in order, the remote
// addresses sent on next: the clients of other addresses than loopback's.
type remoteListener struct {
	net.Listener
	next chan net.Addr
}

func (l remoteListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return remoteAs{TCPConn: c.(*net.TCPConn), remote: <-l.next}, nil
}

// TestTCPPeerCapIPv6Prefix: under --max-requests-per-peer 1, a client of
// a /64 holding one request is refused a second from another address of
// the same /64 (keyed by address, it had one place per address: 2^64),
// a client of another /64 is served, an IPv4-mapped client is the same
// peer as its IPv4 address, and a link-local client is its address on
// its link (its zone).
func TestTCPPeerCapIPv6Prefix(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := remoteListener{Listener: raw, next: make(chan net.Addr, 8)}
	reqs := NewPeerCap(1)
	s := &TCPServer{Engine: engine.New(engine.Config{Registry: testRegistry()}), PeerRequests: reqs, PeerKeys: PeerKeys{IPv6Prefix: 64}}
	done := make(chan struct{})
	go func() { s.Serve(l); close(done) }()
	t.Cleanup(func() { s.Close(); <-done })

	dial := func(from string) *net.TCPConn {
		t.Helper()
		l.next <- zonedTCPAddr(from, 40000)
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*net.TCPConn)
	}
	reply := func(c *net.TCPConn, input string) string {
		t.Helper()
		if _, err := io.WriteString(c, input); err != nil {
			t.Fatal(err)
		}
		c.CloseWrite()
		b, _ := io.ReadAll(c)
		return string(b)
	}
	for _, tc := range []struct{ holder, same, other, key string }{
		{"2001:db8:0:1::1", "2001:db8:0:1:ffff::2", "2001:db8:0:2::1", "2001:db8:0:1::/64"},
		{"::ffff:127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.1"},
		// Link-local: one address on one link; the same address on
		// another link is another host (it was refused as the same).
		{"fe80::1%eth0", "fe80::1%eth0", "fe80::1%eth1", "fe80::1%eth0"},
	} {
		holder := dial(tc.holder)
		if _, err := io.WriteString(holder, "wc -l\n"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return reqs.Peers() == 1 })
		if n := reqs.Held(tc.key); n != 1 {
			t.Errorf("%s holds a request: %d held by %q, want 1", tc.holder, n, tc.key)
		}
		if got := reply(dial(tc.same), "wc -l\na\n"); !strings.Contains(got, "RESOURCE_EXHAUSTED: too many open requests from this address") {
			t.Errorf("%s while %s holds a request: %q, want it refused", tc.same, tc.holder, got)
		}
		if got := reply(dial(tc.other), "wc -l\na\n"); got != "1\n" {
			t.Errorf("%s while %s holds a request: %q, want it served", tc.other, tc.holder, got)
		}
		if got := reply(holder, "a\nb\n"); got != "2\n" {
			t.Errorf("%s: %q", tc.holder, got)
		}
	}
}

// TestGRPCPeerCapIPv6Prefix: gRPC streams are keyed as raw-TCP
// connections are: under --max-requests-per-peer 1, a stream open from
// one address of a /64 refuses a stream from another of its addresses.
func TestGRPCPeerCapIPv6Prefix(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := remoteListener{Listener: raw, next: make(chan net.Addr, 4)}
	reqs := NewPeerCap(1)
	svc := NewComputeService(engine.New(engine.Config{Registry: testRegistry()}), Options{PeerRequests: reqs, PeerKeys: PeerKeys{IPv6Prefix: 64}})
	gs := grpc.NewServer(grpc.InTapHandle(svc.TapHandle), CodecOption())
	apiv1.RegisterComputeServiceServer(gs, svc)
	go gs.Serve(l)
	t.Cleanup(gs.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	stream := func(from string) apiv1.ComputeService_DigestClient {
		t.Helper()
		l.next <- &net.TCPAddr{IP: net.ParseIP(from), Port: 40000}
		conn, err := grpc.NewClient(raw.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		st, err := apiv1.NewComputeServiceClient(conn).Digest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	sha := digestHdr(&apiv1.DigestHeader{Algorithms: []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}})
	holder := stream("2001:db8:0:1::1")
	if err := holder.Send(sha); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return reqs.Held("2001:db8:0:1::/64") == 1 })
	other := stream("2001:db8:0:1::2")
	other.Send(sha)
	other.CloseSend()
	if _, err := other.CloseAndRecv(); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a second address of the /64: %v, want RESOURCE_EXHAUSTED", err)
	}
	if err := holder.Send(dataMsg([]byte("abc"))); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.CloseAndRecv(); err != nil {
		t.Errorf("the holder: %v", err)
	}
}

// TestPeerLimiterIPv6Prefix: --rate-limit's bucket is the /64's.
func TestPeerLimiterIPv6Prefix(t *testing.T) {
	l := NewPeerLimiter(0.001, 1)
	l.Keys = PeerKeys{IPv6Prefix: 64}
	from := func(s string) context.Context {
		return peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(s), Port: 1}})
	}
	if err := l.Limit(from("2001:db8::1")); err != nil {
		t.Fatal(err)
	}
	if err := l.Limit(from("2001:db8::2")); !errors.Is(err, errRateLimited) {
		t.Errorf("another address of the /64, its bucket empty: %v", err)
	}
	if err := l.Limit(from("2001:db8:0:1::1")); err != nil {
		t.Errorf("another /64: %v", err)
	}
}

// TestPeerKeyCached: the key of an IPv6 peer under a prefix is made once
// per address, as its IP string is (addrcache.go): each stream asks for
// it up to three times (TapHandle, its job, the rate limit), and it cost
// two allocations each time. The same key comes back for the same bits,
// and a change of bits is not served the old key.
func TestPeerKeyCached(t *testing.T) {
	a := &net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 61234}
	k := PeerKeys{IPv6Prefix: 64}
	if got := k.Key(a); got != "2001:db8:1:2::/64" {
		t.Fatalf("Key = %q", got)
	}
	// Averaged over many runs: a stray allocation of another goroutine,
	// or an eviction of the slot by another port, does not count.
	if n := testing.AllocsPerRun(1000, func() { k.Key(a) }); n >= 1 {
		t.Errorf("Key of a known address: %.0f allocations a call; want 0", n)
	}
	if got := (PeerKeys{IPv6Prefix: 48}).Key(a); got != "2001:db8:1::/48" {
		t.Errorf("Key with 48 bits after 64 = %q", got)
	}
	if got := k.Key(a); got != "2001:db8:1:2::/64" {
		t.Errorf("Key with 64 bits after 48 = %q", got)
	}
	if got := PeerIP(a); got != "2001:db8:1:2:3:4:5:6" {
		t.Errorf("PeerIP after Key = %q", got)
	}
	// A link-local peer's key is its cached string's slice.
	ll := &net.TCPAddr{IP: net.ParseIP("fe80::1"), Zone: "eth0", Port: 61235}
	if got := k.Key(ll); got != "fe80::1%eth0" {
		t.Fatalf("Key = %q", got)
	}
	if n := testing.AllocsPerRun(1000, func() { k.Key(ll) }); n >= 1 {
		t.Errorf("Key of a known link-local address: %.0f allocations a call; want 0", n)
	}
}

// TestTCPDrainsPerPeerIPv6Prefix: the connections waiting for their
// client's FIN are capped per peer as the other per-peer caps are, an
// IPv6 client by its --peer-ipv6-prefix: ten connections from ten
// addresses of one /64 that send no FIN keep its --max-requests-per-peer
// (2) of waits, and another /64's wait is kept at maxDrains 4 (keyed by
// address, the ten were ten peers of one wait each, and the global cap
// evicted the other /64's). Then the same on real sockets: ten from ::1
// (the /64 ::/64) and one from 127.0.0.1 on a second listener.
func TestTCPDrainsPerPeerIPv6Prefix(t *testing.T) {
	s := &TCPServer{
		Engine:       engine.New(engine.Config{Registry: testRegistry()}),
		MaxConns:     1,
		maxDrains:    4,
		drainTimeout: time.Hour,
		PeerRequests: NewPeerCap(2),
		PeerKeys:     PeerKeys{IPv6Prefix: 64},
	}
	listen := func(addr string) net.Listener {
		t.Helper()
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("no %s: %v", addr, err)
		}
		return l
	}
	raw := listen("127.0.0.1:0")
	fake := remoteListener{Listener: raw, next: make(chan net.Addr, 1)}
	v6 := listen("[::1]:0")
	v4 := listen("127.0.0.1:0")
	done := make(chan struct{}, 3)
	for _, l := range []net.Listener{fake, v6, v4} {
		go func() { s.Serve(l); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		s.Close()
		for range 3 {
			testenv.Recv(t, hangTimeout, "a connection's end after Close", done)
		}
	})
	// frob sends a bad header line and no FIN on a connection to addr
	// (from the address next gives it, when next is not ""), and reads
	// the error line and the server's FIN: the server waits for its FIN.
	frob := func(addr, from string) net.Conn {
		t.Helper()
		if from != "" {
			fake.next <- zonedTCPAddr(from, 40000)
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(defaultTestTimeout))
		io.WriteString(c, "frob\n")
		if reply, err := io.ReadAll(c); err != nil || string(reply) != frobLine {
			t.Fatalf("from %s: %q, %v; want %q", from, reply, err, frobLine)
		}
		return c
	}
	waiting := func() map[string]int {
		s.drainMu.Lock()
		defer s.drainMu.Unlock()
		n := map[string]int{}
		for e := s.drains.Front(); e != nil; e = e.Next() {
			n[e.Value.(*drainingConn).peer]++
		}
		return n
	}

	conns := []net.Conn{frob(raw.Addr().String(), "2001:db8:0:2::1")}
	for i := range 10 {
		conns = append(conns, frob(raw.Addr().String(), fmt.Sprintf("2001:db8:0:1::%x", i+1)))
	}
	// Each connection was counted among the waiting, and any eviction
	// done, before its FIN was sent.
	if got, want := waiting(), map[string]int{"2001:db8:0:2::/64": 1, "2001:db8:0:1::/64": 2}; !maps.Equal(got, want) {
		t.Errorf("injected addresses: waiting for their FIN by peer: %v, want %v", got, want)
	}
	// Their FINs end the waits.
	for _, c := range conns {
		c.(*net.TCPConn).CloseWrite()
	}
	waitFor(t, func() bool { return len(waiting()) == 0 })

	frob(v4.Addr().String(), "")
	for range 10 {
		frob(v6.Addr().String(), "")
	}
	if got, want := waiting(), map[string]int{"127.0.0.1": 1, "::/64": 2}; !maps.Equal(got, want) {
		t.Errorf("::1 and 127.0.0.1: waiting for their FIN by peer: %v, want %v", got, want)
	}
}
