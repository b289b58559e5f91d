//go:build fleet && linux

package e2e

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
)

// nginxUnavailable is the grpc-message of the shipped nginx configuration's
// own errors (deploy/nginx/nginx.conf.template, @grpc_unavailable).
const nginxUnavailable = "nginx: no replica answered the call"

// goneUpstream is a replica that reads the first 48 KiB of every
// connection nginx opens to it and closes it: a replica killed while a
// client uploads, at once and every time.
func goneUpstream(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				io.CopyN(io.Discard, c, 48<<10)
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	return l.Addr().String()
}

// TestFleetNginxStatus: a call nginx fails itself (here its replica went
// away while the client was still sending) ends with a gRPC status,
// UNAVAILABLE and the configuration's grpc-message, in every client, not
// with nginx's HTML page and HTTP 502. Through that page grpcio 1.51 lost
// the call now and then: neither its status nor its pending write ever
// completed, and the raw Python stub of TestFleetHunt hung until killed
// (1 call in 1,288 of a hunt under load; 1 in 600 with this test's
// upstream, 0 in 600 with the error_page; docs/deploy.md, "Traps").
// That is too rare to test here: the test checks the status instead.
func TestFleetNginxStatus(t *testing.T) {
	for _, tool := range []string{"nginx", "envsubst"} {
		need(t, tool)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	up := goneUpstream(t)
	spare := freeAddrs(t, 2) // the L4 port's replicas and health: unused here
	f := &fleet{nginxConf: filepath.Join(root, "deploy/nginx/nginx.conf.template")}
	for range 3 {
		f.replicas = append(f.replicas, &replica{grpc: up, tcp: spare[0], health: spare[1]})
	}
	p := f.startProxy(t, "nginx", nil)
	in := randomFile(t, 8<<20)

	t.Run("grpc-go", func(t *testing.T) {
		conn, err := grpc.NewClient(p.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
		defer cancel()
		stream, err := apiv1.NewComputeServiceClient(conn).Digest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		hdr := &apiv1.DigestHeader{Algorithms: []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}}
		if err := stream.Send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Header{Header: hdr}}); err == nil {
			data := readFile(t, in)
			for len(data) > 0 {
				n := min(len(data), 1<<20)
				if stream.Send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Data{Data: data[:n]}}) != nil {
					break // the status comes with CloseAndRecv
				}
				data = data[n:]
			}
		}
		_, err = stream.CloseAndRecv()
		if s := status.Convert(err); s.Code() != codes.Unavailable || s.Message() != nginxUnavailable {
			t.Errorf("got %v, want UNAVAILABLE: %s", err, nginxUnavailable)
		}
	})

	py := exampleClient(t, "python")
	node := exampleClient(t, "node")
	stub := writeFile(t, t.TempDir(), "stub.py", []byte(huntPyStub))
	for _, c := range []struct {
		name string
		argv []string
	}{
		{"python stub", []string{py[0], stub, filepath.Join(examplesDir(t), "python"), p.grpc, in}},
		{"python example", append(slices.Clone(py), "--addr", p.grpc, "digest", in)},
		{"node example", append(slices.Clone(node), "--addr", p.grpc, "digest", in)},
		{"cli", []string{bin(t, "halfclose"), "--addr", p.grpc, "sha256sum", in}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := runQuiet("", c.argv...)
			if err != nil {
				t.Fatal(err)
			}
			if r.code == 0 || len(r.stdout) > 0 || !strings.Contains(string(r.stderr), "UNAVAILABLE: "+nginxUnavailable) {
				t.Errorf("exit %d, stdout %q, stderr %q; want an error, UNAVAILABLE: %s", r.code, r.stdout, r.stderr, nginxUnavailable)
			}
		})
	}

	// The trap: without the error_page, nginx's HTML page and HTTP 502.
	t.Run("trap", func(t *testing.T) {
		q := f.startProxy(t, "nginx", func(t *testing.T, cfg string) string {
			return replaceOnce(t, cfg, "error_page 502 503 504 = @grpc_unavailable;", "")
		})
		r, err := runQuiet("", bin(t, "halfclose"), "--addr", q.grpc, "sha256sum", in)
		if err != nil {
			t.Fatal(err)
		}
		if want := "received from server: 502 (Bad Gateway)"; r.code == 0 || !strings.Contains(string(r.stderr), want) {
			t.Errorf("exit %d, stderr %q; want an error with %q", r.code, r.stderr, want)
		}
	})
}
