//go:build fleet && linux

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/internal/testpki"
)

// TestFleetTLS: TLS and mTLS end to end through each shipped proxy,
// edited as docs/deploy.md ("TLS through the proxies") says: the proxy
// terminates the clients' gRPC TLS and speaks TLS again to replicas that
// require client certificates (nginx grpcs://, HAProxy "ssl ... alpn
// h2"), and passes the raw-TCP port's TLS through untouched. Checked:
//
//   - every path against GNU sha256sum: the CLI over gRPC and --tcp, and
//     socat's bare TLS header line, whose end is its close_notify; and,
//     for nginx, that the trap docs/deploy.md names is real (the stream
//     module's proxy_ssl: socat's bare job DATA_LOSS);
//   - a client's deadline (the CLI, the Python and Node examples, with an
//     upload that stalls) ends in DEADLINE_EXCEEDED with no output, and
//     reaches no replica as a deadline of its own (grpc-timeout not
//     passed on: the replica's reset at its deadline was nginx's 502 and
//     HAProxy's REFUSED_STREAM, UNAVAILABLE in grpcio and grpc-js);
//   - a rotation of the replicas' certificate and a reload of the proxy
//     with a new one, while a gRPC and a raw-TCP call are open: both
//     finish with the right digest, new handshakes get the new
//     certificates; then a bad pair for each (a key of another
//     certificate): the replicas log that they keep the previous pair, the
//     proxy refuses its reload, and calls go on.
func TestFleetTLS(t *testing.T) {
	t.Parallel() // with the other waiting fleet tests (fleet_test.go)
	need(t, "socat")
	knobs := readFleetKnobs(t)
	for _, name := range knobs.proxies {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			need(t, name)
			fleetTLS(t, name, knobs)
		})
	}
}

