package main

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/client"
	"github.com/halfclose/halfclose/internal/testenv"
	"github.com/halfclose/halfclose/internal/testpki"
)

var sha256Algo = []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}

func wantCode(t *testing.T, err error, code codes.Code, msgPart string) {
	t.Helper()
	s, _ := status.FromError(err)
	if s.Code() != code || !strings.Contains(s.Message(), msgPart) {
		t.Fatalf("got %v %q, want %v containing %q", s.Code(), s.Message(), code, msgPart)
	}
}

func digest(t *testing.T, c *client.Client, input []byte) (string, error) {
	t.Helper()
	resp, err := c.Digest(testCtx(t), bytes.NewReader(input), sha256Algo, nil)
	if err != nil {
		return "", err
	}
	return resp.GetDigests()[0].GetHex(), nil
}

func TestTLS(t *testing.T) {
	pki := newTestPKI(t)
	d := startDaemon(t, "--tls-cert="+pki.ServerCert, "--tls-key="+pki.ServerKey)
	input := randomBytes(t, 300<<10)

	c := grpcClient(t, d.grpcAddr(), client.WithTLS(pki.ClientTLS(t, false)))
	if got, err := digest(t, c, input); err != nil || got != sha256Hex(input) {
		t.Fatalf("gRPC over TLS: %q, %v", got, err)
	}
	reply, err := tcpJob(t, d.tcpAddr(), pki.ClientTLS(t, false), "sha256sum\n", input)
	if err != nil || reply != sha256Line(input) {
		t.Fatalf("TCP over TLS: %q, %v", reply, err)
	}

	// Plaintext clients get nothing.
	plain := grpcClient(t, d.grpcAddr())
	if _, err := digest(t, plain, input); status.Code(err) != codes.Unavailable {
		t.Fatalf("plaintext gRPC on a TLS port: %v", err)
	}
	reply, _ = tcpJob(t, d.tcpAddr(), nil, "sha256sum\n", []byte("x"))
	if strings.Contains(reply, "  -") {
		t.Fatalf("plaintext TCP on a TLS port got a result: %q", reply)
	}
}

func TestMTLS(t *testing.T) {
	pki := newTestPKI(t)
	d := startDaemon(t, "--tls-cert="+pki.ServerCert, "--tls-key="+pki.ServerKey, "--tls-client-ca="+pki.CAFile)
	input := []byte("mutual\n")

	c := grpcClient(t, d.grpcAddr(), client.WithTLS(pki.ClientTLS(t, true)))
	if got, err := digest(t, c, input); err != nil || got != sha256Hex(input) {
		t.Fatalf("gRPC with a client certificate: %q, %v", got, err)
	}
	reply, err := tcpJob(t, d.tcpAddr(), pki.ClientTLS(t, true), "sha256sum\n", input)
	if err != nil || reply != sha256Line(input) {
		t.Fatalf("TCP with a client certificate: %q, %v", reply, err)
	}

	noCert := grpcClient(t, d.grpcAddr(), client.WithTLS(pki.ClientTLS(t, false)))
	if _, err := digest(t, noCert, input); status.Code(err) != codes.Unavailable {
		t.Fatalf("gRPC without a client certificate: %v", err)
	}
	// In TLS 1.3 the client's handshake completes before the server checks
	// its certificate; the server's alert then ends the connection.
	reply, _ = tcpJob(t, d.tcpAddr(), pki.ClientTLS(t, false), "sha256sum\n", input)
	if reply != "" {
		t.Fatalf("TCP without a client certificate got %q", reply)
	}
}

