package server

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/oracle"
)

func TestLoadServerTLSErrors(t *testing.T) {
	p := newTestPKI(t)
	missing := filepath.Join(t.TempDir(), "missing.pem")
	notPEM := writeFile(t, "ca.txt", "not a certificate\n")
	tests := []struct {
		name          string
		cert, key, ca string
		wantParts     []string
	}{
		{"no cert", "", p.ServerKey, "", []string{"certificate and a key"}},
		{"no key", p.ServerCert, "", "", []string{"certificate and a key"}},
		{"missing cert", missing, p.ServerKey, "", []string{"certificate file", missing}},
		{"missing key", p.ServerCert, missing, "", []string{"key file", missing}},
		{"mismatched key", p.ServerCert, p.ClientKey, "", []string{p.ServerCert, p.ClientKey}},
		{"cert is a key", p.ServerKey, p.ServerKey, "", []string{p.ServerKey}},
		{"missing CA", p.ServerCert, p.ServerKey, missing, []string{"client CA file", missing}},
		{"CA not PEM", p.ServerCert, p.ServerKey, notPEM, []string{"client CA file", notPEM, "no PEM certificate"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := LoadServerTLS(tc.cert, tc.key, tc.ca)
			if err == nil {
				t.Fatalf("no error, config %v", cfg)
			}
			for _, part := range tc.wantParts {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q lacks %q", err, part)
				}
			}
		})
	}
}

func TestLoadServerTLSConfig(t *testing.T) {
	p := newTestPKI(t)
	cfg, err := LoadServerTLS(p.ServerCert, p.ServerKey, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.ClientAuth != tls.NoClientCert || len(cfg.Certificates) != 1 {
		t.Fatalf("TLS config: min %x, client auth %v, %d certs", cfg.MinVersion, cfg.ClientAuth, len(cfg.Certificates))
	}
	cfg, err = LoadServerTLS(p.ServerCert, p.ServerKey, p.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.ClientCAs == nil {
		t.Fatalf("mTLS config: client auth %v, CAs %v", cfg.ClientAuth, cfg.ClientCAs)
	}
}

// startTLSServer runs the test gRPC server with TLS from LoadServerTLS.
func startTLSServer(t *testing.T, p *testPKI, clientCA string) string {
	t.Helper()
	cfg, err := LoadServerTLS(p.ServerCert, p.ServerKey, clientCA)
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := startTestServer(t, ChainConfig{}, grpc.Creds(credentials.NewTLS(cfg)))
	return addr
}

func healthCheck(t *testing.T, addr string, cfg *tls.Config) error {
	t.Helper()
	cc := dial(t, addr, credentials.NewTLS(cfg))
	_, err := healthpb.NewHealthClient(cc).Check(testCtx(t, ""), &healthpb.HealthCheckRequest{})
	return err
}

func TestTLSHandshake(t *testing.T) {
	p := newTestPKI(t)
	addr := startTLSServer(t, p, "")

	if err := healthCheck(t, addr, p.ClientTLS(t, false)); err != nil {
		t.Fatalf("TLS client trusting the CA: %v", err)
	}
	// 127.0.0.1 is in the server certificate too.
	byIP := p.ClientTLS(t, false)
	byIP.ServerName = "127.0.0.1"
	if err := healthCheck(t, addr, byIP); err != nil {
		t.Fatalf("TLS by IP: %v", err)
	}
	// A client that does not trust the CA fails.
	untrusting := &tls.Config{ServerName: "localhost", MinVersion: tls.VersionTLS12}
	wantStatus(t, healthCheck(t, addr, untrusting), codes.Unavailable, "")

	// TLS 1.1 is refused.
	d := &net.Dialer{Timeout: defaultTestTimeout}
	old := p.ClientTLS(t, false)
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if c, err := tls.DialWithDialer(d, "tcp", addr, old); err == nil {
		c.Close()
		t.Fatal("TLS 1.1 handshake succeeded")
	}
}

func TestMTLSHandshake(t *testing.T) {
	p := newTestPKI(t)
	addr := startTLSServer(t, p, p.CAFile)

	if err := healthCheck(t, addr, p.ClientTLS(t, true)); err != nil {
		t.Fatalf("mTLS client with certificate: %v", err)
	}
	wantStatus(t, healthCheck(t, addr, p.ClientTLS(t, false)), codes.Unavailable, "")

	// At the TLS level: the server refuses a client with no certificate.
	// Under TLS 1.3 the client's handshake finishes first and the refusal
	// arrives as an alert on the first read.
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: defaultTestTimeout}, "tcp", addr, p.ClientTLS(t, false))
	if err == nil {
		defer c.Close()
		if err := c.SetDeadline(time.Now().Add(defaultTestTimeout)); err != nil {
			t.Fatal(err)
		}
		_, err = c.Read(make([]byte, 1))
	}
	if err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Fatalf("client without certificate: err = %v, want a certificate-required alert", err)
	}

	// A client certificate from another CA is refused too.
	other := newTestPKI(t)
	stranger := p.ClientTLS(t, false)
	c2, err := tls.LoadX509KeyPair(other.ClientCert, other.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	stranger.Certificates = []tls.Certificate{c2}
	wantStatus(t, healthCheck(t, addr, stranger), codes.Unavailable, "")
}

