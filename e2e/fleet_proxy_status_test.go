//go:build fleet && linux

package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
)

// The grpc-messages of the proxies' own errors in the shipped
// configurations: deploy/nginx/nginx.conf.template (@grpc_unavailable,
// @grpc_timeout) and deploy/haproxy/haproxy.cfg (http-error).
const (
	nginxUnavailable = "nginx: no replica answered the call"
	nginxTimeout     = "nginx: the replica did not answer in time (grpc_send_timeout, grpc_read_timeout)"
	nginxLimited     = "nginx: too many calls (limit_req, limit_conn)"
	nginxTooLarge    = "nginx: the call's input is over the proxy's client_max_body_size"
	nginxBadRequest  = "nginx: bad request (HTTP 400; nginx's error log says why)"
	nginxInternal    = "nginx: internal error (HTTP 500; nginx's error log says why)"
	haproxyTimeout   = "haproxy: the replica did not answer within timeout server"
	haproxyNoReplica = "haproxy: no replica took the call (none is ready, or every connect was refused or timed out)"
)

// goneAfter is how much of each connection goneUpstream reads before it
// closes it: more than grpc-go (the CLI), grpcio and grpc-js keep of a call
// to replay (256 KiB each), with room for nginx's HTTP/2 framing. nginx
// sends the upstream only what its client has sent, so each client has
// committed its call (it no longer retries it) before nginx can fail it,
// and the status it reports is nginx's, however slow or loaded. It
// matters to the CLI: its retry policy (client.DefaultServiceConfig)
// replays a call that ends with a trailers-only UNAVAILABLE, nginx's
// status here, while the call is not committed; grpc-go commits it when
// what it sent passes the buffer (or once a reply message arrives).
// Transparent retries (a stream refused, never processed) do not apply,
// and the other clients have no retry policy. Every call through it must
// send more than goneAfter: one that ends before waits for nginx's
// grpc_read_timeout (1h).
const goneAfter = 1 << 20

// goneUpstream is a replica that reads the first goneAfter bytes of every
// connection nginx opens to it and closes it: a replica killed while a
// client uploads, at once and every time. Its SETTINGS and WINDOW_UPDATE
// open the stream's and the connection's windows (HTTP/2's default is 64
// KiB, all nginx would send it before an answer).
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
				defer c.Close()
				fr := http2.NewFramer(c, nil)
				if fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 2 * goneAfter}) != nil ||
					fr.WriteWindowUpdate(0, 2*goneAfter) != nil {
					return
				}
				io.CopyN(io.Discard, c, goneAfter)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	return l.Addr().String()
}

// silentUpstream is a replica that takes every call and never answers it:
// a job longer than the proxy's timeout (or a hung replica).
func silentUpstream(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		<-stream.Context().Done()
		return stream.Context().Err()
	}))
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return l.Addr().String()
}

// grpcGoDigest makes a Digest call of in through addr with grpc-go,
// sending all of in (until a send fails) and then its end, dialled with
// opts too.
func grpcGoDigest(t *testing.T, addr, in string, opts ...grpc.DialOption) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
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
	return err
}