func TestAuthToken(t *testing.T) {
	tokens := writeFile(t, "# ops\nsecret-one\n\nsecret-two\n")
	d := startDaemon(t, "--auth-token-file="+tokens)
	input := []byte("authorized\n")

	for _, tc := range []struct {
		name, token string
		code        codes.Code
		msg         string
	}{
		{"missing", "", codes.Unauthenticated, "missing bearer token"},
		{"wrong", "secret-three", codes.PermissionDenied, "invalid token"},
		{"first", "secret-one", codes.OK, ""},
		{"second", "secret-two", codes.OK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []client.Option
			if tc.token != "" {
				opts = append(opts, client.WithToken(tc.token))
			}
			c := grpcClient(t, d.grpcAddr(), opts...)
			got, err := digest(t, c, input)
			if tc.code == codes.OK {
				if err != nil || got != sha256Hex(input) {
					t.Fatalf("%q, %v", got, err)
				}
				return
			}
			wantCode(t, err, tc.code, tc.msg)
		})
	}

	// A malformed header is UNAUTHENTICATED too, and says so (since
	// e6e91f0; the value is not repeated).
	cc := rawGRPC(t, d.grpcAddr(), nil)
	ctx := metadata.AppendToOutgoingContext(testCtx(t), "authorization", "Basic c2VjcmV0LW9uZQ==")
	_, err := apiv1.NewComputeServiceClient(cc).Capabilities(ctx, &apiv1.CapabilitiesRequest{})
	wantCode(t, err, codes.Unauthenticated, `malformed authorization metadata: want "Bearer TOKEN"`)
	if strings.Contains(status.Convert(err).Message(), "c2VjcmV0") {
		t.Errorf("the refusal repeats the value: %v", err)
	}

	// Health and reflection need no token.
	hr, err := healthpb.NewHealthClient(cc).Check(testCtx(t), &healthpb.HealthCheckRequest{})
	if err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health without a token: %v, %v", hr, err)
	}
	rs, err := rpb.NewServerReflectionClient(cc).ServerReflectionInfo(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	rs.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}})
	rr, err := rs.Recv()
	if err != nil || !strings.Contains(rr.String(), "halfclose.v1.ComputeService") {
		t.Fatalf("reflection without a token: %v, %v", rr, err)
	}
	rs.CloseSend()

	// The raw-TCP command port wants a token too, on its header line.
	for _, tc := range []struct{ header, want string }{
		{"sha256sum\n", errorLine("UNAUTHENTICATED", "missing token: start the header line with @token=TOKEN")},
		{"@token=secret-three sha256sum\n", errorLine("PERMISSION_DENIED", "invalid token")},
		{"@token=secret-two sha256sum\n", sha256Line(input)},
	} {
		if reply, err := tcpJob(t, d.tcpAddr(), nil, tc.header, input); reply != tc.want {
			t.Errorf("TCP %q: %q (%v), want %q", tc.header, reply, err, tc.want)
		}
	}
}

// TestTCPAuthModes: with --auth-token-file, the raw-TCP ports are never
// open by accident (issue 13, item 4). Route ports, which have no header
// line for a token, need client certificates, or an explicit
// --tcp-insecure; with client certificates, the command port takes the
// certificate as the credential.
func TestTCPAuthModes(t *testing.T) {
	tokens := writeFile(t, "secret-one\n")
	input := []byte("x")
	_, err := parseConfig([]string{"--auth-token-file=" + tokens, "--tcp-route=127.0.0.1:0=sha256sum"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--tls-client-ca") || !strings.Contains(err.Error(), "--tcp-insecure") {
		t.Fatalf("routes with tokens and no mTLS: %v, want a refusal naming --tls-client-ca and --tcp-insecure", err)
	}
	if _, err := parseConfig([]string{"--tcp-insecure"}, io.Discard); err == nil {
		t.Fatal("--tcp-insecure without --auth-token-file was accepted")
	}

	t.Run("tcp-insecure", func(t *testing.T) {
		d := startDaemon(t, "--auth-token-file="+tokens, "--tcp-insecure")
		if reply, err := tcpJob(t, d.tcpAddr(), nil, "sha256sum\n", input); reply != sha256Line(input) {
			t.Fatalf("TCP without a token under --tcp-insecure: %q, %v", reply, err)
		}
		if !strings.Contains(d.logs.String(), "--tcp-insecure: the raw-TCP ports serve anyone") {
			t.Errorf("no warning about --tcp-insecure:\n%s", d.logs)
		}
	})
	t.Run("mTLS", func(t *testing.T) {
		pki := newTestPKI(t)
		d := startDaemon(t, "--auth-token-file="+tokens, "--tls-cert="+pki.ServerCert, "--tls-key="+pki.ServerKey,
			"--tls-client-ca="+pki.CAFile, "--tcp-route=127.0.0.1:0=sha256sum")
		if reply, err := tcpJob(t, d.tcpAddr(), pki.ClientTLS(t, true), "sha256sum\n", input); reply != sha256Line(input) {
			t.Fatalf("TCP with a client certificate: %q, %v", reply, err)
		}
		if reply, err := tcpJob(t, d.tcpAddr(), pki.ClientTLS(t, true), "@token=wrong sha256sum\n", input); reply != errorLine("PERMISSION_DENIED", "invalid token") {
			t.Fatalf("TCP with a client certificate and a wrong token: %q, %v", reply, err)
		}
	})
}

// holdGRPC starts a Digest job and sends part of its input, leaving it
// running; finish sends the rest and returns the digest.
func holdGRPC(t *testing.T, c apiv1.ComputeServiceClient, first []byte) (finish func(rest []byte) (*apiv1.DigestResponse, error)) {
	t.Helper()
	stream, err := c.Digest(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	send := func(m *apiv1.DigestRequest) {
		if err := stream.Send(m); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Header{Header: &apiv1.DigestHeader{Algorithms: sha256Algo}}})
	send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Data{Data: first}})
	return func(rest []byte) (*apiv1.DigestResponse, error) {
		if len(rest) > 0 {
			if err := stream.Send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Data{Data: rest}}); err != nil && err != io.EOF {
				return nil, err
			}
		}
		return stream.CloseAndRecv()
	}
}