// TestTCPTLSEndIsCloseNotify: over TLS the raw-TCP adapter's end of input
// is the client's close_notify. A TCP FIN without it (a killed client, a
// cut connection, an L4 proxy passing on a reset as a close, an attacker
// truncating the stream) is an abort, unless the header proved the end
// (@size): crypto/tls reads such a FIN as io.EOF too, and the server
// answered it with the digest of what had arrived.
func TestTCPTLSEndIsCloseNotify(t *testing.T) {
	p := newTestPKI(t)
	cfg, err := LoadServerTLS(p.ServerCert, p.ServerKey, "")
	if err != nil {
		t.Fatal(err)
	}
	obs := &recordingObserver{started: make(chan string, 100), ended: make(chan string, 100)}
	srv := &TCPServer{Engine: engine.New(engine.Config{Registry: testRegistry()}), TLSConfig: cfg, Observer: obs}
	addr := serveTCP(t, srv)

	input := []byte("all of the input\n")
	for _, tc := range []struct {
		name      string
		header    string
		closeNote bool // close_notify (tls.Conn.CloseWrite), else a bare FIN
		want      string
		outcome   string
	}{
		{"close_notify", "sha256sum\n", true, oracle.Output(t, input, "sha256sum"), OutcomeOK},
		{"FIN alone", "sha256sum\n", false, "halfclose: error: DATA_LOSS: input ended without TLS close_notify: the connection was closed, not half-closed\n", OutcomeAborted},
		// A proof of the end stands for close_notify.
		{"FIN alone, @size met", fmt.Sprintf("@size=%d sha256sum\n", len(input)), false, oracle.Output(t, input, "sha256sum"), OutcomeOK},
		{"FIN alone, @size short", fmt.Sprintf("@size=%d sha256sum\n", len(input)+1), false, fmt.Sprintf("halfclose: error: DATA_LOSS: input ended after %d of the %d bytes declared by @size\n", len(input), len(input)+1), OutcomeAborted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			raw.SetDeadline(time.Now().Add(defaultTestTimeout))
			c := tls.Client(raw, p.ClientTLS(t, false))
			if _, err := io.WriteString(c, tc.header+string(input)); err != nil {
				t.Fatal(err)
			}
			if tc.closeNote {
				err = c.CloseWrite()
			} else {
				err = raw.(*net.TCPConn).CloseWrite()
			}
			if err != nil {
				t.Fatal(err)
			}
			reply, _ := io.ReadAll(c)
			if string(reply) != tc.want {
				t.Fatalf("reply %q, want %q", reply, tc.want)
			}
			if oc := obs.nextOutcome(t); oc != tc.outcome {
				t.Fatalf("outcome %q, want %q", oc, tc.outcome)
			}
		})
	}
}

