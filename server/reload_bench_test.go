package server

import (
	"bytes"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/halfclose/halfclose/internal/cputime"
	"github.com/halfclose/halfclose/internal/testpki"
)

// BenchmarkTLSHandshake is one full TLS 1.3 handshake (no resumption)
// over an in-memory pipe, both sides' CPU, with the server's config
// static (LoadServerTLS) or taking the current pair at each handshake
// (ServerTLS.Config: GetConfigForClient, one atomic load and a config).
func BenchmarkTLSHandshake(b *testing.B) {
	p := testpki.New(b)
	static, err := LoadServerTLS(p.ServerCert, p.ServerKey, "")
	if err != nil {
		b.Fatal(err)
	}
	st, err := NewServerTLS(p.ServerCert, p.ServerKey, "")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		cfg  *tls.Config
	}{{"static", static}, {"reloading", st.Config()}} {
		b.Run(bc.name, func(b *testing.B) {
			ccfg := p.ClientTLS(b, false)
			cpu0, err := cputime.Process()
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				c, s := net.Pipe()
				done := make(chan error, 1)
				go func() { done <- tls.Server(s, bc.cfg).Handshake() }()
				if err := tls.Client(c, ccfg).Handshake(); err != nil {
					b.Fatal(err)
				}
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				c.Close()
				s.Close()
			}
			cpu1, _ := cputime.Process()
			b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkReloaderCheck is one look at a TLS server's files with no
// change (what Reloader.Run does every ReloadInterval): a certificate,
// its key, a client CA and a token file of 100 tokens.
func BenchmarkReloaderCheck(b *testing.B) {
	p := testpki.New(b)
	tokens := filepath.Join(b.TempDir(), "tokens")
	if err := os.WriteFile(tokens, bytes.Repeat([]byte("0123456789abcdef0123456789abcdef\n"), 100), 0o600); err != nil {
		b.Fatal(err)
	}
	r := &Reloader{}
	none := func() ([]any, error) { return nil, nil }
	r.Watch(ReloadCert, []string{p.ServerCert, p.ServerKey}, FileStamps{}, none)
	r.Watch(ReloadClientCA, []string{p.CAFile}, FileStamps{}, none)
	r.Watch(ReloadToken, []string{tokens}, FileStamps{}, none)
	cpu0, err := cputime.Process()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if r.Check() != 0 {
			b.Fatal("a change with none made")
		}
	}
	cpu1, _ := cputime.Process()
	b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
}