// holdTCP opens a command-port connection and sends the header and part of
// the input, leaving the job running.
func holdTCP(t *testing.T, addr, header string, first []byte) net.Conn {
	t.Helper()
	c := rawConn(t, addr, nil)
	if _, err := io.WriteString(c, header); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(first); err != nil {
		t.Fatal(err)
	}
	return c
}

// finishTCP sends rest, half-closes and reads the whole reply.
func finishTCP(t *testing.T, c net.Conn, rest []byte) (string, error) {
	t.Helper()
	if _, err := c.Write(rest); err != nil {
		return "", err
	}
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	return string(b), err
}

func TestLimitsGRPC(t *testing.T) {
	t.Run("max-input-bytes", func(t *testing.T) {
		d := startDaemon(t, "--max-input-bytes=1KiB")
		c := grpcClient(t, d.grpcAddr())
		if _, err := digest(t, c, randomBytes(t, 1024)); err != nil {
			t.Fatalf("at the limit: %v", err)
		}
		_, err := digest(t, c, randomBytes(t, 1025))
		wantCode(t, err, codes.ResourceExhausted, "input exceeds the limit of 1024 bytes")
	})
	t.Run("max-jobs", func(t *testing.T) {
		d := startDaemon(t, "--max-jobs=1", "--max-jobs-per-peer=0", "--job-wait=1ms")
		api := apiv1.NewComputeServiceClient(rawGRPC(t, d.grpcAddr(), nil))
		finish := holdGRPC(t, api, []byte("a"))
		waitMetric(t, d.httpAddr(), "halfclose_jobs_in_flight", nil, 1)
		_, err := digest(t, grpcClient(t, d.grpcAddr()), []byte("b"))
		wantCode(t, err, codes.ResourceExhausted, "too many jobs: 1 running, limit 1")
		if resp, err := finish([]byte("b")); err != nil || resp.GetDigests()[0].GetHex() != sha256Hex([]byte("ab")) {
			t.Fatalf("held job: %v, %v", resp, err)
		}
	})
	t.Run("idle-timeout", func(t *testing.T) {
		d := startDaemon(t, "--idle-timeout=100ms")
		api := apiv1.NewComputeServiceClient(rawGRPC(t, d.grpcAddr(), nil))
		stream, err := api.Digest(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		stream.Send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Header{Header: &apiv1.DigestHeader{Algorithms: sha256Algo}}})
		stream.Send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Data{Data: []byte("a")}})
		// The client sends nothing more and does not half-close: the
		// server gives up on its own.
		err = stream.RecvMsg(new(apiv1.DigestResponse))
		wantCode(t, err, codes.DeadlineExceeded, "no input for 100ms (idle timeout)")
		waitMetric(t, d.httpAddr(), "halfclose_jobs_total", map[string]string{"command": "sha256sum", "outcome": "idle"}, 1)
	})
	t.Run("max-msg-bytes", func(t *testing.T) {
		d := startDaemon(t, "--max-msg-bytes=64KiB")
		c := grpcClient(t, d.grpcAddr(), client.WithChunkSize(128<<10))
		_, err := digest(t, c, randomBytes(t, 128<<10))
		wantCode(t, err, codes.ResourceExhausted, "larger than max")
		small := grpcClient(t, d.grpcAddr(), client.WithChunkSize(32<<10))
		input := randomBytes(t, 128<<10)
		if got, err := digest(t, small, input); err != nil || got != sha256Hex(input) {
			t.Fatalf("small messages: %v", err)
		}
	})
	t.Run("rate-limit", func(t *testing.T) {
		// 0.001/s: no token comes back during the test.
		d := startDaemon(t, "--rate-limit=0.001", "--rate-burst=2")
		c := grpcClient(t, d.grpcAddr())
		for i := range 2 {
			if _, err := digest(t, c, []byte("x")); err != nil {
				t.Fatalf("call %d within the burst: %v", i, err)
			}
		}
		_, err := digest(t, c, []byte("x"))
		if s, _ := status.FromError(err); s.Code() != codes.ResourceExhausted || s.Message() != "rate limit exceeded for peer" {
			t.Fatalf("over the limit: %v", err)
		}
		// The bucket is per peer IP, shared with the TCP adapter.
		reply, _ := tcpJob(t, d.tcpAddr(), nil, "sha256sum\n", []byte("x"))
		if reply != errorLine("RESOURCE_EXHAUSTED", "rate limit exceeded for peer") {
			t.Fatalf("TCP after gRPC used the burst: %q", reply)
		}
		hr, err := healthpb.NewHealthClient(rawGRPC(t, d.grpcAddr(), nil)).Check(testCtx(t), &healthpb.HealthCheckRequest{})
		if err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health is not rate limited: %v", err)
		}
	})
}