// TestTCPTLSShortPlaintext: a plaintext client on a TLS raw-TCP port
// gets the plaintext error line however little it sent: 1 to 4 bytes
// and a FIN (echo | nc -N to a route port) are less than a TLS record
// header, and crypto/tls says only "unexpected EOF" then; the server
// closed with no word (logged at debug), where 5 bytes or more got the
// line. A TLS client that stops within its ClientHello's header (first
// byte 0x16) is not answered in plaintext.
func TestTCPTLSShortPlaintext(t *testing.T) {
	p := newTestPKI(t)
	cfg, err := LoadServerTLS(p.ServerCert, p.ServerKey, "")
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.Config{Registry: testRegistry()})
	srv := &TCPServer{Engine: eng, TLSConfig: cfg}
	cl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	route, err := eng.Compile("sha256sum")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 2)
	go func() { srv.Serve(cl); done <- struct{}{} }()
	go func() { srv.ServeRoute(rl, route); done <- struct{}{} }()
	t.Cleanup(func() { srv.Close(); <-done; <-done })

	const line = "halfclose: error: INVALID_ARGUMENT: this port speaks TLS: connect with TLS (socat OPENSSL:, halfclose --tls or --cacert)\n"
	for _, tc := range []struct {
		addr, sent, want string
	}{
		{rl.Addr().String(), "\n", line},
		{rl.Addr().String(), "ab", line},
		{rl.Addr().String(), "abcd", line},
		{rl.Addr().String(), "abcde\n", line},
		{cl.Addr().String(), "wc\n", line},
		{rl.Addr().String(), "\x16\x03\x01", ""},
	} {
		raw, err := net.Dial("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		raw.SetDeadline(time.Now().Add(defaultTestTimeout))
		if _, err := io.WriteString(raw, tc.sent); err != nil {
			t.Fatal(err)
		}
		if err := raw.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		reply, _ := io.ReadAll(raw)
		raw.Close()
		if string(reply) != tc.want {
			t.Errorf("%q to %s: reply %q, want %q", tc.sent, tc.addr, reply, tc.want)
		}
	}
}

// TestTLSClientOnPlaintextPort: a TLS ClientHello on a plaintext command
// port is answered at once as what it is, whether or not it holds a
// newline: the server read it as a header line, and then said "a NUL
// byte at offset 6" (log and reply), or, without a newline, waited for
// the header timeout while the client waited for a ServerHello.
func TestTLSClientOnPlaintextPort(t *testing.T) {
	srv := &TCPServer{Engine: engine.New(engine.Config{Registry: testRegistry()}), HeaderTimeout: time.Hour}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Serve(l); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	const want = "halfclose: error: INVALID_ARGUMENT: this port does not speak TLS: connect without it (nc -N, socat TCP:, halfclose without --tls or --cacert)\n"
	for _, hello := range []string{
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",                 // a record header and the start of a ClientHello, no newline
		"\x16\x03\x01\x00\x0a\x01\x00\x00\x06\x03\x03\x00\x0a\x00\x00", // with a newline and a NUL
	} {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(defaultTestTimeout))
		// No FIN: the server must answer the bytes themselves.
		if _, err := io.WriteString(c, hello); err != nil {
			t.Fatal(err)
		}
		reply := make([]byte, len(want))
		n, err := io.ReadFull(c, reply)
		c.Close()
		if string(reply[:n]) != want {
			t.Errorf("%q: reply %q (%v), want %q", hello, reply[:n], err, want)
		}
	}
}

// TestTLSClientInTLSPort: a ClientHello that comes inside a TLS command
// port's TLS (TLS twice) is not told "this port does not speak TLS:
// connect without it", which is untrue of that port, as it was.
func TestTLSClientInTLSPort(t *testing.T) {
	p := newTestPKI(t)
	cfg, err := LoadServerTLS(p.ServerCert, p.ServerKey, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := &TCPServer{Engine: engine.New(engine.Config{Registry: testRegistry()}), TLSConfig: cfg, HeaderTimeout: time.Hour}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Serve(l); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	c, err := tls.Dial("tcp", l.Addr().String(), p.ClientTLS(t, false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(defaultTestTimeout))
	if _, err := io.WriteString(c, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"); err != nil {
		t.Fatal(err)
	}
	const want = "halfclose: error: INVALID_ARGUMENT: the header line is a TLS ClientHello inside this port's TLS: connect with TLS once, then send the pipeline\n"
	reply := make([]byte, len(want))
	n, err := io.ReadFull(c, reply)
	if string(reply[:n]) != want {
		t.Errorf("reply %q (%v), want %q", reply[:n], err, want)
	}
}