// wantStatus fails t unless err is the status code with message msg.
func wantStatus(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	if s := status.Convert(err); s.Code() != code || s.Message() != msg {
		t.Errorf("got %v, want %v: %s", err, code, msg)
	}
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
//
// The CLI sees nginx's status only when it comes after the CLI has sent
// more than grpc-go keeps to replay (256 KiB): before, its retry policy
// replays the call and the status is lost (`every attempt was ended by
// the server while sending`). Its replica reads 1 MiB before it goes
// (goneUpstream), so that is so on any machine and load, and the test
// runs with the other waiting fleet tests (it ran alone while its replica
// went after 48 KiB: the CLI lost the status once in four runs under load
// 10-20).
func TestFleetNginxStatus(t *testing.T) {
	t.Parallel() // with the other waiting fleet tests (fleet_test.go)
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
		wantStatus(t, grpcGoDigest(t, p.grpc, in), codes.Unavailable, nginxUnavailable)
	})

	clientsSeeStatus(t, p.grpc, in, "UNAVAILABLE: "+nginxUnavailable)

	// A replica that connected and then outlived grpc_read_timeout may
	// have run the job all that time: DEADLINE_EXCEEDED, not retried as
	// UNAVAILABLE is (HTTP 504 is UNAVAILABLE in gRPC's mapping).
	t.Run("timeout", func(t *testing.T) {
		silent := silentUpstream(t)
		g := &fleet{nginxConf: f.nginxConf}
		for range 3 {
			g.replicas = append(g.replicas, &replica{grpc: silent, tcp: spare[0], health: spare[1]})
		}
		q := g.startProxy(t, "nginx", func(t *testing.T, cfg string) string {
			return replaceOnce(t, cfg, "grpc_read_timeout 1h;", "grpc_read_timeout 1s;")
		})
		wantStatus(t, grpcGoDigest(t, q.grpc, randomFile(t, 1000)), codes.DeadlineExceeded, nginxTimeout)
	})

	// nginx's other errors on a call, each in a proxy of its own, at once:
	// the operator's limits (a client_max_body_size, a limit_req) and what
	// nginx answers with 400 or 500 (here by "return", in place of the
	// grpc_pass). Each is a gRPC status with the configuration's message in
	// grpc-go and the Python stub (grpcio 1.51, which could hang on an HTML
	// page mid-upload), and in every client for the two limits.
	silent := silentUpstream(t)
	limitReq := func(status string) func(t *testing.T, cfg string) string {
		return func(t *testing.T, cfg string) string {
			// 1 call a minute from an address, no burst: the first passes
			// (and meets the gone replica), the others are refused.
			cfg = replaceOnce(t, cfg, "    upstream halfclose_grpc {", "    limit_req_zone $binary_remote_addr zone=calls:1m rate=1r/m;\n    upstream halfclose_grpc {")
			return replaceOnce(t, cfg, "location / {", "location / {\n            limit_req zone=calls;"+status)
		}
	}
	noPass := func(code string) func(t *testing.T, cfg string) string {
		return func(t *testing.T, cfg string) string {
			return replaceOnce(t, cfg, "grpc_pass grpc://halfclose_grpc;", "return "+code+";")
		}
	}
	for _, c := range []struct {
		name     string
		upstream string
		edit     func(t *testing.T, cfg string) string
		warm     bool // a first call, which the limit lets through
		code     codes.Code
		msg      string
		all      bool // every client, not only grpc-go and the Python stub
	}{
		{"413", silent, func(t *testing.T, cfg string) string {
			return replaceOnce(t, cfg, "client_max_body_size 0;", "client_max_body_size 16k;")
		}, false, codes.ResourceExhausted, nginxTooLarge, true},
		{"429", up, limitReq(" limit_req_status 429;"), true, codes.Unavailable, nginxLimited, true},
		{"503", up, limitReq(""), true, codes.Unavailable, nginxLimited, false},
		{"400", up, noPass("400"), false, codes.Internal, nginxBadRequest, false},
		{"500", up, noPass("500"), false, codes.Internal, nginxInternal, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g := &fleet{nginxConf: f.nginxConf}
			for range 3 {
				g.replicas = append(g.replicas, &replica{grpc: c.upstream, tcp: spare[0], health: spare[1]})
			}
			q := g.startProxy(t, "nginx", c.edit)
			if c.warm {
				wantStatus(t, grpcGoDigest(t, q.grpc, in), codes.Unavailable, nginxUnavailable)
			}
			t.Run("grpc-go", func(t *testing.T) {
				t.Parallel()
				wantStatus(t, grpcGoDigest(t, q.grpc, in), c.code, c.msg)
			})
			want := map[codes.Code]string{codes.Unavailable: "UNAVAILABLE", codes.ResourceExhausted: "RESOURCE_EXHAUSTED", codes.Internal: "INTERNAL"}[c.code] + ": " + c.msg
			if c.all {
				clientsSeeStatus(t, q.grpc, in, want)
			} else {
				clientsSeeStatus(t, q.grpc, in, want, "python stub")
			}
		})
	}

	// The error_page lines are the server's, not one location's: nginx's
	// 400 for a request it rejects before choosing a location (here an
	// :authority with a "/") uses the server's error_page alone, and a
	// location an operator adds (one service, a limit of its own) inherits
	// them. In location / they were HTML pages: grpc-go "unexpected HTTP
	// status code received from server: 400 (Bad Request)" and "502 (Bad
	// Gateway)", the Python stub "Received http2 header with status".
	t.Run("server", func(t *testing.T) {
		q := f.startProxy(t, "nginx", func(t *testing.T, cfg string) string {
			return replaceOnce(t, cfg, "        location @grpc_unavailable {", "        location /halfclose.v1.ComputeService/ {\n            grpc_pass grpc://halfclose_grpc;\n        }\n\n        location @grpc_unavailable {")
		})
		t.Run("authority", func(t *testing.T) {
			t.Parallel()
			wantStatus(t, grpcGoDigest(t, q.grpc, in, grpc.WithAuthority("bad/authority")), codes.Internal, nginxBadRequest)
		})
		t.Run("location", func(t *testing.T) {
			t.Parallel()
			wantStatus(t, grpcGoDigest(t, q.grpc, in), codes.Unavailable, nginxUnavailable)
		})
		t.Run("location python stub", func(t *testing.T) {
			t.Parallel()
			clientsSeeStatus(t, q.grpc, in, "UNAVAILABLE: "+nginxUnavailable, "python stub")
		})
	})

	// The trap: without the error_page, nginx's HTML page and HTTP 502.
	t.Run("trap", func(t *testing.T) {
		q := f.startProxy(t, "nginx", func(t *testing.T, cfg string) string {
			cfg = replaceOnce(t, cfg, "error_page 502 503 429 = @grpc_unavailable;", "")
			return replaceOnce(t, cfg, "error_page 504 = @grpc_timeout;", "")
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

// TestFleetHAProxyStatus: HAProxy's own 504 (a replica that took the whole
// call and did not answer within "timeout server") ends with
// DEADLINE_EXCEEDED and the configuration's grpc-message in every client,
// not with HAProxy's HTML page, which gRPC maps to UNAVAILABLE and clients
// replay. HAProxy's 502 and 503 stay its HTML page (UNAVAILABLE in every
// client; the check-proto trap of TestFleet shows one): deploy/haproxy.
func TestFleetHAProxyStatus(t *testing.T) {
	t.Parallel() // with the other waiting fleet tests (fleet_test.go)
	need(t, "haproxy")
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	ready := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(ready.Close)
	silent := silentUpstream(t)
	spare := freeAddrs(t, 1) // the L4 port's replicas: unused here
	f := &fleet{haCfg: filepath.Join(root, "deploy/haproxy/haproxy.cfg")}
	for range 3 {
		f.replicas = append(f.replicas, &replica{grpc: silent, tcp: spare[0], health: ready.Listener.Addr().String()})
	}
	// Short, but longer than a client could pause between its header and
	// its end on a loaded machine: a server side idle while the client
	// still sends is no 504 but a RST_STREAM(REFUSED_STREAM) (sD).
	short := func(t *testing.T, cfg string) string {
		return replaceOnce(t, cfg, "timeout server 1h", "timeout server 2s")
	}
	p := f.startProxy(t, "haproxy", short)
	in := randomFile(t, 1000)

	// The subtests below run at once (t.Parallel; the clients' too), each
	// against a proxy of its own or a call of its own, most of their time
	// waiting out "timeout server".
	t.Run("grpc-go", func(t *testing.T) {
		t.Parallel()
		wantStatus(t, grpcGoDigest(t, p.grpc, in), codes.DeadlineExceeded, haproxyTimeout)
	})

	clientsSeeStatus(t, p.grpc, in, "DEADLINE_EXCEEDED: "+haproxyTimeout)

	// HAProxy's 503, when every connect (retries and backups included)
	// was refused: nothing ran, so UNAVAILABLE in every client, as gRPC
	// maps HTTP 503; not rewritten as a trailers-only status, which
	// grpcio reports as CANCELLED when the client is still uploading
	// (haproxy#1219, docs/deploy.md). grpc-go prints its text, which says
	// that HAProxy made it and why (HAProxy's HTML page without it).
	t.Run("no replica", func(t *testing.T) {
		t.Parallel()
		down := &fleet{haCfg: f.haCfg}
		refused := ownAddrs(t, 3) // closed once ownAddrs returns, on an address no other test uses
		for _, a := range refused {
			down.replicas = append(down.replicas, &replica{grpc: a, tcp: spare[0], health: ready.Listener.Addr().String()})
		}
		q := down.startProxy(t, "haproxy", nil)
		t.Run("grpc-go", func(t *testing.T) {
			err := grpcGoDigest(t, q.grpc, in)
			if s := status.Convert(err); s.Code() != codes.Unavailable || !strings.Contains(s.Message(), haproxyNoReplica) {
				t.Errorf("got %v, want UNAVAILABLE with %q", err, haproxyNoReplica)
			}
		})
		clientsSeeStatus(t, q.grpc, in, "UNAVAILABLE", "python stub", "node example")
	})

	// The trap: without the http-error line, HAProxy's HTML page and HTTP
	// 504, UNAVAILABLE in gRPC's mapping.
	t.Run("trap", func(t *testing.T) {
		t.Parallel()
		q := f.startProxy(t, "haproxy", func(t *testing.T, cfg string) string {
			i := strings.Index(cfg, "    http-error status 504 ")
			if i < 0 {
				t.Fatal("haproxy.cfg: no http-error status 504")
			}
			return short(t, cfg[:i]+cfg[i+strings.IndexByte(cfg[i:], '\n')+1:])
		})
		err := grpcGoDigest(t, q.grpc, in)
		if s := status.Convert(err); s.Code() != codes.Unavailable || !strings.Contains(s.Message(), "504 (Gateway Timeout)") {
			t.Errorf("got %v, want UNAVAILABLE with HTTP 504", err)
		}
	})
}

// clientsSeeStatus runs the Python stub, the Python and Node examples and
// the CLI on in through the proxy at addr, each in a subtest of its own,
// at once (HAProxy's 504 takes its "timeout server" for each): each must
// fail with nothing on stdout and want ("CODE: message") on stderr.
// Given names, only those clients run.
func clientsSeeStatus(t *testing.T, addr, in, want string, names ...string) {
	py := exampleClient(t, "python")
	node := exampleClient(t, "node")
	stub := writeFile(t, t.TempDir(), "stub.py", []byte(huntPyStub))
	t.Run("clients", func(t *testing.T) { clientsSeeStatusAtOnce(t, addr, in, want, py, node, stub, names) })
}

func clientsSeeStatusAtOnce(t *testing.T, addr, in, want string, py, node []string, stub string, names []string) {
	for _, c := range []struct {
		name string
		argv []string
	}{
		{"python stub", []string{py[0], stub, filepath.Join(examplesDir(t), "python"), addr, in}},
		{"python example", append(slices.Clone(py), "--addr", addr, "digest", in)},
		{"node example", append(slices.Clone(node), "--addr", addr, "digest", in)},
		{"cli", []string{bin(t, "halfclose"), "--addr", addr, "sha256sum", in}},
	} {
		if len(names) > 0 && !slices.Contains(names, c.name) {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r, err := runQuiet("", c.argv...)
			if err != nil {
				t.Fatal(err)
			}
			if r.code == 0 || len(r.stdout) > 0 || !strings.Contains(string(r.stderr), want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want an error, %s", r.code, r.stdout, r.stderr, want)
			}
		})
	}
}
