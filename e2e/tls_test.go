package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tlsPKIScript makes a CA, a server certificate for localhost and
// 127.0.0.1, a client certificate and a token file: the commands of
// docs/operations.md, so the documented set-up is tested.
const tlsPKIScript = `set -e
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
  -subj "/CN=halfclose CA" -keyout ca-key.pem -out ca.pem
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -subj "/CN=localhost" -keyout server-key.pem -out server.csr
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
  -days 365 -extfile server.ext -out server.pem
printf 'extendedKeyUsage=clientAuth\n' > client.ext
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -subj "/CN=client" -keyout client-key.pem -out client.csr
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
  -days 365 -extfile client.ext -out client.pem
openssl rand -hex 32 > tokens.txt
chmod 600 ca-key.pem server-key.pem client-key.pem tokens.txt
`

// tlsRun runs a command in dir with stdin and returns its stdout; stderr
// goes into the error.
func tlsRun(t *testing.T, dir string, stdin []byte, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v: %s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// tlsStartDaemon runs halfclosed with args on 127.0.0.1:0 ports and
// returns the gRPC and TCP addresses it logged; it is stopped with SIGTERM
// at cleanup and must exit 0.
func tlsStartDaemon(t *testing.T, dir string, args ...string) (grpcAddr, tcpAddr string) {
	t.Helper()
	base := []string{"--grpc-addr=127.0.0.1:0", "--tcp-addr=127.0.0.1:0", "--health-addr=127.0.0.1:0", "--log-format=json"}
	cmd := exec.Command(bin(t, "halfclosed"), append(base, args...)...)
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	exited := make(chan error, 1)
	addrs := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var a [2]string
		sent := false
		for sc.Scan() {
			logs.Write(append(sc.Bytes(), '\n'))
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			switch line.Msg {
			case "grpc listening":
				a[0] = line.Addr
			case "tcp command port listening":
				a[1] = line.Addr
			}
			if a[0] != "" && a[1] != "" && !sent {
				addrs <- a
				sent = true
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("halfclosed: %v\n%s", err, logs.String())
			}
		case <-time.After(defaultTestTimeout):
			cmd.Process.Kill()
			<-exited
			t.Errorf("halfclosed did not stop on SIGINT:\n%s", logs.String())
		}
	})
	select {
	case a := <-addrs:
		return a[0], a[1]
	case err := <-exited:
		exited <- err
		t.Fatalf("halfclosed exited: %v\n%s", err, logs.String())
	case <-time.After(defaultTestTimeout):
		t.Fatal("halfclosed did not start")
	}
	return "", ""
}