func fleetTLS(t *testing.T, name string, knobs fleetKnobs) {
	pki := testpki.New(t)
	// The proxy's address, chosen first: the certificates name it (the
	// raw-TCP port's clients see the replicas' certificate).
	host, _, _ := net.SplitHostPort(ownAddrs(t, 1)[0])
	ip := net.ParseIP(host)
	issue := func(n string, usage x509.ExtKeyUsage) (string, string) {
		return pki.Issue(t, testpki.Cert{Name: n, Usage: usage, IPs: []net.IP{ip, net.ParseIP("127.0.0.1")}, DNS: []string{"localhost"}})
	}
	dir := t.TempDir()
	// Served from paths a rotation renames new files over, as
	// Kubernetes and cert-manager do.
	put := func(dst, src string) {
		t.Helper()
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, filepath.Base(dst)+".new", b)
		if err := os.Rename(dst+".new", dst); err != nil {
			t.Fatal(err)
		}
	}
	combine := func(dst, cert, key string) {
		t.Helper()
		var b []byte
		for _, f := range []string{cert, key} {
			c, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, c...)
		}
		writeFile(t, dir, filepath.Base(dst)+".new", b)
		if err := os.Rename(dst+".new", dst); err != nil {
			t.Fatal(err)
		}
	}
	replicaCert, replicaKey := filepath.Join(dir, "replica.crt"), filepath.Join(dir, "replica.key")
	proxyCert, proxyKey := filepath.Join(dir, "proxy.crt"), filepath.Join(dir, "proxy.key")
	proxyPEM := filepath.Join(dir, "proxy.pem")       // HAProxy's crt: certificate and key
	upstreamPEM := filepath.Join(dir, "upstream.pem") // the proxy's client certificate, for HAProxy
	c1, k1 := issue("replica1", x509.ExtKeyUsageServerAuth)
	put(replicaCert, c1)
	put(replicaKey, k1)
	p1, pk1 := issue("proxy1", x509.ExtKeyUsageServerAuth)
	put(proxyCert, p1)
	put(proxyKey, pk1)
	combine(proxyPEM, p1, pk1)
	combine(upstreamPEM, pki.ClientCert, pki.ClientKey)

	f := newFleetArgs(t, knobs.drainDelay, "--tls-cert", replicaCert, "--tls-key", replicaKey, "--tls-client-ca", pki.CAFile)
	f.proxyHost = host
	p := f.startProxy(t, name, func(t *testing.T, cfg string) string {
		return tlsProxyConfig(t, name, cfg, pki, proxyCert, proxyKey, proxyPEM, upstreamPEM)
	})
	creds := []string{"--cacert", pki.CAFile, "--cert", pki.ClientCert, "--key", pki.ClientKey}
	in := randomFile(t, 3<<20)
	want := string(gnu(t, in, "sha256sum"))

	digestCalls := func(t *testing.T) {
		t.Helper()
		before := f.outcomes()
		// Each job's line read before the next test counts outcomes
		// (deadline): a replica logs the job as its client exits, and its
		// "ok" read late was one of the deadline's calls.
		defer f.waitJobsLogged(t, before, 3)
		if r := cli(t, p.grpc, in, append(creds, "sha256sum")...); r.code != 0 || string(r.stdout) != want {
			t.Errorf("CLI over gRPC: exit %d, %q %s; want %q", r.code, r.stdout, r.stderr, want)
		}
		if r := cli(t, "", in, append(creds, "--tcp", "--tcp-addr", p.tcp, "sha256sum")...); r.code != 0 || string(r.stdout) != want {
			t.Errorf("CLI --tcp: exit %d, %q %s; want %q", r.code, r.stdout, r.stderr, want)
		}
		r := run(t, "", "", "sh", "-c", `(echo sha256sum; cat "$1") | socat -t 30 - "OPENSSL:$2,cafile=$3,cert=$4,key=$5"`,
			"sh", in, p.tcp, pki.CAFile, pki.ClientCert, pki.ClientKey)
		if r.code != 0 || string(r.stdout) != want {
			t.Errorf("socat over TLS: exit %d, %q %s; want %q", r.code, r.stdout, r.stderr, want)
		}
	}
	t.Run("paths", digestCalls)

	if name == "nginx" {
		// The trap (docs/deploy.md): nginx's stream module speaking TLS
		// to the replicas (proxy_ssl) passes the client's close_notify on
		// as a bare FIN (proxy_half_close shuts the socket, with no
		// close_notify of its own), which a TLS replica takes for a cut
		// connection: a bare header line is DATA_LOSS, every time; the
		// CLI's @chunked proves its end and gets through.
		t.Run("trap-stream-proxy-ssl", func(t *testing.T) {
			q := f.startProxy(t, name, func(t *testing.T, cfg string) string {
				cfg = tlsProxyConfig(t, name, cfg, pki, proxyCert, proxyKey, proxyPEM, upstreamPEM)
				listen := regexp.MustCompile(`(?m)^        listen (\S+);$`).FindStringSubmatch(cfg)
				if listen == nil {
					t.Fatalf("no stream listen line in nginx.conf:\n%s", cfg)
				}
				cfg = replaceOnce(t, cfg, listen[0], fmt.Sprintf("        listen %s ssl;\n        ssl_certificate %s;\n        ssl_certificate_key %s;", listen[1], proxyCert, proxyKey))
				return replaceOnce(t, cfg, "proxy_pass halfclose_tcp;", fmt.Sprintf(`proxy_pass halfclose_tcp;
        proxy_ssl on;
        proxy_ssl_verify on;
        proxy_ssl_trusted_certificate %s;
        proxy_ssl_name localhost;
        proxy_ssl_certificate %s;
        proxy_ssl_certificate_key %s;`, pki.CAFile, pki.ClientCert, pki.ClientKey))
			})
			before := f.outcomes()
			defer f.waitJobsLogged(t, before, 2) // as digestCalls
			r := run(t, "", "", "sh", "-c", `(echo sha256sum; cat "$1") | socat -t 30 - "OPENSSL:$2,cafile=$3,cert=$4,key=$5"`,
				"sh", in, q.tcp, pki.CAFile, pki.ClientCert, pki.ClientKey)
			if line := "halfclose: error: DATA_LOSS: input ended without TLS close_notify"; !strings.HasPrefix(string(r.stdout), line) {
				t.Errorf("socat through nginx's proxy_ssl: exit %d, %q %s; want %q...", r.code, r.stdout, r.stderr, line)
			}
			if r := cli(t, "", in, append(creds, "--tcp", "--tcp-addr", q.tcp, "sha256sum")...); r.code != 0 || string(r.stdout) != want {
				t.Errorf("CLI --tcp through nginx's proxy_ssl: exit %d, %q %s; want %q", r.code, r.stdout, r.stderr, want)
			}
		})
	}

	t.Run("deadline", func(t *testing.T) {
		for _, r := range f.replicas {
			r.currentLog().watch(`"grpc.request.deadline"`)
		}
		before := f.outcomes()
		var clients [][]string
		for range 3 {
			clients = append(clients,
				append([]string{bin(t, "halfclose"), "--addr", p.grpc, "--timeout", "1s"}, append(creds, "sha256sum")...),
				append(exampleClient(t, "python"), append([]string{"--addr", p.grpc, "--timeout", "1"}, append(creds, "digest")...)...),
				append(exampleClient(t, "node"), append([]string{"--addr", p.grpc, "--timeout", "1"}, append(creds, "digest")...)...))
		}
		// At once: a loaded machine fires a client's timer late, after
		// the replica's (nginx's 502 before the fix).
		var procs []*fedProcess
		for _, argv := range clients {
			procs = append(procs, startFed(t, argv, false)) // 4 KiB, then nothing: the upload stalls
		}
		for i, fp := range procs {
			res := fp.wait(t)
			said := bytes.Contains(res.stderr, []byte("DEADLINE_EXCEEDED"))
			if res.code != 1 || !said || len(res.stdout) != 0 {
				t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 1, DEADLINE_EXCEEDED, no output", clients[i], res.code, res.stdout, res.stderr)
			}
		}
		// The calls that reached a replica: on a loaded machine a 1 s
		// deadline can pass before the proxy has passed a call on (the
		// TLS handshakes, a slow start), and that call has no job to
		// count. Once the clients have exited, every replica with no job
		// left running has ended all it was given.
		for _, r := range f.replicas {
			waitMetricValue(t, r.metrics, "halfclose_jobs_in_flight", 0)
		}
		reached := 0
		for oc, n := range f.outcomes() {
			n -= before[oc]
			reached += n
			if oc == "ok" && n > 0 {
				t.Errorf("%d replica jobs computed a result for a call whose deadline passed mid-upload", n)
			}
		}
		if reached == 0 || reached > len(clients) {
			t.Errorf("%d jobs ended on the replicas for %d calls; want 1 to %d", reached, len(clients), len(clients))
		}
		t.Logf("%d of %d calls reached a replica before their deadline", reached, len(clients))
		done, cancel := context.WithCancel(context.Background())
		cancel()
		for _, r := range f.replicas {
			if line, _ := r.currentLog().waitWatched(done, `"grpc.request.deadline"`); line != "" {
				t.Errorf("%s: a call through %s came with the client's deadline (grpc-timeout), which grpc-go's server ends with a reset (nginx: a 502, UNAVAILABLE; HAProxy: REFUSED_STREAM, UNAVAILABLE):\n%s", r.name, name, line)
			}
		}
	})

	t.Run("rotation", func(t *testing.T) {
		// Two calls open through the proxy, 1 MiB sent.
		data, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		type held struct {
			what string
			cmd  *exec.Cmd
			in   io.WriteCloser
			out  bytes.Buffer
			err  bytes.Buffer
		}
		var calls []*held
		for _, extra := range [][]string{{"--addr", p.grpc}, {"--tcp", "--tcp-addr", p.tcp}} {
			h := &held{what: strings.Join(extra, " ")}
			h.cmd = exec.Command(bin(t, "halfclose"), append(append(extra, creds...), "sha256sum")...)
			h.cmd.Env = cleanEnv()
			h.cmd.Stdout, h.cmd.Stderr = &h.out, &h.err
			if h.in, err = h.cmd.StdinPipe(); err != nil {
				t.Fatal(err)
			}
			if err := h.cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { h.cmd.Process.Kill(); h.cmd.Wait() })
			if _, err := h.in.Write(data[:1<<20]); err != nil {
				t.Fatalf("%s: %v", h.what, err)
			}
			calls = append(calls, h)
		}

		for _, r := range f.replicas {
			r.currentLog().watch(`"msg":"reloaded TLS certificate and key"`)
		}
		c2, k2 := issue("replica2", x509.ExtKeyUsageServerAuth)
		put(replicaKey, k2)
		put(replicaCert, c2)
		for _, r := range f.replicas {
			ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
			_, err := r.currentLog().waitWatched(ctx, `"msg":"reloaded TLS certificate and key"`)
			cancel()
			if err != nil {
				t.Fatalf("%s: %v", r.name, err)
			}
			if got := tlsSerial(t, r.grpc, pki, "h2"); got != certSerial(t, c2) {
				t.Errorf("%s: a new handshake got serial %s, want the new certificate's %s", r.name, got, certSerial(t, c2))
			}
		}
		p2, pk2 := issue("proxy2", x509.ExtKeyUsageServerAuth)
		put(proxyKey, pk2)
		put(proxyCert, p2)
		combine(proxyPEM, p2, pk2)
		p.reload(t)
		waitSerial(t, p.grpc, pki, certSerial(t, p2))

		for _, h := range calls {
			if _, err := h.in.Write(data[1<<20:]); err != nil {
				t.Errorf("%s: %v", h.what, err)
			}
			h.in.Close()
			err := h.cmd.Wait()
			if err != nil || h.out.String() != want {
				t.Errorf("%s, open across the rotations: %v, %q %s; want %q", h.what, err, h.out.String(), h.err.String(), want)
			}
		}
		digestCalls(t)

		// A bad pair: the new key of another certificate. The replicas
		// keep the previous pair and say so; the proxy's reload fails
		// and its running configuration serves on.
		for _, r := range f.replicas {
			r.currentLog().watch("reload failed: still serving the previous TLS certificate and key")
		}
		_, k3 := issue("replica3", x509.ExtKeyUsageServerAuth)
		put(replicaKey, k3)
		for _, r := range f.replicas {
			ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
			_, err := r.currentLog().waitWatched(ctx, "reload failed: still serving the previous TLS certificate and key")
			cancel()
			if err != nil {
				t.Fatalf("%s: %v", r.name, err)
			}
			if got := tlsSerial(t, r.grpc, pki, "h2"); got != certSerial(t, c2) {
				t.Errorf("%s: after a bad pair a new handshake got serial %s, want the previous %s", r.name, got, certSerial(t, c2))
			}
		}
		refused := map[string]string{"nginx": "[emerg]", "haproxy": "Loading failure!"}[name]
		p.log.watch(refused)
		_, pk3 := issue("proxy3", x509.ExtKeyUsageServerAuth)
		put(proxyKey, pk3)
		combine(proxyPEM, p2, pk3)
		p.reload(t)
		ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
		_, err = p.log.waitWatched(ctx, refused)
		cancel()
		if err != nil {
			t.Fatalf("%s: a reload with a bad certificate: %v\n%s", name, err, p.log.tail())
		}
		digestCalls(t)
		if got := tlsSerial(t, p.grpc, pki, "h2"); got != certSerial(t, p2) {
			t.Errorf("%s: after a refused reload a new handshake got serial %s, want %s", name, got, certSerial(t, p2))
		}
	})
}

