package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/client"
	"github.com/halfclose/halfclose/internal/testenv"
	"github.com/halfclose/halfclose/internal/testpki"
	"google.golang.org/grpc/codes"
)

// replaceFile writes content to path as cert-manager and editors that
// keep a file whole do: a new file renamed over the old one.
func replaceFile(t *testing.T, path string, content []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// issueServer issues a server certificate for 127.0.0.1 and localhost,
// valid until notAfter, and returns its files and serial.
func issueServer(t *testing.T, pki *testpki.PKI, name string, notAfter time.Time) (certFile, keyFile string, serial *big.Int) {
	t.Helper()
	certFile, keyFile = pki.Issue(t, testpki.Cert{Name: name, Usage: x509.ExtKeyUsageServerAuth, NotAfter: notAfter,
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, DNS: []string{"localhost"}})
	leaf, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, leaf.Leaf.SerialNumber
}

// peerSerial makes a new TLS connection to addr and returns the serial
// of the certificate the server presented.
func peerSerial(t *testing.T, addr string, cfg *tls.Config, alpn ...string) *big.Int {
	t.Helper()
	cfg = cfg.Clone()
	cfg.NextProtos = alpn
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: defaultTestTimeout}, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("handshake with %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber
}

// wantSerial checks the certificate new connections get on both adapters.
func wantSerial(t *testing.T, d *testDaemon, cfg *tls.Config, want *big.Int) {
	t.Helper()
	if got := peerSerial(t, d.grpcAddr(), cfg, "h2"); got.Cmp(want) != 0 {
		t.Fatalf("gRPC port serves serial %v, want %v", got, want)
	}
	if got := peerSerial(t, d.tcpAddr(), cfg); got.Cmp(want) != 0 {
		t.Fatalf("TCP port serves serial %v, want %v", got, want)
	}
}

// tlsPair copies a certificate and key to dir/tls.crt and dir/tls.key,
// the files the server is started on.
func tlsPair(t *testing.T, dir, certFile, keyFile string) (string, string) {
	t.Helper()
	c, k := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	replaceFile(t, c, readFile(t, certFile))
	replaceFile(t, k, readFile(t, keyFile))
	return c, k
}

// TestReloadCertRotation: a certificate and key replaced under a running
// server are served to new connections on both adapters (the reload
// driven by the test, not waited for), while a gRPC stream and a TCP TLS
// job open across the swap finish with their digests; the reload is
// logged at INFO once, counted, and the expiry gauge follows.
func TestReloadCertRotation(t *testing.T) {
	pki := newTestPKI(t)
	day := 24 * time.Hour
	oldCert, oldKey, oldSerial := issueServer(t, pki, "old", time.Now().Add(day))
	newCert, newKey, newSerial := issueServer(t, pki, "new", time.Now().Add(3*day).Truncate(time.Second))
	certFile, keyFile := tlsPair(t, t.TempDir(), oldCert, oldKey)
	d := startDaemon(t, "--tls-cert="+certFile, "--tls-key="+keyFile)
	clientTLS := pki.ClientTLS(t, false)
	wantSerial(t, d, clientTLS, oldSerial)

	input := randomBytes(t, 256<<10)
	cc := rawGRPC(t, d.grpcAddr(), clientTLS)
	finishGRPC := holdGRPC(t, apiv1.NewComputeServiceClient(cc), input[:1000])
	held := rawConn(t, d.tcpAddr(), clientTLS)
	if _, err := io.WriteString(held, "sha256sum\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := held.Write(input[:1000]); err != nil {
		t.Fatal(err)
	}

	replaceFile(t, keyFile, readFile(t, newKey))
	replaceFile(t, certFile, readFile(t, newCert))
	d.reloader.Check()
	wantSerial(t, d, clientTLS, newSerial)

	resp, err := finishGRPC(input[1000:])
	if err != nil || resp.GetDigests()[0].GetHex() != sha256Hex(input) {
		t.Fatalf("gRPC stream open across the rotation: %v, %v", resp, err)
	}
	if _, err := held.Write(input[1000:]); err != nil {
		t.Fatal(err)
	}
	held.(*tls.Conn).CloseWrite()
	if reply, err := io.ReadAll(held); err != nil || string(reply) != sha256Line(input) {
		t.Fatalf("TCP TLS job open across the rotation: %q, %v", reply, err)
	}
	if got := held.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(oldSerial) != 0 {
		t.Fatalf("held connection's certificate serial %v, want the old %v", got, oldSerial)
	}

	// The new certificate works for calls, not just handshakes.
	c := grpcClient(t, d.grpcAddr(), client.WithTLS(clientTLS))
	if got, err := digest(t, c, input); err != nil || got != sha256Hex(input) {
		t.Fatalf("gRPC after the rotation: %q, %v", got, err)
	}
	if n := strings.Count(d.logs.String(), `"msg":"reloaded TLS certificate and key"`); n != 1 {
		t.Errorf("%d INFO lines for the reload, want 1:\n%s", n, d.logs)
	}
	// The line's serial is the one openssl shows for the new certificate
	// (docs/operations.md compares the two): upper-case hex, a byte's two
	// digits ("05"), not big.Int's decimal ("5").
	out, err := exec.Command(testenv.Tool(t, "openssl"), "x509", "-noout", "-serial", "-in", newCert).Output()
	if err != nil {
		t.Fatalf("openssl x509 -serial: %v", err)
	}
	want := `"serial":"` + strings.TrimPrefix(strings.TrimSpace(string(out)), "serial=") + `"`
	if m := regexp.MustCompile(`"msg":"reloaded TLS certificate and key".*?"serial":"[^"]*"`).FindString(d.logs.String()); !strings.HasSuffix(m, want) {
		t.Errorf("the reload's line says %q, want %s as openssl x509 -serial", m, want)
	}
	fams := scrape(t, d.httpAddr())
	if v := metricValue(fams, "halfclose_reloads_total", map[string]string{"file": "cert", "result": "ok"}); v != 1 {
		t.Errorf("halfclose_reloads_total{file=cert,result=ok} = %v, want 1", v)
	}
	leaf, _ := tls.LoadX509KeyPair(newCert, newKey)
	if v := metricValue(fams, "halfclose_tls_cert_not_after_seconds", nil); v != float64(leaf.Leaf.NotAfter.Unix()) {
		t.Errorf("halfclose_tls_cert_not_after_seconds = %v, want %v", v, leaf.Leaf.NotAfter.Unix())
	}
}

// TestReloadHalfWritten: a rotation seen half done (the key replaced, the
// certificate not yet) keeps the old pair served, is logged once as a
// warning naming the files however often the files are looked at, and
// the complete pair is picked up when the certificate follows.
func TestReloadHalfWritten(t *testing.T) {
	pki := newTestPKI(t)
	oldCert, oldKey, oldSerial := issueServer(t, pki, "old", time.Time{})
	newCert, newKey, newSerial := issueServer(t, pki, "new", time.Time{})
	certFile, keyFile := tlsPair(t, t.TempDir(), oldCert, oldKey)
	d := startDaemon(t, "--tls-cert="+certFile, "--tls-key="+keyFile)
	clientTLS := pki.ClientTLS(t, false)

	replaceFile(t, keyFile, readFile(t, newKey))
	for range 3 {
		d.reloader.Check()
	}
	wantSerial(t, d, clientTLS, oldSerial)
	logs := d.logs.String()
	if n := strings.Count(logs, `"level":"WARN","msg":"reload failed: still serving the previous TLS certificate and key"`); n != 1 {
		t.Fatalf("%d warnings for the half-written pair, want 1:\n%s", n, logs)
	}
	if !strings.Contains(logs, "private key does not match public key") || !strings.Contains(logs, `"file":"`+certFile+","+keyFile+`"`) {
		t.Fatalf("the warning names neither the files nor the problem:\n%s", logs)
	}
	// An empty certificate (a write caught at its start): still the old.
	replaceFile(t, certFile, nil)
	d.reloader.Check()
	wantSerial(t, d, clientTLS, oldSerial)

	replaceFile(t, certFile, readFile(t, newCert))
	d.reloader.Check()
	wantSerial(t, d, clientTLS, newSerial)
	fams := scrape(t, d.httpAddr())
	if v := metricValue(fams, "halfclose_reloads_total", map[string]string{"file": "cert", "result": "error"}); v != 2 {
		t.Errorf("halfclose_reloads_total{file=cert,result=error} = %v, want 2", v)
	}
}

// TestReloadSymlinkSwap: a Kubernetes Secret volume updates by pointing
// its ..data symlink at a new directory (tls.crt -> ..data/tls.crt): the
// files the server names never change, what they resolve to does.
func TestReloadSymlinkSwap(t *testing.T) {
	pki := newTestPKI(t)
	oldCert, oldKey, oldSerial := issueServer(t, pki, "old", time.Time{})
	newCert, newKey, newSerial := issueServer(t, pki, "new", time.Time{})
	vol := t.TempDir()
	version := func(name, cert, key string) {
		dir := filepath.Join(vol, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		tlsPair(t, dir, cert, key)
		if err := os.Symlink(name, filepath.Join(vol, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(vol, "..data_tmp"), filepath.Join(vol, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..2026_12_05_01_00_00.1", oldCert, oldKey)
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := os.Symlink(filepath.Join("..data", f), filepath.Join(vol, f)); err != nil {
			t.Fatal(err)
		}
	}
	certFile, keyFile := filepath.Join(vol, "tls.crt"), filepath.Join(vol, "tls.key")
	d := startDaemon(t, "--tls-cert="+certFile, "--tls-key="+keyFile)
	clientTLS := pki.ClientTLS(t, false)
	wantSerial(t, d, clientTLS, oldSerial)

	version("..2026_12_05_02_00_00.2", newCert, newKey)
	if err := os.RemoveAll(filepath.Join(vol, "..2026_12_05_01_00_00.1")); err != nil {
		t.Fatal(err)
	}
	d.reloader.Check()
	wantSerial(t, d, clientTLS, newSerial)
}

// TestReloadTokens: a token added to --auth-token-file is accepted, and
// one removed refused, on gRPC and the TCP command port, once the change
// is seen; a token file emptied keeps the tokens it had.
func TestReloadTokens(t *testing.T) {
	tokens := filepath.Join(t.TempDir(), "tokens")
	replaceFile(t, tokens, []byte("alpha\n"))
	d := startDaemon(t, "--auth-token-file="+tokens)
	input := []byte("tokens\n")
	call := func(tok string) error {
		_, err := digest(t, grpcClient(t, d.grpcAddr(), client.WithToken(tok)), input)
		return err
	}
	tcp := func(tok string) string {
		reply, _ := tcpJob(t, d.tcpAddr(), nil, "@token="+tok+" sha256sum\n", input)
		return reply
	}
	denied := errorLine("PERMISSION_DENIED", "invalid token")
	if err := call("beta"); err == nil {
		t.Fatal("beta accepted before it was added")
	}
	if got := tcp("beta"); got != denied {
		t.Fatalf("TCP beta before it was added: %q", got)
	}

	replaceFile(t, tokens, []byte("# rotation\nalpha\nbeta\n"))
	d.reloader.Check()
	if err := call("beta"); err != nil {
		t.Fatalf("beta after it was added: %v", err)
	}
	if got := tcp("beta"); got != sha256Line(input) {
		t.Fatalf("TCP beta after it was added: %q", got)
	}

	replaceFile(t, tokens, []byte("beta\n"))
	d.reloader.Check()
	wantCode(t, call("alpha"), codes.PermissionDenied, "invalid token")
	if got := tcp("alpha"); got != denied {
		t.Fatalf("TCP alpha after it was removed: %q", got)
	}

	// Emptied (a write caught at its start, a mistake): beta still works.
	replaceFile(t, tokens, nil)
	d.reloader.Check()
	if err := call("beta"); err != nil {
		t.Fatalf("beta after the file was emptied: %v", err)
	}
	if !strings.Contains(d.logs.String(), "auth token file "+tokens+": no tokens") {
		t.Fatalf("no warning naming the empty token file:\n%s", d.logs)
	}

	// Deleted (a mistake, a volume being swapped): beta still works, on
	// both adapters; the file put back is served.
	if err := os.Remove(tokens); err != nil {
		t.Fatal(err)
	}
	d.reloader.Check()
	if err := call("beta"); err != nil {
		t.Fatalf("beta after the file was deleted: %v", err)
	}
	if got := tcp("beta"); got != sha256Line(input) {
		t.Fatalf("TCP beta after the file was deleted: %q", got)
	}
	if !strings.Contains(d.logs.String(), "no such file or directory") {
		t.Fatalf("no warning for the deleted token file:\n%s", d.logs)
	}
	replaceFile(t, tokens, []byte("gamma\n"))
	d.reloader.Check()
	if err := call("gamma"); err != nil {
		t.Fatalf("gamma after the file was put back: %v", err)
	}
	wantCode(t, call("beta"), codes.PermissionDenied, "invalid token")
}

// TestReloadTokensSameSizeAndTime: a token file rewritten in place with
// a token of the same length, its modification time kept (a write within
// the file system's timestamp granularity of the last look, a copy that
// keeps the time), is served at the next look: the new token accepted,
// the old one refused. Its stat, the same, left the old token served.
func TestReloadTokensSameSizeAndTime(t *testing.T) {
	tokens := filepath.Join(t.TempDir(), "tokens")
	replaceFile(t, tokens, []byte("alpha\n"))
	before, err := os.Stat(tokens)
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--auth-token-file="+tokens)
	input := []byte("tokens\n")
	call := func(tok string) error {
		_, err := digest(t, grpcClient(t, d.grpcAddr(), client.WithToken(tok)), input)
		return err
	}
	if err := call("alpha"); err != nil {
		t.Fatalf("alpha at start: %v", err)
	}
	if err := os.WriteFile(tokens, []byte("gamma\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tokens, before.ModTime(), before.ModTime()); err != nil {
		t.Fatal(err)
	}
	if after, err := os.Stat(tokens); err != nil || !os.SameFile(before, after) || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		t.Fatalf("the rewrite changed the stat (%v): %v, was %v", err, after, before)
	}
	d.reloader.Check()
	if err := call("gamma"); err != nil {
		t.Fatalf("gamma after the rewrite: %v", err)
	}
	wantCode(t, call("alpha"), codes.PermissionDenied, "invalid token")
}

// TestReloadTokensPipe: a token file given as a pipe, as a process
// substitution gives it (--auth-token-file=<(vault read ...): /dev/fd/N),
// is read once, at start, and its tokens served while the looks go on: a
// look read the pipe before the first load, which found it empty, and
// the server did not start ("auth token file /dev/fd/N: no tokens").
func TestReloadTokensPipe(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	if _, err := pw.WriteString("alpha\n"); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	d := startDaemon(t, fmt.Sprintf("--auth-token-file=/dev/fd/%d", pr.Fd()))
	for i := range 2 {
		if _, err := digest(t, grpcClient(t, d.grpcAddr(), client.WithToken("alpha")), []byte("pipe\n")); err != nil {
			t.Fatalf("alpha after %d looks: %v", i, err)
		}
		if n := d.reloader.Check(); n != 0 {
			t.Fatalf("%d reloads of a pipe nobody wrote to", n)
		}
	}
}

// TestReloadClientCA: a client CA file replaced under a running server
// (a CA rotation) decides which client certificates new handshakes take.
func TestReloadClientCA(t *testing.T) {
	pki := newTestPKI(t)
	other := testpki.NewNamed(t, "halfclose other CA")
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	replaceFile(t, caFile, readFile(t, pki.CAFile))
	d := startDaemon(t, "--tls-cert="+pki.ServerCert, "--tls-key="+pki.ServerKey, "--tls-client-ca="+caFile)
	// A client with the other CA's certificate, trusting the server's CA.
	stranger := pki.ClientTLS(t, false)
	c, err := tls.LoadX509KeyPair(other.ClientCert, other.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	stranger.Certificates = []tls.Certificate{c}
	input := []byte("ca\n")
	if reply, _ := tcpJob(t, d.tcpAddr(), stranger, "sha256sum\n", input); reply == sha256Line(input) {
		t.Fatal("a client certificate of another CA was accepted")
	}
	// A client of the old CA that keeps its sessions: it may not resume
	// one after the CA changed (crypto/tls declines a session whose chain
	// the new CA does not verify: CVE-2025-68121, fixed in Go 1.26.0).
	resumer := pki.ClientTLS(t, true)
	resumer.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	for i := range 2 {
		c := rawConn(t, d.tcpAddr(), resumer)
		if resumed := c.(*tls.Conn).ConnectionState().DidResume; resumed != (i == 1) {
			t.Fatalf("connection %d: resumed %v", i, resumed)
		}
		io.WriteString(c, "sha256sum\n")
		c.(*tls.Conn).CloseWrite()
		if reply, err := io.ReadAll(c); string(reply) != sha256Line(nil) {
			t.Fatalf("old CA's client before the rotation: %q, %v", reply, err)
		}
	}

	replaceFile(t, caFile, readFile(t, other.CAFile))
	d.reloader.Check()
	if reply, _ := tcpJob(t, d.tcpAddr(), resumer, "sha256sum\n", nil); reply == sha256Line(nil) {
		t.Fatal("the old CA's client resumed its session after the CA rotation")
	}
	if reply, err := tcpJob(t, d.tcpAddr(), stranger, "sha256sum\n", input); reply != sha256Line(input) {
		t.Fatalf("after the CA rotation: %q, %v", reply, err)
	}
	if got, err := digest(t, grpcClient(t, d.grpcAddr(), client.WithTLS(stranger)), input); err != nil || got != sha256Hex(input) {
		t.Fatalf("gRPC after the CA rotation: %q, %v", got, err)
	}
}

// TestReloadCertLeafGodebug: with GODEBUG=x509keypairleaf=0 (Go 1.22's
// behaviour, which crypto/tls still offers) tls.LoadX509KeyPair leaves
// Leaf nil. A reload then took the process down (a nil dereference in
// the reload goroutine: the serial it logs), and the expiry gauge read 0.
func TestReloadCertLeafGodebug(t *testing.T) {
	pki := newTestPKI(t)
	day := 24 * time.Hour
	// The expiries are fixed once: a time.Now() read again for the
	// check could fall in the next second.
	oldEnd, newEnd := time.Now().Add(day).Truncate(time.Second), time.Now().Add(3*day).Truncate(time.Second)
	oldCert, oldKey, oldSerial := issueServer(t, pki, "old", oldEnd)
	newCert, newKey, newSerial := issueServer(t, pki, "new", newEnd)
	certFile, keyFile := tlsPair(t, t.TempDir(), oldCert, oldKey)
	t.Setenv("GODEBUG", "x509keypairleaf=0")
	if c, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil || c.Leaf != nil {
		t.Skipf("GODEBUG=x509keypairleaf=0 not in effect (leaf %v, %v)", c.Leaf != nil, err)
	}
	d := startDaemon(t, "--tls-cert="+certFile, "--tls-key="+keyFile)
	clientTLS := pki.ClientTLS(t, false)
	wantSerial(t, d, clientTLS, oldSerial)
	notAfter := func() float64 {
		return metricValue(scrape(t, d.httpAddr()), "halfclose_tls_cert_not_after_seconds", nil)
	}
	if got, want := notAfter(), float64(oldEnd.Unix()); got != want {
		t.Errorf("halfclose_tls_cert_not_after_seconds = %v before the rotation, want %v", got, want)
	}

	replaceFile(t, keyFile, readFile(t, newKey))
	replaceFile(t, certFile, readFile(t, newCert))
	d.reloader.Check()
	wantSerial(t, d, clientTLS, newSerial)
	if !strings.Contains(d.logs.String(), fmt.Sprintf(`"serial":"%02X"`, newSerial)) {
		t.Errorf("no INFO line with the new serial:\n%s", d.logs)
	}
	if got, want := notAfter(), float64(newEnd.Unix()); got != want {
		t.Errorf("halfclose_tls_cert_not_after_seconds = %v after the rotation, want %v", got, want)
	}
}

// TestOpensslSerial: the reload line's serial is spelt as openssl x509
// -noout -serial spells it for serials the rotation tests' small ones do
// not reach: an odd number of hex digits (0x100: "0100", not "100"), a
// high bit (0x80), zero, 20 bytes, and negative ones (which Go loads only
// with GODEBUG=x509negativeserial=1). openssl makes each certificate.
func TestOpensslSerial(t *testing.T) {
	openssl := testenv.Tool(t, "openssl")
	t.Setenv("GODEBUG", "x509negativeserial=1")
	dir := t.TempDir()
	key := filepath.Join(dir, "key.pem")
	if out, err := exec.Command(openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key).CombinedOutput(); err != nil {
		t.Fatalf("openssl genpkey: %v\n%s", err, out)
	}
	for i, serial := range []string{"0", "1", "127", "128", "255", "256", "0xabc", "0x0a0b0c",
		"0xff00000000000000000000000000000000000001", "-1", "-128", "-129", "-256"} {
		crt := filepath.Join(dir, fmt.Sprintf("%d.pem", i))
		if out, err := exec.Command(openssl, "req", "-x509", "-new", "-key", key, "-subj", "/CN=serial",
			"-days", "1", "-set_serial", serial, "-out", crt).CombinedOutput(); err != nil {
			t.Fatalf("openssl req -set_serial %s: %v\n%s", serial, err, out)
		}
		out, err := exec.Command(openssl, "x509", "-noout", "-serial", "-in", crt).Output()
		if err != nil {
			t.Fatalf("openssl x509 -serial (%s): %v", serial, err)
		}
		want := strings.TrimPrefix(strings.TrimSpace(string(out)), "serial=")
		block, _ := pem.Decode(readFile(t, crt))
		if block == nil {
			t.Fatalf("%s: no PEM block", crt)
		}
		leaf, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("serial %s: %v", serial, err)
		}
		if got := opensslSerial(leaf.SerialNumber); got != want {
			t.Errorf("serial %s: %q, want openssl's %q", serial, got, want)
		}
	}
}
