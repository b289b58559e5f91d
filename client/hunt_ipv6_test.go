package client

import (
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"testing"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testpki"
	"github.com/halfclose/halfclose/server"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// listenIPv6Loopback listens on [::1]:0, or skips when the host has no
// IPv6 loopback.
func listenIPv6Loopback(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	return l
}

// loopbackZone is the name of the loopback interface, for a zone.
func loopbackZone(t *testing.T) string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 {
			return i.Name
		}
	}
	t.Skip("no loopback interface")
	return ""
}

// TestDialIPv6 calls a server on [::1] by its address, bare, with a zone
// (which gRPC took for a URL escape: `parse "dns:///[::1%lo]:P": invalid
// URL escape "%lo"`, the call never made), and in an address list.
func TestDialIPv6(t *testing.T) {
	l := listenIPv6Loopback(t)
	gs := grpc.NewServer(server.CodecOption())
	apiv1.RegisterComputeServiceServer(gs, server.NewComputeService(engine.New(engine.Config{Registry: builtin.Registry()}), server.Options{}))
	go gs.Serve(l)
	t.Cleanup(gs.Stop)
	port := l.Addr().(*net.TCPAddr).Port
	zone := loopbackZone(t)
	for _, target := range []string{
		net.JoinHostPort("::1", strconv.Itoa(port)),
		net.JoinHostPort("::1%"+zone, strconv.Itoa(port)),
		net.JoinHostPort("::1%"+zone, strconv.Itoa(port)) + "," + net.JoinHostPort("::1", strconv.Itoa(port)),
	} {
		c, err := Dial(target)
		if err != nil {
			t.Errorf("Dial(%q): %v", target, err)
			continue
		}
		var out strings.Builder
		if _, err := c.Run(ctxT(t), "wc -l", strings.NewReader("a\nb\n"), &out); err != nil || out.String() != "2\n" {
			t.Errorf("Dial(%q): Run: %q, %v", target, out.String(), err)
		}
		c.Close()
	}
}

// TestRunTCPIPv6 is RunTCP to a command port on [::1], with and without a zone.
func TestRunTCPIPv6(t *testing.T) {
	l := listenIPv6Loopback(t)
	tcp := &server.TCPServer{Engine: engine.New(engine.Config{Registry: builtin.Registry()})}
	done := make(chan struct{})
	go func() { tcp.Serve(l); close(done) }()
	t.Cleanup(func() { tcp.Close(); <-done })
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	for _, addr := range []string{net.JoinHostPort("::1", port), net.JoinHostPort("::1%"+loopbackZone(t), port)} {
		var out strings.Builder
		if err := RunTCP(ctxT(t), addr, nil, "wc -l", strings.NewReader("a\nb\n"), &out); err != nil || out.String() != "2\n" {
			t.Errorf("RunTCP(%q): %q, %v", addr, out.String(), err)
		}
	}
}

// TestTLSIPv6Zone: over TLS, an address with a zone is verified as the
// address alone, the IP SAN ::1 a certificate can hold: the zone was part
// of the name verified on both transports ("certificate is not valid for
// any names, but wanted to match ::1%25lo" on gRPC, "::1%lo" on TCP).
func TestTLSIPv6Zone(t *testing.T) {
	l := listenIPv6Loopback(t)
	p := testpki.New(t)
	cert, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	srvTLS := &tls.Config{Certificates: []tls.Certificate{cert}}
	eng := engine.New(engine.Config{Registry: builtin.Registry()})
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(srvTLS)), server.CodecOption())
	apiv1.RegisterComputeServiceServer(gs, server.NewComputeService(eng, server.Options{}))
	go gs.Serve(l)
	t.Cleanup(gs.Stop)
	tl, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	tcp := &server.TCPServer{Engine: eng, TLSConfig: srvTLS}
	done := make(chan struct{})
	go func() { tcp.Serve(tl); close(done) }()
	t.Cleanup(func() { tcp.Close(); <-done })

	zone := loopbackZone(t)
	cliTLS := &tls.Config{RootCAs: p.CAPool} // the name is the address dialled
	grpcPort := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	for _, target := range []string{
		net.JoinHostPort("::1", grpcPort),
		net.JoinHostPort("::1%"+zone, grpcPort),
		net.JoinHostPort("::1%"+zone, grpcPort) + "," + net.JoinHostPort("::1", grpcPort),
	} {
		c, err := Dial(target, WithTLS(cliTLS))
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		if _, err := c.Run(ctxT(t), "wc -l", strings.NewReader("a\n"), &out); err != nil || out.String() != "1\n" {
			t.Errorf("gRPC %s: %q, %v", target, out.String(), err)
		}
		c.Close()
	}
	tcpPort := strconv.Itoa(tl.Addr().(*net.TCPAddr).Port)
	for _, addr := range []string{net.JoinHostPort("::1", tcpPort), net.JoinHostPort("::1%"+zone, tcpPort)} {
		var out strings.Builder
		if err := RunTCP(ctxT(t), addr, cliTLS, "wc -l", strings.NewReader("a\n"), &out); err != nil || out.String() != "1\n" {
			t.Errorf("TCP %s: %q, %v", addr, out.String(), err)
		}
	}
}