func TestLimitsTCP(t *testing.T) {
	t.Run("max-input-bytes", func(t *testing.T) {
		d := startDaemon(t, "--max-input-bytes=1KiB")
		if reply, err := tcpJob(t, d.tcpAddr(), nil, "sha256sum\n", make([]byte, 1024)); err != nil || reply != sha256Line(make([]byte, 1024)) {
			t.Fatalf("at the limit: %q, %v", reply, err)
		}
		reply, _ := tcpJob(t, d.tcpAddr(), nil, "sha256sum\n", make([]byte, 1025))
		if reply != errorLine("RESOURCE_EXHAUSTED", "input exceeds the limit of 1024 bytes") {
			t.Fatalf("over the limit: %q", reply)
		}
	})
	t.Run("max-jobs", func(t *testing.T) {
		d := startDaemon(t, "--max-jobs=1", "--max-jobs-per-peer=0", "--job-wait=1ms")
		held := holdTCP(t, d.tcpAddr(), "sha256sum\n", []byte("a"))
		waitMetric(t, d.httpAddr(), "halfclose_jobs_in_flight", nil, 1)
		reply, _ := tcpJob(t, d.tcpAddr(), nil, "sha256sum\n", []byte("b"))
		if reply != errorLine("RESOURCE_EXHAUSTED", "too many jobs: 1 running, limit 1") {
			t.Fatalf("second job: %q", reply)
		}
		if reply, err := finishTCP(t, held, []byte("b")); err != nil || reply != sha256Line([]byte("ab")) {
			t.Fatalf("held job: %q, %v", reply, err)
		}
	})
	t.Run("max-conns", func(t *testing.T) {
		d := startDaemon(t, "--max-conns=1")
		held := holdTCP(t, d.tcpAddr(), "sha256sum\n", []byte("a"))
		waitMetric(t, d.httpAddr(), "halfclose_jobs_in_flight", nil, 1)
		reply, _ := tcpJob(t, d.tcpAddr(), nil, "sha256sum\n", []byte("b"))
		if reply != errorLine("RESOURCE_EXHAUSTED", "too many connections: limit 1") {
			t.Fatalf("second connection: %q", reply)
		}
		if reply, err := finishTCP(t, held, []byte("b")); err != nil || reply != sha256Line([]byte("ab")) {
			t.Fatalf("held job: %q, %v", reply, err)
		}
	})
	t.Run("header-timeout", func(t *testing.T) {
		d := startDaemon(t, "--header-timeout=50ms")
		c := holdTCP(t, d.tcpAddr(), "sha256", nil) // no newline: the header never ends
		b, _ := io.ReadAll(c)
		if len(b) != 0 {
			t.Fatalf("a header timeout is an abort; got %q", b)
		}
		waitMetric(t, d.httpAddr(), "halfclose_tcp_connections", nil, 0)
	})
	t.Run("idle-timeout", func(t *testing.T) {
		d := startDaemon(t, "--idle-timeout=50ms")
		c := holdTCP(t, d.tcpAddr(), "sha256sum\n", []byte("a"))
		b, _ := io.ReadAll(c)
		if len(b) != 0 {
			t.Fatalf("an idle timeout is an abort; got %q", b)
		}
		waitMetric(t, d.httpAddr(), "halfclose_jobs_total", map[string]string{"command": "sha256sum", "outcome": "idle"}, 1)
	})
	t.Run("max-header-bytes", func(t *testing.T) {
		d := startDaemon(t, "--max-header-bytes=64")
		reply, _ := tcpJob(t, d.tcpAddr(), nil, "sha256sum"+strings.Repeat(" ", 60)+"\n", []byte("x"))
		if reply != errorLine("INVALID_ARGUMENT", "header line longer than 64 bytes") {
			t.Fatalf("long header: %q", reply)
		}
	})
	t.Run("rate-limit", func(t *testing.T) {
		d := startDaemon(t, "--rate-limit=0.001", "--rate-burst=1")
		if reply, err := tcpJob(t, d.tcpAddr(), nil, "sha256sum\n", []byte("x")); err != nil || reply != sha256Line([]byte("x")) {
			t.Fatalf("within the burst: %q, %v", reply, err)
		}
		reply, _ := tcpJob(t, d.tcpAddr(), nil, "sha256sum\n", []byte("x"))
		if reply != errorLine("RESOURCE_EXHAUSTED", "rate limit exceeded for peer") {
			t.Fatalf("over the limit: %q", reply)
		}
	})
}

