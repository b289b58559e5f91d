package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/client"
	"github.com/halfclose/halfclose/internal/testenv"
)

// withHosts makes lookupHost answer from hosts for the test, and returns
// how often each name was looked up.
func withHosts(t *testing.T, hosts map[string][]netip.Addr) map[string]int {
	old := lookupHost
	t.Cleanup(func() { lookupHost = old })
	looked := map[string]int{}
	var mu sync.Mutex
	lookupHost = func(_ context.Context, host string) ([]netip.Addr, error) {
		mu.Lock()
		looked[host]++
		mu.Unlock()
		if a, ok := hosts[host]; ok {
			return a, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return looked
}

// needIPv6 skips the test where ::1 cannot be listened on.
func needIPv6(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	l.Close()
}

// textLog is a text logger without times, into buf.
func textLog(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
}

// TestHostOrder: a name's addresses, IPv4-mapped ones as IPv4, each once,
// its first IPv4 one first (the one net.Listen took alone), zones kept.
func TestHostOrder(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct{ in, want []netip.Addr }{
		{[]netip.Addr{a("127.0.0.1")}, []netip.Addr{a("127.0.0.1")}},
		{[]netip.Addr{a("::ffff:127.0.0.1"), a("127.0.0.1")}, []netip.Addr{a("127.0.0.1")}},
		{[]netip.Addr{a("::1"), a("127.0.0.1")}, []netip.Addr{a("127.0.0.1"), a("::1")}},
		{[]netip.Addr{a("::2"), a("::1"), a("127.0.0.2"), a("::1"), a("127.0.0.1")}, []netip.Addr{a("127.0.0.2"), a("::2"), a("::1"), a("127.0.0.1")}},
		{[]netip.Addr{a("fe80::1%eth0"), a("fe80::1%eth1")}, []netip.Addr{a("fe80::1%eth0"), a("fe80::1%eth1")}},
	} {
		if got := hostOrder(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("hostOrder(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestListenEveryAddress: a listen address whose host is a name of
// several addresses (localhost as Debian's /etc/hosts has it: ::1 and
// 127.0.0.1) is listened on at each, on one port (port 0: the first
// one's), its first IPv4 address first; a name of one address (also
// IPv4-mapped, as Go's resolver gives /etc/hosts' IPv4 entries) is one
// socket. Before, Go's one socket on 127.0.0.1 left [::1]:PORT to any
// other process, which then took the clients of localhost that try ::1
// first. The name is looked up once.
func TestListenEveryAddress(t *testing.T) {
	needIPv6(t)
	a := netip.MustParseAddr
	looked := withHosts(t, map[string][]netip.Addr{
		"dual.test":   {a("::1"), a("127.0.0.1")},
		"v4only.test": {a("127.0.0.1")},
		"mapped.test": {a("::ffff:127.0.0.1")},
	})
	for _, tc := range []struct {
		addr  string
		hosts []string
	}{
		{"dual.test:0", []string{"127.0.0.1", "::1"}},
		{"v4only.test:0", []string{"127.0.0.1"}},
		{"mapped.test:0", []string{"127.0.0.1"}},
		{"[::1]:0", []string{"::1"}},
	} {
		var buf bytes.Buffer
		ls, err := listenFlag(textLog(&buf), "--grpc-addr", tc.addr)
		if err != nil {
			t.Errorf("%s: %v", tc.addr, err)
			continue
		}
		var hosts, ports []string
		for _, l := range ls {
			host, port, _ := net.SplitHostPort(l.Addr().String())
			hosts, ports = append(hosts, host), append(ports, port)
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Errorf("%s: dial %s: %v", tc.addr, l.Addr(), err)
				continue
			}
			c.Close()
		}
		ls.close()
		if !slices.Equal(hosts, tc.hosts) {
			t.Errorf("%s: listened on %v, want %v", tc.addr, hosts, tc.hosts)
		}
		if len(slices.Compact(ports)) != 1 || ports[0] == "0" {
			t.Errorf("%s: ports %v, want one", tc.addr, ports)
		}
		if buf.Len() > 0 {
			t.Errorf("%s: logged %s", tc.addr, &buf)
		}
	}
	if _, err := listenFlag(slog.New(slog.DiscardHandler), "--grpc-addr", "gone.test:0"); err == nil || err.Error() != "--grpc-addr gone.test:0: listen tcp: lookup gone.test: no such host" {
		t.Errorf("gone.test:0: %v", err)
	}
	if want := map[string]int{"dual.test": 1, "v4only.test": 1, "mapped.test": 1, "gone.test": 1}; !maps.Equal(looked, want) {
		t.Errorf("lookups: %v, want %v", looked, want)
	}
}

// TestListenSkipsUnavailable: an address of the name that this host
// cannot listen on (2001:db8::1, as ::1 where IPv6 is off) is left out,
// with a warning naming it and the addresses served; when none is left,
// the start fails, naming each.
func TestListenSkipsUnavailable(t *testing.T) {
	a := netip.MustParseAddr
	withHosts(t, map[string][]netip.Addr{
		"far.test":     {a("2001:db8::1"), a("127.0.0.1")},
		"nowhere.test": {a("2001:db8::1"), a("192.0.2.1")},
	})
	var buf bytes.Buffer
	ls, err := listenFlag(textLog(&buf), "--tcp-addr", "far.test:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ls.close()
	if len(ls) != 1 {
		t.Fatalf("listened on %d addresses, want 1", len(ls))
	}
	const want = `level=WARN msg="--tcp-addr: not listening on every address of far.test: this host cannot listen on some (no IPv6? an address of another host?); their clients are refused there, and try the others" value=far.test:0 addr=%s err="listen tcp [2001:db8::1]:%s: bind: cannot assign requested address"` + "\n"
	_, port, _ := net.SplitHostPort(ls.addr())
	if got, want := buf.String(), fmt.Sprintf(want, ls.addr(), port); got != want {
		t.Errorf("logged %q, want %q", got, want)
	}
	_, err = listenFlag(slog.New(slog.DiscardHandler), "--tcp-addr", "nowhere.test:0")
	if err == nil || err.Error() != "--tcp-addr nowhere.test:0: listen tcp 192.0.2.1:0: bind: cannot assign requested address\nlisten tcp [2001:db8::1]:0: bind: cannot assign requested address" {
		t.Errorf("nowhere.test:0: %v", err)
	}
}

// TestListenPortTakenOnOne: port 0 is the first socket's port; when
// another process holds that port on another of the name's addresses,
// every socket is closed and a new port picked (it would otherwise fail
// the start, or leave that process the address's clients). A fixed port
// held on any of the addresses fails the start, and leaves nothing open.
func TestListenPortTakenOnOne(t *testing.T) {
	needIPv6(t)
	a := netip.MustParseAddr
	withHosts(t, map[string][]netip.Addr{"dual.test": {a("::1"), a("127.0.0.1")}})
	old := listenAt
	t.Cleanup(func() { listenAt = old })
	var taken []net.Listener
	t.Cleanup(func() {
		for _, l := range taken {
			l.Close()
		}
	})
	listenAt = func(network, addr string) (net.Listener, error) {
		if host, port, _ := net.SplitHostPort(addr); host == "::1" && len(taken) == 0 {
			// Another process takes the port the first socket got.
			l, err := net.Listen("tcp", net.JoinHostPort(host, port))
			if err != nil {
				t.Fatal(err)
			}
			taken = append(taken, l)
		}
		return old(network, addr)
	}
	ls, err := listenFlag(slog.New(slog.DiscardHandler), "--grpc-addr", "dual.test:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ls.close()
	if len(taken) != 1 || len(ls) != 2 {
		t.Fatalf("%d taken, %d listeners; want 1 and 2", len(taken), len(ls))
	}
	_, p0, _ := net.SplitHostPort(ls[0].Addr().String())
	_, p1, _ := net.SplitHostPort(ls[1].Addr().String())
	_, pt, _ := net.SplitHostPort(taken[0].Addr().String())
	if p0 != p1 || p0 == pt {
		t.Errorf("ports %s and %s, the taken one %s: want one port, not the taken one", p0, p1, pt)
	}

	// The taken port, fixed: an error, and the IPv4 socket closed again.
	listenAt = old
	_, err = listenFlag(slog.New(slog.DiscardHandler), "--grpc-addr", "dual.test:"+pt)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("dual.test:%s: %v, want address already in use", pt, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+pt)
	if err != nil {
		t.Fatalf("127.0.0.1:%s left open: %v", pt, err)
	}
	l.Close()
}

// TestDaemonListensOnEveryAddress: every listener of a name of two
// addresses (--grpc-addr, --tcp-addr, a --tcp-route, --metrics-addr,
// --health-addr) serves both, over TLS and through the raw accept
// (--tcp-raw-accept=all); the "listening" lines name both; the caps
// count both sockets' connections together (--grpc-max-conns 1: a
// connection held on 127.0.0.1 refuses one on ::1, and --max-conns 1 a
// TCP one on 127.0.0.1 while a job runs on ::1); a drain serves a job
// begun on ::1 to its end and then closes both.
func TestDaemonListensOnEveryAddress(t *testing.T) {
	needIPv6(t)
	a := netip.MustParseAddr
	withHosts(t, map[string][]netip.Addr{"dual.test": {a("::1"), a("127.0.0.1")}})
	pki := newTestPKI(t)
	const v = "dual.test:0"
	d := startDaemon(t, "--grpc-addr="+v, "--tcp-addr="+v, "--tcp-route="+v+"=sha256sum", "--metrics-addr="+v, "--health-addr="+v,
		"--tls-cert="+pki.ServerCert, "--tls-key="+pki.ServerKey, "--tcp-raw-accept=all", "--grpc-max-conns=1", "--max-conns=1")
	tlsCfg := pki.ClientTLS(t, false)
	input := randomBytes(t, 100<<10)
	all := map[string]listeners{"grpc": d.grpcListeners(), "tcp": d.tcpL, "route": d.routes[0].l, "metrics": d.metricsL, "health": d.healthL}
	for name, ls := range all {
		if len(ls) != 2 {
			t.Fatalf("%s: %d listeners, want 2", name, len(ls))
		}
	}
	// TCP: the command port and the route, both families, TLS.
	for _, ls := range []listeners{d.tcpL, d.routes[0].l} {
		for _, l := range ls {
			header := "sha256sum\n"
			if ls[0] == d.routes[0].l[0] {
				header = ""
			}
			if got, err := tcpJob(t, l.Addr().String(), tlsCfg, header, input); err != nil || got != sha256Line(input) {
				t.Errorf("%s: %q, %v", l.Addr(), got, err)
			}
		}
	}
	// HTTP: both families.
	for _, ls := range []listeners{d.metricsL, d.healthL} {
		for _, l := range ls {
			if code := httpStatus(t, l.Addr().String(), "/readyz"); code != 200 {
				t.Errorf("%s/readyz: %d", l.Addr(), code)
			}
		}
	}
	// gRPC: a connection held on 127.0.0.1 is the one of --grpc-max-conns
	// 1; one on ::1 is refused, then served once the first has closed.
	v4 := client.WithTLS(tlsCfg)
	c4, err := client.Dial(d.grpcL[0].Addr().String(), v4)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := digest(t, c4, input); err != nil || got != sha256Hex(input) {
		t.Fatalf("gRPC %s: %v", d.grpcL[0].Addr(), err)
	}
	c6 := grpcClient(t, d.grpcL[1].Addr().String(), v4)
	if _, err := digest(t, c6, input); status.Code(err) != codes.Unavailable {
		t.Errorf("gRPC %s past --grpc-max-conns 1: %v, want UNAVAILABLE", d.grpcL[1].Addr(), err)
	}
	// The refused channel goes on reconnecting in the background: left
	// open, it can take the place c4 frees before the new c6 does.
	c6.Close()
	c4.Close()
	waitMetric(t, d.httpAddr(), "halfclose_grpc_connections", nil, 0)
	c6 = grpcClient(t, d.grpcL[1].Addr().String(), v4) // not the first's backoff
	if got, err := digest(t, c6, input); err != nil || got != sha256Hex(input) {
		t.Errorf("gRPC %s after the first closed: %v", d.grpcL[1].Addr(), err)
	}

	// A job begun on [::1] is the one connection of --max-conns 1: one
	// on 127.0.0.1 is refused. Then the drain: the job runs to its end,
	// and both families of every port refuse.
	c := rawConn(t, d.tcpL[1].Addr().String(), tlsCfg)
	if _, err := io.WriteString(c, "sha256sum\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(input[:1000]); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, d.httpAddr(), "halfclose_jobs_in_flight", nil, 1)
	if got, err := tcpJob(t, d.tcpL[0].Addr().String(), tlsCfg, "sha256sum\n", input); err != nil || got != errorLine("RESOURCE_EXHAUSTED", "too many connections: limit 1") {
		t.Errorf("%s past --max-conns 1: %q, %v", d.tcpL[0].Addr(), got, err)
	}
	d.stop()
	if _, err := c.Write(input[1000:]); err != nil {
		t.Fatal(err)
	}
	c.(*tls.Conn).CloseWrite()
	if got, err := io.ReadAll(c); err != nil || string(got) != sha256Line(input) {
		t.Errorf("job across the drain: %q, %v", got, err)
	}
	if err := d.wait(t); err != nil {
		t.Fatal(err)
	}
	for name, ls := range all {
		if !strings.Contains(d.logs.String(), fmt.Sprintf(`"addr":%q,"also":%q`, ls[0].Addr().String(), ls[1].Addr().String())) {
			t.Errorf("%s: no listening line naming %s and %s", name, ls[0].Addr(), ls[1].Addr())
		}
		for _, l := range ls {
			if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
				c.Close()
				t.Errorf("%s %s: still accepting after the drain", name, l.Addr())
			}
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
		for name, ls := range map[string]listeners{"grpc": td.grpcListeners(), "tcp": td.tcpL, "route": td.routes[0].l, "metrics": td.metricsL, "health": td.healthL} {
			if ls == nil {
				t.Errorf("%s %s: not listening", v, name)
				continue
			}
			if c, err := net.Dial("tcp", ls.addr()); err != nil {
				t.Errorf("%s %s: %v", v, name, err)
			} else {
				c.Close()
			}
		}
	}
}

// TestDaemonEveryAddressGraceOver: the forced stop reaches the jobs of
// every socket of a name: jobs held on ::1 and on 127.0.0.1, over gRPC
// and TCP, are cancelled with UNAVAILABLE when --shutdown-grace ends,
// never a result, and Run returns.
func TestDaemonEveryAddressGraceOver(t *testing.T) {
	needIPv6(t)
	a := netip.MustParseAddr
	withHosts(t, map[string][]netip.Addr{"dual.test": {a("::1"), a("127.0.0.1")}})
	d := startDaemon(t, "--grpc-addr=dual.test:0", "--tcp-addr=dual.test:0", "--shutdown-grace=100ms")
	var grpcs []func([]byte) (*apiv1.DigestResponse, error)
	var tcps []net.Conn
	for i := range 2 {
		api := apiv1.NewComputeServiceClient(rawGRPC(t, d.grpcL[i].Addr().String(), nil))
		grpcs = append(grpcs, holdGRPC(t, api, []byte("never finished")))
		tcps = append(tcps, holdTCP(t, d.tcpL[i].Addr().String(), "sha256sum\n", []byte("never finished")))
	}
	waitMetric(t, d.httpAddr(), "halfclose_jobs_in_flight", nil, 4)
	lines := make(chan string, len(tcps))
	for _, c := range tcps {
		go func() {
			line, err := bufio.NewReader(c).ReadString('\n')
			c.(*net.TCPConn).CloseWrite()
			if err != nil {
				line += " (" + err.Error() + ")"
			}
			lines <- line
		}()
	}
	d.stop()
	if err := d.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for i, finish := range grpcs {
		if resp, err := finish(nil); err == nil {
			t.Errorf("gRPC job on %s got a result: %v", d.grpcL[i].Addr(), resp)
		} else if st := status.Convert(err); st.Code() != codes.Unavailable || st.Message() != "server is shutting down" {
			t.Errorf("gRPC job on %s: %v; want UNAVAILABLE server is shutting down", d.grpcL[i].Addr(), err)
		}
	}
	for range tcps {
		if line := testenv.Recv(t, hangTimeout, "a TCP job's error line after the stop", lines); line != errorLine("UNAVAILABLE", "server is shutting down") {
			t.Errorf("TCP job: %q", line)
		}
	}
}
