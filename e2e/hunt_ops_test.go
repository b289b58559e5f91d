package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHuntOpsTLS: a TLS, mTLS and token server as careless clients meet
// it: plaintext clients on its raw-TCP ports, the CLI in plaintext or
// with another CA's certificate, the server's own token file (a comment,
// CRLF) given to the CLI, and sizes declared over --max-input-bytes.
func TestHuntOpsTLS(t *testing.T) {
	t.Parallel()
	need(t, "openssl")
	cli := bin(t, "halfclose")
	grpcurl := bin(t, "grpcurl")
	dir, other := t.TempDir(), t.TempDir()
	for _, d := range []string{dir, other} {
		if _, err := tlsRun(t, d, nil, "bash", "-c", tlsPKIScript); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := os.ReadFile(filepath.Join(dir, "tokens.txt"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))
	// The server's format: comments, blank lines, CRLF, and the byte
	// order mark a Windows editor writes.
	tokens := writeFile(t, dir, "tokens-ops.txt", []byte("\ufeff# ops team\r\n\r\n"+token+"\r\n"))
	p := func(name string) string { return filepath.Join(dir, name) }
	// --idle-timeout bounds how long an old server kept a client waiting
	// for input it had refused to take.
	d := launch(t, "--tls-cert="+p("server.pem"), "--tls-key="+p("server-key.pem"), "--tls-client-ca="+p("ca.pem"),
		"--auth-token-file="+tokens, "--tcp-route=127.0.0.1:0=sha256sum", "--max-input-bytes=1000", "--idle-timeout=3s")

	input := []byte("hello\n")
	gnu, err := tlsRun(t, dir, input, "sha256sum")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("plaintext-on-tls-ports", func(t *testing.T) {
		want := "halfclose: error: INVALID_ARGUMENT: this port speaks TLS: connect with TLS (socat OPENSSL:, halfclose --tls or --cacert)\n"
		for _, tc := range []struct{ addr, send string }{
			{d.TCP, "sha256sum\nhello\n"},
			{d.Routes["sha256sum"], "hello\n"},
		} {
			c, err := net.DialTimeout("tcp", tc.addr, defaultTestTimeout)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(defaultTestTimeout))
			io.WriteString(c, tc.send)
			c.(*net.TCPConn).CloseWrite()
			got, err := io.ReadAll(c)
			c.Close()
			if string(got) != want {
				t.Errorf("plaintext %q to %s: %q, %v; want %q", tc.send, tc.addr, got, err, want)
			}
		}
	})
	t.Run("cli-token-file-as-the-server's", func(t *testing.T) {
		out, err := tlsRun(t, dir, input, cli, "--addr", d.GRPC, "--cacert", "ca.pem", "--cert", "client.pem", "--key", "client-key.pem",
			"--token-file", tokens, "sha256sum")
		if err != nil || out != gnu {
			t.Errorf("halfclose --token-file (comment, CRLF): %q, %v; GNU %q", out, err, gnu)
		}
	})
	t.Run("plaintext-grpc-on-tls-port", func(t *testing.T) {
		// Answered in HTTP/2: a status, not "EOF" or "Socket closed".
		const want = "UNAVAILABLE: halfclose gRPC port: this port speaks TLS; connect with TLS (grpcurl without -plaintext, halfclose --tls or --cacert)"
		_, err := tlsRun(t, dir, input, cli, "--addr", d.GRPC, "sha256sum")
		if err == nil || !strings.Contains(err.Error(), "halfclose: "+want+"\n") {
			t.Errorf("halfclose in plaintext to a TLS port: %v", err)
		}
		_, err = tlsRun(t, dir, nil, grpcurl, "-plaintext", d.GRPC, "list")
		if err == nil || !strings.Contains(err.Error(), "code = Unavailable desc = halfclose gRPC port: this port speaks TLS") {
			t.Errorf("grpcurl -plaintext list: %v", err)
		}
	})
	t.Run("cli-other-ca", func(t *testing.T) {
		_, err := tlsRun(t, dir, input, cli, "--addr", d.GRPC, "--cacert", "ca.pem",
			"--cert", filepath.Join(other, "client.pem"), "--key", filepath.Join(other, "client-key.pem"), "sha256sum")
		// The server's alert (which names the certificate), or (TLS
		// 1.3: the client's side of the handshake is over before the
		// server checks the certificate) a connection closed under the
		// client's writes (a question about it).
		if err == nil || !strings.Contains(err.Error(), "is --cert signed by the CA the server trusts?") && !strings.Contains(err.Error(), "client.pem is not signed by a CA the server trusts") {
			t.Errorf("halfclose with another CA's certificate: %v", err)
		}
	})
	t.Run("declared-size-over-limit", func(t *testing.T) {
		// Refused at once, the input never sent: the client still holds
		// its half open.
		cfg := mtlsConfig(t, dir)
		c, err := tls.Dial("tcp", d.TCP, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(defaultTestTimeout))
		io.WriteString(c, "@size=5000 sha256sum\n")
		got, err := io.ReadAll(c)
		want := "halfclose: error: RESOURCE_EXHAUSTED: input exceeds the limit of 1000 bytes: 5000 declared\n"
		if string(got) != want {
			t.Errorf("@size=5000: %q, %v; want %q", got, err, want)
		}
		mtls := []string{"-cacert", "ca.pem", "-cert", "client.pem", "-key", "client-key.pem", "-H", "authorization: Bearer " + token}
		for _, call := range [][2]string{
			{"Digest", `{"header":{"algorithms":["ALGORITHM_SHA256"],"expected_size":5000}}`},
			{"Run", `{"header":{"pipeline":"wc -c","expected_size":1001}}`},
		} {
			_, err := tlsRun(t, dir, nil, grpcurl, append(mtls, "-d", call[1], d.GRPC, "halfclose.v1.ComputeService/"+call[0])...)
			if err == nil || !strings.Contains(err.Error(), "ResourceExhausted") || !strings.Contains(err.Error(), "input exceeds the limit of 1000 bytes") {
				t.Errorf("%s %s: %v", call[0], call[1], err)
			}
		}
		// At the limit, the size is fine (and then not met: DATA_LOSS).
		_, err = tlsRun(t, dir, nil, grpcurl, append(mtls, "-d", `{"header":{"pipeline":"wc -c","expected_size":1000}}`, d.GRPC, "halfclose.v1.ComputeService/Run")...)
		if err == nil || !strings.Contains(err.Error(), "DataLoss") {
			t.Errorf("expected_size 1000 with no input: %v", err)
		}
	})
}

// mtlsConfig is a client's TLS config with the client certificate made
// by tlsPKIScript in dir.
func mtlsConfig(t *testing.T, dir string) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: "127.0.0.1"}
}