// TestTLSCertDatesWarned: a server certificate out of its dates at start
// is logged as a warning naming the file (every client refuses it; the
// server's log said nothing, at any level), and a valid one is not.
func TestTLSCertDatesWarned(t *testing.T) {
	pki := newTestPKI(t)
	day := 24 * time.Hour
	expired, expiredKey := pki.Issue(t, testpki.Cert{Name: "expired", Usage: x509.ExtKeyUsageServerAuth,
		NotBefore: time.Now().Add(-2 * day), NotAfter: time.Now().Add(-day), DNS: []string{"localhost"}})
	future, futureKey := pki.Issue(t, testpki.Cert{Name: "future", Usage: x509.ExtKeyUsageServerAuth,
		NotBefore: time.Now().Add(day), NotAfter: time.Now().Add(2 * day), DNS: []string{"localhost"}})
	for _, tc := range []struct {
		cert, key, want string
	}{
		{expired, expiredKey, `"level":"WARN","msg":"--tls-cert: the certificate has expired: clients will refuse it","file":"` + expired + `"`},
		{future, futureKey, `"level":"WARN","msg":"--tls-cert: the certificate is not valid yet: clients will refuse it until then","file":"` + future + `"`},
		{pki.ServerCert, pki.ServerKey, ""},
	} {
		d := startDaemon(t, "--tls-cert="+tc.cert, "--tls-key="+tc.key)
		logs := d.logs.String()
		if tc.want == "" && strings.Contains(logs, "--tls-cert: the certificate") || tc.want != "" && !strings.Contains(logs, tc.want) {
			t.Errorf("%s: want %q in the start-up log:\n%s", tc.cert, tc.want, logs)
		}
	}
}

// TestHeaderTimeoutUsage: --help says what --header-timeout bounds, the
// gRPC connection's handshake and preface too (grpc.ConnectionTimeout);
// it named only the TCP header line and a stream's first message.
func TestHeaderTimeoutUsage(t *testing.T) {
	usage := newSpec(defaultConfig()).Flags.Lookup("header-timeout").Usage
	for _, want := range []string{"TLS handshake", "TCP header line", "HTTP/2 preface", "gRPC stream's first message"} {
		if !strings.Contains(usage, want) {
			t.Errorf("--header-timeout's usage %q does not name %q", usage, want)
		}
	}
}

