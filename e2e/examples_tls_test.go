package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/testpki"
)

// TestExampleTLS: the example clients take the Go CLI's --tls, --cacert,
// --cert/--key and --token-file. Against a TLS server, an mTLS server
// (client certificates required) and a TLS server with tokens, Digest
// and Run print what sha256sum and sh print; a missing client
// certificate, a wrong or missing token, plaintext to a TLS port, TLS to
// a plaintext port and an untrusted server certificate are one line on
// stderr, exit 1 and no output; files that cannot be used are exit 2.
func TestExampleTLS(t *testing.T) {
	pki := testpki.New(t)
	dir := t.TempDir()
	tok := make([]byte, 16)
	rand.Read(tok)
	token := hex.EncodeToString(tok)
	tokens := writeFile(t, dir, "tokens.txt", []byte("# the e2e test's token\n\n"+token+"\n"))
	// The client reads the server's format: a byte order mark, comments,
	// blank lines and CRLF around the token.
	clientToken := writeFile(t, dir, "client-token.txt", []byte("\ufeff# mine\r\n\r\n  "+token+"  \r\n# another\r\n"))
	wrongToken := writeFile(t, dir, "wrong-token.txt", []byte("# not one of the server's\nnot-the-token\n"))
	noToken := writeFile(t, dir, "no-token.txt", []byte("# nothing but comments\n\n"))
	// Tokens halfclosed refuses in its file (no client can send them):
	// the clients crashed with a stack trace that printed the token
	// (grpc's "metadata was invalid", grpc-js's "contains illegal
	// characters"), or sent one with a space and got PERMISSION_DENIED.
	spacedToken := writeFile(t, dir, "spaced-token.txt", []byte("secret value\n"))
	nbspToken := writeFile(t, dir, "nbsp-token.txt", []byte("secret\u00a0value\n"))

	expired, expiredKey := pki.Issue(t, testpki.Cert{Name: "expired", Usage: x509.ExtKeyUsageClientAuth,
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	serverTLS := []string{"--tls-cert", pki.ServerCert, "--tls-key", pki.ServerKey}
	plain := launch(t).GRPC
	withTLS := launch(t, serverTLS...).GRPC
	mtls := launch(t, append(slices.Clone(serverTLS), "--tls-client-ca", pki.CAFile)...).GRPC
	tokened := launch(t, append(slices.Clone(serverTLS), "--auth-token-file", tokens)...).GRPC

	input := textFile(t, "tls-log", 256<<10, 12) // four of the clients' 64 KiB chunks
	const pipeline = "grep -v DEBUG | sort | uniq -c"
	wantDigest := run(t, filepath.Dir(input), "", "sha256sum", filepath.Base(input)).stdout
	wantRun := runPiped(t, "", input, "sh", "-c", pipeline)
	if len(wantDigest) == 0 || wantRun.code != 0 {
		t.Fatalf("oracles: sha256sum %q, sh exit %d: %s", wantDigest, wantRun.code, wantRun.stderr)
	}

	ca := []string{"--cacert", pki.CAFile}
	cert := []string{"--cert", pki.ClientCert, "--key", pki.ClientKey}
	cat := func(parts ...[]string) []string { return slices.Concat(parts...) }
	ok := []struct {
		name  string
		addr  string
		flags []string
	}{
		{"tls", withTLS, ca},
		{"mtls", mtls, cat(ca, cert)},
		{"token", tokened, cat(ca, []string{"--token-file", clientToken})},
	}
	failing := []struct {
		name  string
		addr  string
		flags []string
		code  int
		want  string // on stderr
		run   bool   // Run as well as Digest (each client process costs)
	}{
		{"mtls without cert", mtls, ca, 1, "UNAVAILABLE: ", true},
		// The server's alert (Node) or a failed read (Python) said
		// nothing of the certificate.
		{"mtls with an expired cert", mtls, cat(ca, []string{"--cert", expired, "--key", expiredKey}), 1, "the client certificate: is --cert signed by the CA it trusts, within its dates, for client use?)", false},
		{"wrong token", tokened, cat(ca, []string{"--token-file", wrongToken}), 1, "PERMISSION_DENIED: invalid token", true},
		{"no token", tokened, ca, 1, "UNAUTHENTICATED: missing bearer token", false},
		{"plaintext to TLS", withTLS, nil, 1, "UNAVAILABLE: halfclose gRPC port: this port speaks TLS", false},
		{"TLS to plaintext", plain, ca, 1, "UNAVAILABLE: ", false},
		{"untrusted cert", withTLS, []string{"--tls"}, 1, "UNAVAILABLE: ", false},
		{"cert without key", withTLS, cat(ca, []string{"--cert", pki.ClientCert}), 2, "--key", false},
		{"empty token file", tokened, cat(ca, []string{"--token-file", noToken}), 2, "--token-file", false},
		{"token with a space", tokened, cat(ca, []string{"--token-file", spacedToken}), 2, "--token-file " + spacedToken + ": the token contains white space", false},
		{"token not ASCII", tokened, cat(ca, []string{"--token-file", nbspToken}), 2, "--token-file " + nbspToken + ": the token contains a character that is not printable ASCII", false},
	}
	for _, lang := range exampleLangs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			client := exampleClient(t, lang)
			for _, c := range ok {
				t.Run(c.name, func(t *testing.T) {
					argv := cat(client, []string{"--addr", c.addr}, c.flags)
					got := run(t, filepath.Dir(input), "", cat(argv, []string{"digest", filepath.Base(input)})...)
					if got.code != 0 || !bytes.Equal(got.stdout, wantDigest) {
						t.Errorf("digest: exit %d, stderr %q\n%s", got.code, got.stderr, diff(got.stdout, wantDigest))
					}
					got = runPiped(t, "", input, cat(argv, []string{"run", pipeline})...)
					if got.code != 0 || !bytes.Equal(got.stdout, wantRun.stdout) || !bytes.Equal(got.stderr, wantRun.stderr) {
						t.Errorf("run: exit %d, stderr %q\n%s", got.code, got.stderr, diff(got.stdout, wantRun.stdout))
					}
				})
			}
			for _, c := range failing {
				t.Run(c.name, func(t *testing.T) {
					argv := cat(client, []string{"--addr", c.addr}, c.flags)
					calls := [][]string{{"digest", "-"}}
					if c.run {
						calls = append(calls, []string{"run", pipeline})
					}
					for _, call := range calls {
						got := runPiped(t, "", input, cat(argv, call)...)
						said := bytes.Contains(got.stderr, []byte(c.want))
						oneLine := bytes.Count(got.stderr, []byte("\n")) == 1
						if c.code == 2 {
							oneLine = true // a usage message may take more lines
						}
						if bytes.Contains(got.stderr, []byte("secret")) {
							t.Errorf("%s: stderr repeats the token: %q", call[0], got.stderr)
						}
						if got.code != c.code || !said || !oneLine || len(got.stdout) != 0 {
							t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d, no output, one line saying %q", call[0], got.code, got.stdout, got.stderr, c.code, c.want)
						}
					}
				})
			}
		})
	}
}

