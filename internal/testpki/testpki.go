// Package testpki makes throw-away certificates for tests: a CA, a server
// certificate for 127.0.0.1, ::1 and localhost, and a client certificate.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a throw-away CA with a server certificate for 127.0.0.1 and
// localhost and a client certificate, all written as PEM files in a
// t.TempDir().
type PKI struct {
	Dir                   string
	CAFile                string // CA certificate
	ServerCert, ServerKey string
	ClientCert, ClientKey string
	CAPool                *x509.CertPool

	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	serial int64
}

// Cert describes a certificate for Issue. Zero times mean valid from an
// hour ago for a day.
type Cert struct {
	Name      string // common name, and the files' base name
	Usage     x509.ExtKeyUsage
	NotBefore time.Time
	NotAfter  time.Time
	IPs       []net.IP
	DNS       []string
}

// Issue writes a certificate the CA signs as c describes (an expired one,
// one for the wrong name or use) and its key, and returns their files.
func (p *PKI) Issue(t testing.TB, c Cert) (certFile, keyFile string) {
	t.Helper()
	if c.NotBefore.IsZero() {
		c.NotBefore = time.Now().Add(-time.Hour)
	}
	if c.NotAfter.IsZero() {
		c.NotAfter = time.Now().Add(24 * time.Hour)
	}
	p.serial++
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      pkix.Name{CommonName: c.Name},
		NotBefore:    c.NotBefore,
		NotAfter:     c.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{c.Usage},
		IPAddresses:  c.IPs,
		DNSNames:     c.DNS,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, p.Dir, c.Name+".pem", "CERTIFICATE", der),
		writePEM(t, p.Dir, c.Name+"-key.pem", "PRIVATE KEY", keyDER)
}

// New generates a CA, a server and a client certificate in t.TempDir().
func New(t testing.TB) *PKI {
	t.Helper()
	return NewNamed(t, "halfclose test CA")
}

// NewNamed is New with a CA of that common name. Two PKIs of New share
// their CA's name, so a TLS client offers one's certificate to a server
// that asks for the other's CA (crypto/tls matches the issuer's name); a
// CA named otherwise is one the client's certificate cannot match.
func NewNamed(t testing.TB, caName string) *PKI {
	t.Helper()
	dir := t.TempDir()
	p := &PKI{Dir: dir, CAPool: x509.NewCertPool(), serial: 3}

	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: caName},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	p.CAPool.AddCert(caCert)
	p.CAFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)

	p.caCert, p.caKey = caCert, caKey
	p.ServerCert, p.ServerKey = p.Issue(t, Cert{Name: "server", Usage: x509.ExtKeyUsageServerAuth,
		IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, DNS: []string{"localhost"}})
	p.ClientCert, p.ClientKey = p.Issue(t, Cert{Name: "client", Usage: x509.ExtKeyUsageClientAuth})
	return p
}

// ClientTLS returns a client config trusting the test CA, presenting the
// client certificate when withCert is true.
func (p *PKI) ClientTLS(t testing.TB, withCert bool) *tls.Config {
	t.Helper()
	cfg := &tls.Config{RootCAs: p.CAPool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if withCert {
		c, err := tls.LoadX509KeyPair(p.ClientCert, p.ClientKey)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