// TestGRPCHandshakeTimeout: a client that connects to the gRPC port and
// sends nothing, or stops inside its TLS ClientHello, is closed after
// --header-timeout, as on the raw-TCP ports (grpc-go's own default held
// it 120 s). The bound checked, the test's 30 s, is far from both.
func TestGRPCHandshakeTimeout(t *testing.T) {
	pki := newTestPKI(t)
	for _, tc := range []struct {
		name string
		args []string
		sent string
	}{
		{"plaintext, nothing", nil, ""},
		{"TLS, nothing", []string{"--tls-cert=" + pki.ServerCert, "--tls-key=" + pki.ServerKey}, ""},
		{"TLS, part of a ClientHello", []string{"--tls-cert=" + pki.ServerCert, "--tls-key=" + pki.ServerKey}, "\x16\x03\x01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startDaemon(t, append([]string{"--header-timeout=1s"}, tc.args...)...)
			c, err := net.Dial("tcp", d.grpcAddr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(defaultTestTimeout))
			if _, err := io.WriteString(c, tc.sent); err != nil {
				t.Fatal(err)
			}
			// The server's SETTINGS (plaintext) may come first; then EOF
			// or a reset, not the test's deadline.
			_, err = io.Copy(io.Discard, c)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the server still held the connection after %v: %v", defaultTestTimeout, err)
			}
		})
	}
}

// TestGRPCPeerCallOverJobsWaits: with no cap on an address's jobs
// (--max-jobs-per-peer 0, as for one client not behind a proxy) and
// --max-jobs 16, one address's call over --max-jobs waits --job-wait for
// a slot and runs when one frees, as docs/operations.md says; its share of
// --grpc-max-requests (a quarter of 64: 16, --max-jobs) refused it at
// once.
func TestGRPCPeerCallOverJobsWaits(t *testing.T) {
	const jobs = 16
	d := startDaemon(t, fmt.Sprintf("--max-jobs=%d", jobs), "--max-jobs-per-peer=0", "--job-wait=1m")
	api := apiv1.NewComputeServiceClient(rawGRPC(t, d.grpcAddr(), nil))
	var held []func([]byte) (*apiv1.DigestResponse, error)
	for range jobs {
		held = append(held, holdGRPC(t, api, []byte("a")))
	}
	waitMetric(t, d.httpAddr(), "halfclose_jobs_in_flight", nil, jobs)

	over, err := api.Digest(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		err := over.Send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Header{Header: &apiv1.DigestHeader{Algorithms: sha256Algo}}})
		if err == nil {
			err = over.Send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Data{Data: []byte("b")}})
		}
		if err != nil && err != io.EOF {
			done <- err
			return
		}
		resp, err := over.CloseAndRecv()
		if err == nil && resp.GetDigests()[0].GetHex() != sha256Hex([]byte("b")) {
			err = fmt.Errorf("digest %v, want sha256 of %q", resp.GetDigests(), "b")
		}
		done <- err
	}()
	// It waits for a slot; a refusal ends it first.
	deadline := time.Now().Add(defaultTestTimeout)
	for metricValue(scrape(t, d.httpAddr()), "halfclose_jobs_waiting", nil) != 1 {
		select {
		case err := <-done:
			t.Fatalf("call %d of an address, over --max-jobs=%d: %v before it waited", jobs+1, jobs, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("call %d of an address is not waiting for a slot", jobs+1)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if resp, err := held[0](nil); err != nil || resp.GetDigests()[0].GetHex() != sha256Hex([]byte("a")) {
		t.Fatalf("held job: %v, %v", resp, err)
	}
	if err := testenv.Recv(t, hangTimeout, "the second call's return", done); err != nil {
		t.Fatalf("call %d of an address, once a slot freed: %v", jobs+1, err)
	}
	for _, finish := range held[1:] {
		if _, err := finish(nil); err != nil {
			t.Fatal(err)
		}
	}
}
