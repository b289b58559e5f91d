package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

// LoadServerTLS builds the TLS configuration shared by both adapters:
// TLS 1.2 at least, the given key pair, and, when clientCAFile is not
// empty, mutual TLS (client certificates required and verified against the
// CAs in that PEM file). Errors name the file at fault. The files are read
// once; NewServerTLS serves what they hold when they change.
func LoadServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := loadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{*cert},
	}
	if clientCAFile == "" {
		return cfg, nil
	}
	pool, err := loadClientCA(clientCAFile)
	if err != nil {
		return nil, err
	}
	cfg.ClientCAs = pool
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	return cfg, nil
}

func loadKeyPair(certFile, keyFile string) (*tls.Certificate, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("tls: both a certificate and a key file are needed")
	}
	for _, f := range []struct{ what, path string }{{"certificate", certFile}, {"key", keyFile}} {
		if _, err := os.Stat(f.path); err != nil {
			return nil, fmt.Errorf("tls: %s file: %w", f.what, err)
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: certificate %s with key %s: %w", certFile, keyFile, err)
	}
	if cert.Leaf == nil {
		// GODEBUG=x509keypairleaf=0 leaves it out; the expiry warning,
		// the reload's log line and the expiry gauge read it.
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tls: certificate %s: %w", certFile, err)
		}
	}
	return &cert, nil
}

func loadClientCA(clientCAFile string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("tls: client CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls: client CA file %s: no PEM certificate found", clientCAFile)
	}
	return pool, nil
}

// ServerTLS is the key pair and client CA both adapters serve, swapped
// whole when Reload* reads good new files: a handshake takes the ones
// current when it starts (Config's GetConfigForClient), so connections
// already open keep their session and new ones get the new certificate.
type ServerTLS struct {
	certFile, keyFile, caFile string

	cert atomic.Pointer[tls.Certificate]
	pool atomic.Pointer[x509.CertPool] // nil: no client certificates asked
}

// NewServerTLS loads the files as LoadServerTLS does, with its checks
// and messages.
func NewServerTLS(certFile, keyFile, clientCAFile string) (*ServerTLS, error) {
	s := &ServerTLS{certFile: certFile, keyFile: keyFile, caFile: clientCAFile}
	if _, err := s.ReloadCert(); err != nil {
		return nil, err
	}
	if clientCAFile != "" {
		if err := s.ReloadClientCA(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ReloadCert reads the key pair again and serves it if it is good (the
// certificate and key match); otherwise the old pair stays. It returns
// the new certificate's leaf.
func (s *ServerTLS) ReloadCert() (*x509.Certificate, error) {
	cert, err := loadKeyPair(s.certFile, s.keyFile)
	if err != nil {
		return nil, err
	}
	s.cert.Store(cert)
	return cert.Leaf, nil
}

// ReloadClientCA reads the client CA file again and asks new handshakes
// for certificates that chain to it, if it holds one; otherwise the old
// CAs stay.
func (s *ServerTLS) ReloadClientCA() error {
	pool, err := loadClientCA(s.caFile)
	if err != nil {
		return err
	}
	s.pool.Store(pool)
	return nil
}

// Files returns the certificate, key and client CA files ("" when none).
func (s *ServerTLS) Files() (cert, key, clientCA string) { return s.certFile, s.keyFile, s.caFile }

// Leaf returns the certificate served now.
func (s *ServerTLS) Leaf() *x509.Certificate {
	if s == nil {
		return nil
	}
	return s.cert.Load().Leaf
}

// NotAfter returns when the certificate served now expires.
func (s *ServerTLS) NotAfter() time.Time {
	if l := s.Leaf(); l != nil {
		return l.NotAfter
	}
	return time.Time{}
}

// Config returns a configuration for one adapter's listener: each
// handshake gets the key pair and client CA current when it starts.
// nextProtos are the adapter's ALPN protocols ("h2" for gRPC), which the
// per-handshake configuration must carry itself.
func (s *ServerTLS) Config(nextProtos ...string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: nextProtos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			// Session tickets stay the listener config's (crypto/tls
			// uses the original config's keys): a client resumes across
			// a rotation.
			c := &tls.Config{
				MinVersion:   tls.VersionTLS12,
				NextProtos:   nextProtos,
				Certificates: []tls.Certificate{*s.cert.Load()},
			}
			if pool := s.pool.Load(); pool != nil {
				c.ClientCAs = pool
				c.ClientAuth = tls.RequireAndVerifyClientCert
			}
			return c, nil
		},
	}
}
