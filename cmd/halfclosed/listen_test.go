package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"testing"
)

// TestUnboundAddrs: the addresses of a name that a listener is not on,
// IPv4-mapped ones taken as IPv4, zones dropped, each once.
func TestUnboundAddrs(t *testing.T) {
	bound := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 50051}
	a := netip.MustParseAddr
	for _, tc := range []struct {
		addrs []netip.Addr
		want  []netip.Addr
	}{
		{[]netip.Addr{a("127.0.0.1")}, nil},
		{[]netip.Addr{a("::ffff:127.0.0.1")}, nil},
		{[]netip.Addr{a("::1"), a("127.0.0.1")}, []netip.Addr{a("::1")}},
		{[]netip.Addr{a("127.0.0.1"), a("::1"), a("::1"), a("127.0.1.1")}, []netip.Addr{a("::1"), a("127.0.1.1")}},
		{[]netip.Addr{a("fe80::1%eth0"), a("fe80::1%eth1")}, []netip.Addr{a("fe80::1")}},
	} {
		if got := unboundAddrs(bound, tc.addrs); !slices.Equal(got, tc.want) {
			t.Errorf("unboundAddrs(%v, %v) = %v, want %v", bound, tc.addrs, got, tc.want)
		}
	}
}

// TestWarnUnbound: a listen address whose host is a name of more
// addresses than the one listened on (localhost as Debian's /etc/hosts has
// it: ::1 and 127.0.0.1; this machine's may have only 127.0.0.1) is
// warned about, naming the addresses left out with the listener's port;
// an address, a name of one address, an empty host or a failed lookup
// are not. Before, nothing said that localhost:PORT was 127.0.0.1 alone,
// and a server on [::1]:PORT took the localhost clients that try ::1
// first.
func TestWarnUnbound(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	old := lookupHost
	t.Cleanup(func() { lookupHost = old })
	hosts := map[string][]netip.Addr{
		"localhost": {netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")},
		"v4only":    {netip.MustParseAddr("127.0.0.1")},
	}
	lookupHost = func(_ context.Context, host string) ([]netip.Addr, error) {
		if a, ok := hosts[host]; ok {
			return a, nil
		}
		return nil, errors.New("no such host")
	}
	for _, tc := range []struct{ addr, want string }{
		{"localhost:0", `level=WARN msg="--grpc-addr: localhost names more addresses than the one listened on: clients of localhost may try the others first, and reach whatever listens there; give an address to say which" value=localhost:0 addr=127.0.0.1:` + port + ` not=[::1]:` + port + "\n"},
		{"v4only:0", ""},
		{"127.0.0.1:0", ""},
		{":0", ""},
		{"gone:0", ""},
	} {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
		warnUnbound(log, "--grpc-addr", tc.addr, l)
		if got := buf.String(); got != tc.want {
			t.Errorf("%s: logged %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// TestListenAddrForms: the forms a listen address takes are accepted by
// every address flag, and listened on where they are loopback: an IPv6
// address in brackets, a name, a service name, no host, an empty port
// (Go's 0), and empty for disabled (not --grpc-addr). The check that
// refuses targets and values that are not HOST:PORT (listenAddrProblem)
// must let each through.
func TestListenAddrForms(t *testing.T) {
	for _, v := range []string{"[::1]:0", "localhost:0", ":0", "0.0.0.0:0", "[::]:0", "127.0.0.1:", "localhost:http", "[fe80::1%lo]:0", "unix:0", ""} {
		for _, flag := range []string{"--grpc-addr", "--tcp-addr", "--health-addr", "--metrics-addr", "--tcp-route"} {
			arg := flag + "=" + v
			if flag == "--tcp-route" {
				if v == "" {
					continue // ADDR=PIPELINE: an empty ADDR is its own error
				}
				arg += "=wc -l"
			}
			_, err := parseConfig([]string{arg}, io.Discard)
			if flag == "--grpc-addr" && v == "" {
				if err == nil {
					t.Errorf("%s: accepted", arg)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", arg, err)
			}
		}
	}
	for _, v := range []string{"[::1]:0", "localhost:0"} {
		if v == "[::1]:0" {
			l, err := net.Listen("tcp", v)
			if err != nil {
				t.Logf("no IPv6 loopback: %v", err)
				continue
			}
			l.Close()
		}
		td := startDaemon(t, "--grpc-addr="+v, "--tcp-addr="+v, "--tcp-route="+v+"=wc -l", "--metrics-addr="+v, "--health-addr="+v)
		for name, l := range map[string]net.Listener{"grpc": td.grpcL, "tcp": td.tcpL, "route": td.routes[0].l, "metrics": td.metricsL, "health": td.healthL} {
			if l == nil {
				t.Errorf("%s %s: not listening", v, name)
				continue
			}
			if c, err := net.Dial("tcp", l.Addr().String()); err != nil {
				t.Errorf("%s %s: %v", v, name, err)
			} else {
				c.Close()
			}
		}
	}
}