// TestExampleTLSDeadline: over TLS, a --timeout that expires while the
// upload goes on is DEADLINE_EXCEEDED (or CANCELLED, when grpc-go's timer
// resets the stream first: see TestExampleAbort), exit 1, no output, and
// the server computes no result. The deadline leaves the client's TLS
// start-up time to spare (on a busy machine a 1 s one passed before the
// call reached the server, which then had no call to log): the input
// never ends, so the deadline still passes mid-upload.
func TestExampleTLSDeadline(t *testing.T) {
	pki := testpki.New(t)
	for _, lang := range exampleLangs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			client := exampleClient(t, lang)
			d := launch(t, "--tls-cert", pki.ServerCert, "--tls-key", pki.ServerKey, "--metrics-addr", "127.0.0.1:0")
			seen := len(d.calls("Digest"))
			p := startFed(t, append(client, "--addr", d.GRPC, "--cacert", pki.CAFile, "--timeout", "5", "digest"), false)
			res := p.wait(t)
			said := bytes.Contains(res.stderr, []byte("DEADLINE_EXCEEDED")) || bytes.Contains(res.stderr, []byte("CANCELLED"))
			if res.code != 1 || !said || len(res.stdout) != 0 {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1, DEADLINE_EXCEEDED or CANCELLED", res.code, res.stdout, res.stderr)
			}
			rec := d.waitCall(t, "Digest", seen)
			job, _ := rec["job"].(map[string]any)
			if job["outcome"] == "ok" || rec["grpc.code"] == "OK" {
				t.Errorf("the server computed a result from partial input: %v", rec)
			}
		})
	}
}
