package main

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// sockFamily is what the kernel says of l's socket: "ipv4", "ipv6", or
// "dual" for an IPv6 wildcard without IPV6_V6ONLY, which IPv4 clients
// reach too (the option means nothing to any other IPv6 address).
func sockFamily(t *testing.T, l net.Listener) string {
	t.Helper()
	rc, err := l.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fam string
	var serr error
	if err := rc.Control(func(fd uintptr) {
		var domain, only int
		if domain, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN); serr != nil || domain == unix.AF_INET {
			fam = "ipv4"
			return
		}
		if only, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY); only == 1 || !l.Addr().(*net.TCPAddr).IP.IsUnspecified() {
			fam = "ipv6"
		} else {
			fam = "dual"
		}
	}); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return fam
}

// queued takes the connection queued on l, if there is one, without
// waiting (l's socket is non-blocking), and reports whether there was.
func queued(t *testing.T, l net.Listener) bool {
	t.Helper()
	rc, err := l.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got bool
	var aerr error
	if err := rc.Control(func(fd uintptr) {
		var nfd int
		nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_CLOEXEC)
		if aerr == nil {
			got = true
			unix.Close(nfd)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if aerr != nil && !errors.Is(aerr, unix.EAGAIN) {
		t.Fatal(aerr)
	}
	return got
}

// TestListenWildcards: a name whose addresses are both wildcards, :: and
// 0.0.0.0 (an /etc/hosts entry of each), is listened on at both, on one
// port, each socket its own family alone (0.0.0.0 an IPv4 socket, [::]
// one with IPV6_V6ONLY): before, Go's dual-stack [::] socket for
// 0.0.0.0 made the second socket fail the start with "address in use".
// A wildcard with the other family's loopback (:: and 127.0.0.1,
// 0.0.0.0 and ::1) serves what the name has, no more: IPv4 on 127.0.0.1
// alone, IPv6 on ::1 alone; a wildcard covers its own family's other
// addresses, which get no socket of their own (it would clash with the
// wildcard's). A name of :: alone is [::]:P as given literally, one
// dual-stack socket. Each loopback connection is queued on the socket of
// its family, the kernel's answer.
func TestListenWildcards(t *testing.T) {
	needIPv6(t)
	a := netip.MustParseAddr
	withHosts(t, map[string][]netip.Addr{
		"wild.test":    {a("::"), a("0.0.0.0")},
		"wild6.test":   {a("::"), a("127.0.0.1")},
		"wild4.test":   {a("0.0.0.0"), a("::1")},
		"covered.test": {a("::1"), a("127.0.0.1"), a("::"), a("0.0.0.0"), a("127.0.0.2")},
		"six.test":     {a("::1"), a("::")},
		"any6.test":    {a("::")},
	})
	type sock struct{ host, family string }
	for _, tc := range []struct {
		addr  string
		socks []sock
		// dial: the socket (an index in socks) each loopback
		// connection is queued on; -1: refused.
		v4, v6 int
	}{
		{"wild.test:0", []sock{{"0.0.0.0", "ipv4"}, {"::", "ipv6"}}, 0, 1},
		{"wild6.test:0", []sock{{"127.0.0.1", "ipv4"}, {"::", "ipv6"}}, 0, 1},
		{"wild4.test:0", []sock{{"0.0.0.0", "ipv4"}, {"::1", "ipv6"}}, 0, 1},
		{"covered.test:0", []sock{{"0.0.0.0", "ipv4"}, {"::", "ipv6"}}, 0, 1},
		{"six.test:0", []sock{{"::", "ipv6"}}, -1, 0},
		{"any6.test:0", []sock{{"::", "dual"}}, 0, 0},
	} {
		ls, err := listenFlag(slog.New(slog.DiscardHandler), "--grpc-addr", tc.addr)
		if err != nil {
			t.Errorf("%s: %v", tc.addr, err)
			continue
		}
		var socks []sock
		var ports []int
		for _, l := range ls {
			ta := l.Addr().(*net.TCPAddr)
			socks = append(socks, sock{ta.IP.String(), sockFamily(t, l)})
			ports = append(ports, ta.Port)
		}
		if !slices.Equal(socks, tc.socks) {
			t.Errorf("%s: sockets %v, want %v", tc.addr, socks, tc.socks)
		}
		if len(slices.Compact(ports)) != 1 || ports[0] == 0 {
			t.Errorf("%s: ports %v, want one", tc.addr, ports)
		}
		for _, d := range []struct {
			host string
			want int
		}{{"127.0.0.1", tc.v4}, {"::1", tc.v6}} {
			c, err := net.Dial("tcp", net.JoinHostPort(d.host, strconv.Itoa(ports[0])))
			if err != nil {
				if d.want >= 0 {
					t.Errorf("%s: dial %s: %v", tc.addr, d.host, err)
				}
				continue
			}
			c.Close()
			var on []int
			for i, l := range ls {
				if queued(t, l) {
					on = append(on, i)
				}
			}
			if !slices.Equal(on, []int{d.want}) {
				t.Errorf("%s: a connection to %s queued on sockets %v, want [%d]", tc.addr, d.host, on, d.want)
			}
		}
		ls.close()
	}
}