// TestTLSEndToEnd: halfclosed with TLS, mTLS and a token, called by the
// real clients: grpcurl, socat on the raw-TCP port (the half-close is the
// TLS close_notify) and the halfclose CLI. Every reply must equal GNU
// sha256sum of the input.
func TestTLSEndToEnd(t *testing.T) {
	t.Parallel()
	need(t, "openssl")
	grpcurl := bin(t, "grpcurl")
	cli := bin(t, "halfclose")
	dir := t.TempDir()
	if _, err := tlsRun(t, dir, nil, "bash", "-c", tlsPKIScript); err != nil {
		t.Fatal(err)
	}
	tokenBytes, err := os.ReadFile(filepath.Join(dir, "tokens.txt"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tokenBytes))
	grpcAddr, tcpAddr := tlsStartDaemon(t, dir,
		"--tls-cert=server.pem", "--tls-key=server-key.pem", "--tls-client-ca=ca.pem", "--auth-token-file=tokens.txt")

	input := make([]byte, 3<<20+17)
	rand.Read(input)
	gnu, err := tlsRun(t, dir, input, "sha256sum")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(input)
	if gnu != hex.EncodeToString(sum[:])+"  -\n" {
		t.Fatalf("GNU sha256sum: %q", gnu)
	}
	mtls := []string{"-cacert", "ca.pem", "-cert", "client.pem", "-key", "client-key.pem"}

	t.Run("grpcurl", func(t *testing.T) {
		// Several data messages, then the end of grpcurl's input is its
		// CloseSend.
		var req strings.Builder
		req.WriteString(`{"header":{"algorithms":["ALGORITHM_SHA256"]}}`)
		for chunk := range slicesChunk(input, 1<<20) {
			fmt.Fprintf(&req, "\n{\"data\":%q}", base64.StdEncoding.EncodeToString(chunk))
		}
		args := append(append([]string{}, mtls...), "-H", "authorization: Bearer "+token, "-d", "@",
			grpcAddr, "halfclose.v1.ComputeService/Digest")
		out, err := tlsRun(t, dir, []byte(req.String()), grpcurl, args...)
		if err != nil {
			t.Fatal(err)
		}
		var resp struct {
			Size    string
			Digests []struct{ Hex string }
		}
		if err := json.Unmarshal([]byte(out), &resp); err != nil || len(resp.Digests) != 1 {
			t.Fatalf("grpcurl output %q: %v", out, err)
		}
		if resp.Digests[0].Hex+"  -\n" != gnu || resp.Size != fmt.Sprint(len(input)) {
			t.Fatalf("grpcurl: %+v, GNU: %s", resp, gnu)
		}
	})
	t.Run("grpcurl-wrong-token", func(t *testing.T) {
		args := append(append([]string{}, mtls...), "-H", "authorization: Bearer not-"+token,
			"-d", `{"header":{"algorithms":["ALGORITHM_SHA256"]}}`, grpcAddr, "halfclose.v1.ComputeService/Digest")
		_, err := tlsRun(t, dir, nil, grpcurl, args...)
		if err == nil || !strings.Contains(err.Error(), "PermissionDenied") {
			t.Fatalf("wrong token: %v", err)
		}
	})
	t.Run("grpcurl-token-without-scheme", func(t *testing.T) {
		// The usual slip: the token alone. It was "missing bearer token",
		// which it is not; the message says what to send, never the token.
		args := append(append([]string{}, mtls...), "-H", "authorization: "+token,
			"-d", `{"header":{"algorithms":["ALGORITHM_SHA256"]}}`, grpcAddr, "halfclose.v1.ComputeService/Digest")
		_, err := tlsRun(t, dir, nil, grpcurl, args...)
		if err == nil {
			t.Fatal("token without its scheme: served")
		}
		_, stderr, _ := strings.Cut(err.Error(), ": exit status ") // past the command line, which has the token
		if !strings.Contains(stderr, "Unauthenticated") ||
			!strings.Contains(stderr, `malformed authorization metadata: want "Bearer TOKEN"`) || strings.Contains(stderr, token) {
			t.Fatalf("token without its scheme: %v", stderr)
		}
	})
	t.Run("grpcurl-no-client-cert", func(t *testing.T) {
		_, err := tlsRun(t, dir, nil, grpcurl, "-cacert", "ca.pem", grpcAddr, "list")
		if err == nil {
			t.Fatal("a client without a certificate was served")
		}
	})
	t.Run("cli-no-client-cert", func(t *testing.T) {
		// Under TLS 1.3 the server refuses the missing certificate after
		// the client's side of the handshake: the client sees a broken
		// pipe, a reset or a failed HTTP/2 preface. The CLI says what is
		// missing, not "does not speak gRPC" or the transport's words.
		for range 3 {
			_, err := tlsRun(t, dir, []byte("x"), cli, "--addr", grpcAddr, "--cacert", "ca.pem", "--token-file", "tokens.txt", "sha256sum")
			if err == nil || !strings.Contains(err.Error(), "client certificate (--cert and --key)") {
				t.Fatalf("halfclose without a client certificate: %v; want it to name the missing certificate", err)
			}
		}
	})
	t.Run("socat", func(t *testing.T) {
		socat := need(t, "socat")
		// -t: how long socat still reads after sending close_notify.
		out, err := tlsRun(t, dir, append([]byte("sha256sum\n"), input...), socat, "-t", "30", "-",
			"OPENSSL:"+tcpAddr+",cafile=ca.pem,cert=client.pem,key=client-key.pem")
		if err != nil || out != gnu {
			t.Fatalf("socat: %q, %v; GNU: %s", out, err, gnu)
		}
	})
	t.Run("cli-grpc", func(t *testing.T) {
		out, err := tlsRun(t, dir, input, cli, "--addr", grpcAddr, "--cacert", "ca.pem",
			"--cert", "client.pem", "--key", "client-key.pem", "--token-file", "tokens.txt", "sha256sum")
		if err != nil || out != gnu {
			t.Fatalf("halfclose: %q, %v; GNU: %s", out, err, gnu)
		}
	})
	t.Run("cli-tcp", func(t *testing.T) {
		out, err := tlsRun(t, dir, input, cli, "--tcp", "--tcp-addr", tcpAddr, "--cacert", "ca.pem",
			"--cert", "client.pem", "--key", "client-key.pem", "sha256sum")
		if err != nil || out != gnu {
			t.Fatalf("halfclose --tcp: %q, %v; GNU: %s", out, err, gnu)
		}
	})
}

// slicesChunk yields b in pieces of at most n bytes.
func slicesChunk(b []byte, n int) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			k := min(n, len(b))
			if !yield(b[:k]) {
				return
			}
			b = b[k:]
		}
	}
}

// tlsPKIScript is docs/operations.md's block, word for word: the doc says
// this test runs exactly its commands, and a copy could drift from it.
func TestTLSScriptIsTheDocs(t *testing.T) {
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	block := "```sh\n" + strings.TrimPrefix(tlsPKIScript, "set -e\n") + "```\n"
	if !strings.Contains(string(doc), block) {
		t.Errorf("docs/operations.md, \"TLS, mTLS and tokens: an example\", has no block of tlsPKIScript's commands:\n%s", block)
	}
}
