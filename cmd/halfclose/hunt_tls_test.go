package main

import (
	"crypto/x509"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testpki"
	"github.com/halfclose/halfclose/server"
)

// tlsHuntServer serves gRPC and the raw-TCP command port with TLS from
// certFile and keyFile, client certificates from clientCA required when
// it is not empty.
func tlsHuntServer(t *testing.T, certFile, keyFile, clientCA string) (grpcAddr, tcpAddr string) {
	t.Helper()
	cfg, err := server.LoadServerTLS(certFile, keyFile, clientCA)
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.Config{Registry: builtin.Registry()})
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg)))
	apiv1.RegisterComputeServiceServer(gs, server.NewComputeService(eng, server.Options{}))
	go gs.Serve(gl)
	t.Cleanup(gs.Stop)
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcp := &server.TCPServer{Engine: eng, TLSConfig: cfg}
	done := make(chan struct{})
	go func() { tcp.Serve(tl); close(done) }()
	t.Cleanup(func() { tcp.Close(); <-done })
	return gl.Addr().String(), tl.Addr().String()
}

// TestHuntTLSErrors: a TLS failure is said as what the user must fix, on
// both transports. A client certificate the server refuses names what is
// wrong with it when the client can see it (out of its dates, not for
// client use, another CA's); over --tcp the CLI printed crypto/tls's
// words ("reading reply: remote error: tls: expired certificate"), and on
// gRPC it asked whether the CA was right for every alert. A server
// certificate for another name, or out of its dates, is not a --cacert
// problem, which the hint said it was.
func TestHuntTLSErrors(t *testing.T) {
	t.Parallel()
	p := testpki.New(t)
	other := testpki.New(t)
	otherName := testpki.NewNamed(t, "another CA")
	day := 24 * time.Hour
	expired, expiredKey := p.Issue(t, testpki.Cert{Name: "expired", Usage: x509.ExtKeyUsageClientAuth,
		NotBefore: time.Now().Add(-2 * day), NotAfter: time.Now().Add(-day)})
	future, futureKey := p.Issue(t, testpki.Cert{Name: "future", Usage: x509.ExtKeyUsageClientAuth,
		NotBefore: time.Now().Add(day), NotAfter: time.Now().Add(2 * day)})
	serverOnly, serverOnlyKey := p.Issue(t, testpki.Cert{Name: "serveronly", Usage: x509.ExtKeyUsageServerAuth})
	g, tcp := tlsHuntServer(t, p.ServerCert, p.ServerKey, p.CAFile)

	noName, noNameKey := p.Issue(t, testpki.Cert{Name: "noname", Usage: x509.ExtKeyUsageServerAuth, DNS: []string{"other.example"}})
	gNoName, tcpNoName := tlsHuntServer(t, noName, noNameKey, "")
	old, oldKey := p.Issue(t, testpki.Cert{Name: "old", Usage: x509.ExtKeyUsageServerAuth,
		NotBefore: time.Now().Add(-2 * day), NotAfter: time.Now().Add(-day), IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	gOld, tcpOld := tlsHuntServer(t, old, oldKey, "")

	for _, tc := range []struct {
		name      string
		cert, key string
		grpc, tcp string // the servers' addresses
		want      string // after "halfclose: [UNAVAILABLE: ]"
	}{
		// A refusal shows as the server's alert, or (TLS 1.3, gRPC)
		// as the connection closed after the client's handshake.
		{"no certificate", "", "", g, tcp, "ADDR (closed the connection after the TLS handshake: it may )?requires? a client certificate \\(--cert and --key\\)\n$"},
		{"expired", expired, expiredKey, g, tcp, "ADDR (refused the TLS handshake: expired certificate|closed the connection after the TLS handshake): --cert " + expired + " expired at 20[^ ]*Z\n$"},
		{"not yet valid", future, futureKey, g, tcp, "ADDR (refused the TLS handshake: expired certificate|closed the connection after the TLS handshake): --cert " + future + " is not valid before 20[^ ]*Z \\(or this machine's clock is behind\\)\n$"},
		{"server use only", serverOnly, serverOnlyKey, g, tcp, "ADDR (refused the TLS handshake: bad certificate|closed the connection after the TLS handshake): --cert " + serverOnly + " is not for client authentication \\(its extended key usage lacks clientAuth\\)\n$"},
		{"another CA", other.ClientCert, other.ClientKey, g, tcp, "ADDR (refused the TLS handshake: unknown certificate authority: --cert " + other.ClientCert + " is not signed by a CA the server trusts|closed the connection after the TLS handshake: it may not accept the client certificate \\(is --cert signed by the CA the server trusts\\?\\))\n$"},
		// A CA named otherwise: crypto/tls sends no certificate, and
		// the server's alert is "certificate required".
		{"another CA, named otherwise", otherName.ClientCert, otherName.ClientKey, g, tcp, "ADDR (refused the TLS handshake: certificate required: --cert " + otherName.ClientCert + " is not signed by a CA the server trusts|closed the connection after the TLS handshake: it may not accept the client certificate \\(is --cert signed by the CA the server trusts\\?\\))\n$"},
		{"server certificate for another name", "", "", gNoName, tcpNoName, "cannot verify the certificate of ADDR: x509: .* \\(the certificate does not name the host dialled: dial a name it holds, or give the server a certificate for this one\\)\n$"},
		{"server certificate expired", "", "", gOld, tcpOld, "cannot verify the certificate of ADDR: x509: .* \\(the server's certificate is outside its dates: renew it, or check this machine's clock\\)\n$"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, tcpMode := range []bool{false, true} {
				args := []string{"--progress=false", "--cacert", p.CAFile, "--addr", tc.grpc}
				want := "^halfclose: UNAVAILABLE: " + strings.ReplaceAll(tc.want, "ADDR", regexp.QuoteMeta(tc.grpc))
				if tcpMode {
					args = []string{"--progress=false", "--cacert", p.CAFile, "--tcp", "--tcp-addr", tc.tcp}
					want = "^halfclose: " + strings.ReplaceAll(tc.want, "ADDR", regexp.QuoteMeta(tc.tcp))
				}
				if tc.cert != "" {
					args = append(args, "--cert", tc.cert, "--key", tc.key)
				}
				args = append(args, "sha256sum")
				code, out, errs := runCLIIn(t, strings.NewReader("a\n"), args...)
				if code != 1 || out != "" || !regexp.MustCompile(want).MatchString(errs) {
					t.Errorf("tcp=%v: exit %d, stdout %q, stderr %q; want exit 1 and %q", tcpMode, code, out, errs, want)
				}
			}
		})
	}
}