// waitJobsLogged waits until the replicas have logged n more jobs than
// they had in before: a job's line may be read after its client has
// exited, and a test that counts the outcomes to come (nextOutcome) took
// such a line for one of its own.
func (f *fleet) waitJobsLogged(t *testing.T, before map[string]int, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d more jobs logged by the replicas", n), func() bool {
		got := 0
		for k, v := range f.outcomes() {
			got += v - before[k]
		}
		return got >= n
	})
}

// tlsProxyConfig edits the shipped configuration as docs/deploy.md ("TLS
// through the proxies") says.
func tlsProxyConfig(t *testing.T, name, cfg string, pki *testpki.PKI, cert, key, pem, upstreamPEM string) string {
	t.Helper()
	switch name {
	case "nginx":
		listen := regexp.MustCompile(`(?m)^        listen (\S+) http2;$`).FindStringSubmatch(cfg)
		if listen == nil {
			t.Fatalf("no gRPC listen line in nginx.conf:\n%s", cfg)
		}
		cfg = replaceOnce(t, cfg, listen[0], fmt.Sprintf(`        listen %s ssl http2;
        ssl_certificate %s;
        ssl_certificate_key %s;`, listen[1], cert, key))
		return replaceOnce(t, cfg, "grpc_pass grpc://halfclose_grpc;", fmt.Sprintf(`grpc_pass grpcs://halfclose_grpc;
            grpc_ssl_verify on;
            grpc_ssl_trusted_certificate %s;
            grpc_ssl_name localhost;
            grpc_ssl_certificate %s;
            grpc_ssl_certificate_key %s;
            grpc_ssl_session_reuse on;`, pki.CAFile, pki.ClientCert, pki.ClientKey))
	default:
		cfg = replaceOnce(t, cfg, `bind "${HC_GRPC_LISTEN}" proto h2`, fmt.Sprintf(`bind "${HC_GRPC_LISTEN}" ssl crt %s alpn h2`, pem))
		server := regexp.MustCompile(`(?m)^(    server r[123] "\$\{HC_R[123]_GRPC\}" proto h2)`)
		if n := len(server.FindAllString(cfg, -1)); n != 6 {
			t.Fatalf("%d gRPC server lines in haproxy.cfg, want 6", n)
		}
		return server.ReplaceAllString(cfg, fmt.Sprintf("$1 ssl verify required ca-file %s verifyhost localhost crt %s alpn h2", pki.CAFile, upstreamPEM))
	}
}

// tlsSerial returns the serial of the certificate a new TLS handshake
// with addr gets, in openssl's hex.
func tlsSerial(t *testing.T, addr string, pki *testpki.PKI, alpn ...string) string {
	t.Helper()
	cfg := pki.ClientTLS(t, true)
	cfg.NextProtos = alpn
	cfg.ServerName = "localhost"
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	defer c.Close()
	return fmt.Sprintf("%X", c.ConnectionState().PeerCertificates[0].SerialNumber)
}

// certSerial returns a certificate file's serial as tlsSerial does.
func certSerial(t *testing.T, file string) string {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(file, strings.TrimSuffix(file, ".pem")+"-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%X", pair.Leaf.SerialNumber)
}

// waitSerial waits until new handshakes with addr get the certificate of
// that serial: a proxy's reload takes effect when its new workers serve.
func waitSerial(t *testing.T, addr string, pki *testpki.PKI, serial string) {
	t.Helper()
	waitFor(t, "the proxy's new certificate", func() bool {
		return tlsSerial(t, addr, pki, "h2") == serial
	})
}
