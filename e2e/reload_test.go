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

// newCAScript makes a second CA and a server certificate from it, for
// the rotation: a client trusting only the new CA tells which certificate
// it was served.
const newCAScript = `set -e
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
  -subj "/CN=halfclose new CA" -keyout new-ca-key.pem -out new-ca.pem
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -subj "/CN=localhost" -keyout new-server-key.pem -out new-server.csr
openssl x509 -req -in new-server.csr -CA new-ca.pem -CAkey new-ca-key.pem -CAcreateserial \
  -days 365 -extfile server.ext -out new-server.pem
`

// TestTLSCertRotationEndToEnd: the real halfclosed, its certificate and key
// replaced under it by a new pair from another CA (renamed over the old
// files, as cert-manager's Secret update does): grpcurl trusting only the
// new CA is refused before and served after, one trusting only the old CA
// the other way round, and a raw-TCP TLS job open across the rotation
// finishes with GNU's digest on its old session.
func TestTLSCertRotationEndToEnd(t *testing.T) {
	t.Parallel()
	need(t, "openssl")
	grpcurl := bin(t, "grpcurl")
	dir := t.TempDir()
	for _, script := range []string{tlsPKIScript, newCAScript} {
		if _, err := tlsRun(t, dir, nil, "bash", "-c", script); err != nil {
			t.Fatal(err)
		}
	}
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	install := func(cert, key string) {
		t.Helper()
		for _, f := range [][2]string{{key, keyFile}, {cert, certFile}} {
			b, err := os.ReadFile(filepath.Join(dir, f[0]))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f[1]+".tmp", b, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(f[1]+".tmp", f[1]); err != nil {
				t.Fatal(err)
			}
		}
	}
	install("server.pem", "server-key.pem")
	d := launch(t, "--tls-cert="+certFile, "--tls-key="+keyFile)

	// A served call's digest of "rotate" (cm90YXRl) is checked against GNU's.
	call := func(ca string) error {
		out, err := tlsRun(t, dir, nil, grpcurl, "-cacert", ca,
			"-d", `{"header":{"algorithms":["ALGORITHM_SHA256"]}} {"data":"cm90YXRl"}`, d.GRPC, "halfclose.v1.ComputeService/Digest")
		if err == nil {
			gnu, gerr := tlsRun(t, dir, []byte("rotate"), "sha256sum")
			if gerr != nil || !strings.Contains(out, `"hex": "`+strings.TrimSuffix(gnu, "  -\n")+`"`) {
				t.Fatalf("grpcurl output %q, GNU %q %v", out, gnu, gerr)
			}
		}
		return err
	}
	if err := call("ca.pem"); err != nil {
		t.Fatalf("before the rotation: %v", err)
	}
	if err := call("new-ca.pem"); err == nil {
		t.Fatal("grpcurl trusting only the new CA was served before the rotation")
	}

	// A raw-TCP TLS job under way across the rotation.
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	raw, err := net.DialTimeout("tcp", d.TCP, defaultTestTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(defaultTestTimeout))
	held := tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12})
	input := []byte(strings.Repeat("in flight across a rotation\n", 5000))
	if _, err := io.WriteString(held, "sha256sum\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := held.Write(input[:1000]); err != nil {
		t.Fatal(err)
	}

	install("new-server.pem", "new-server-key.pem")
	d.waitRecord(t, d.log.records, 0, func(r map[string]any) bool { return r["msg"] == "reloaded TLS certificate and key" })
	if err := call("new-ca.pem"); err != nil {
		t.Fatalf("grpcurl trusting the new CA after the rotation: %v", err)
	}
	if err := call("ca.pem"); err == nil {
		t.Fatal("grpcurl trusting only the old CA was served after the rotation")
	}

	if _, err := held.Write(input[1000:]); err != nil {
		t.Fatal(err)
	}
	held.CloseWrite()
	reply, err := io.ReadAll(held)
	gnu, gerr := tlsRun(t, dir, input, "sha256sum")
	if err != nil || gerr != nil || string(reply) != gnu {
		t.Fatalf("TCP TLS job across the rotation: %q, %v; GNU %q, %v", reply, err, gnu, gerr)
	}
}
