package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
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
// listened on at its first IPv4 address and warned about, naming the
// addresses left out with the listener's port; an address, a name of one
// address (also IPv4-mapped, as Go's resolver gives /etc/hosts' IPv4
// entries) or a failed lookup are not warned about. Before, nothing said
// that localhost:PORT was 127.0.0.1 alone, and a server on [::1]:PORT
// took the localhost clients that try ::1 first. The name is looked up
// once, the listener and the warning from that one answer: the first
// build listened on net's lookup and looked the name up again for the
// warning (names unknown to the system resolver, as these, failed).
func TestWarnUnbound(t *testing.T) {
	old := lookupHost
	t.Cleanup(func() { lookupHost = old })
	a := netip.MustParseAddr
	hosts := map[string][]netip.Addr{
		"localhost.test": {a("::1"), a("127.0.0.1")},
		"v4only.test":    {a("127.0.0.1")},
		"mapped.test":    {a("::ffff:127.0.0.1")},
		"v4second.test":  {a("::2"), a("127.0.0.2"), a("127.0.0.1")},
	}
	looked := map[string]int{}
	lookupHost = func(_ context.Context, host string) ([]netip.Addr, error) {
		looked[host]++
		if a, ok := hosts[host]; ok {
			return a, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	const msg = `level=WARN msg="--grpc-addr: %s names more addresses than the one listened on: clients of %s may try the others first, and reach whatever listens there; give an address to say which" value=%s:0 addr=%s:%s not=%s` + "\n"
	for _, tc := range []struct{ addr, bound, want string }{
		{"localhost.test:0", "127.0.0.1", msg},
		{"v4only.test:0", "127.0.0.1", ""},
		{"mapped.test:0", "127.0.0.1", ""},
		{"v4second.test:0", "127.0.0.2", msg},
		{"127.0.0.1:0", "127.0.0.1", ""},
	} {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
		l, err := listenFlag(log, "--grpc-addr", tc.addr)
		if err != nil {
			t.Errorf("%s: %v", tc.addr, err)
			continue
		}
		host, port, _ := net.SplitHostPort(l.Addr().String())
		l.Close()
		if host != tc.bound {
			t.Errorf("%s: listened on %s, want %s", tc.addr, l.Addr(), tc.bound)
		}
		want := tc.want
		if want != "" {
			name, _, _ := net.SplitHostPort(tc.addr)
			var not []string
			for _, o := range unboundAddrs(l.Addr(), hosts[name]) {
				not = append(not, net.JoinHostPort(o.String(), port))
			}
			notv := strings.Join(not, " ")
			if len(not) > 1 {
				notv = strconv.Quote(notv) // as slog's text quotes a space
			}
			want = fmt.Sprintf(want, name, name, name, tc.bound, port, notv)
		}
		if got := buf.String(); got != want {
			t.Errorf("%s: logged %q, want %q", tc.addr, got, want)
		}
	}
	if _, err := listenFlag(slog.New(slog.DiscardHandler), "--grpc-addr", "gone.test:0"); err == nil || err.Error() != "--grpc-addr gone.test:0: listen tcp: lookup gone.test: no such host" {
		t.Errorf("gone.test:0: %v", err)
	}
	if want := map[string]int{"localhost.test": 1, "v4only.test": 1, "mapped.test": 1, "v4second.test": 1, "gone.test": 1}; !maps.Equal(looked, want) {
		t.Errorf("lookups: %v, want %v", looked, want)
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
