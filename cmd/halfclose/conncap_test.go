package main

import (
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/client"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testpki"
	"github.com/halfclose/halfclose/server"
)

// TestDescribeConnCapRefusal: halfclosed closes a gRPC connection over
// --grpc-max-conns (or its address's share) before it speaks, and the
// client reads no server preface: the message named only a TLS port and
// a raw-TCP port, the wrong causes on a server at its cap.
func TestDescribeConnCapRefusal(t *testing.T) {
	// A port that refuses, so the probe of it finds no TLS.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r := &runner{o: options{addr: addr}}
	for _, msg := range []string{
		`connection error: desc = "error reading server preface: EOF"`,
		// grpc-go's writer saw the close first.
		client.ClosedUnspoken + ": write tcp 127.0.0.1:40000->" + addr + ": write: broken pipe",
	} {
		got := r.describe(status.Error(codes.Unavailable, msg))
		if !strings.HasPrefix(got, "UNAVAILABLE: "+addr+" closed the connection without speaking gRPC") || !strings.Contains(got, "--grpc-max-conns") {
			t.Errorf("describe(%q): %q; want the connection caps named", msg, got)
		}
	}
	// A write that fails after the server spoke is not a refusal: its
	// words are kept.
	msg := "write tcp 127.0.0.1:40000->" + addr + ": write: broken pipe"
	if got := r.describe(status.Error(codes.Unavailable, msg)); strings.Contains(got, "--grpc-max-conns") || !strings.Contains(got, "broken pipe") {
		t.Errorf("describe(%q): %q; want the system's words", msg, got)
	}
}

// TestConnCapRefusalNamed: a call to a gRPC server at --grpc-max-conns
// (a connection held, the CLI's refused: closed unread, so reset once
// the CLI has written) names the cap whichever of grpc-go's reader and
// writer saw the close first. The writer's was told as the system's
// words alone ("UNAVAILABLE: write tcp A->B: write: broken pipe"), in 2
// runs of 3 with the real binaries.
func TestConnCapRefusalNamed(t *testing.T) {
	addr := cappedServer(t)
	input := strings.Repeat("refused\n", 8<<10)
	for i := range 4 {
		code, out, errs := runCLIIn(t, strings.NewReader(input), "--progress=false", "--addr", addr, "sha256sum")
		if code != 1 || out != "" || !strings.Contains(errs, "--grpc-max-conns") || strings.Contains(errs, "broken pipe") || strings.Contains(errs, "connection reset") {
			t.Fatalf("run %d: exit %d, stdout %q, stderr %q; want exit 1 naming --grpc-max-conns", i, code, out, errs)
		}
	}
}

// TestConnCapRefusalNamedTLS: over TLS, a call to a gRPC server at
// --grpc-max-conns names the cap: the server closes the connection
// before its TLS hello, and the CLI printed "UNAVAILABLE: EOF" (5 runs
// of 5 with the real binaries), the handshake's read of the close.
func TestConnCapRefusalNamedTLS(t *testing.T) {
	p := testpki.New(t)
	cfg, err := server.LoadServerTLS(p.ServerCert, p.ServerKey, "")
	if err != nil {
		t.Fatal(err)
	}
	addr := cappedServer(t, grpc.Creds(credentials.NewTLS(cfg)))
	code, out, errs := runCLIIn(t, strings.NewReader("refused\n"), "--progress=false", "--addr", addr, "--cacert", p.CAFile, "sha256sum")
	if want := "halfclose: UNAVAILABLE: " + addr + " closed the connection before its TLS handshake (halfclosed at its cap of connections"; code != 1 || out != "" || !strings.HasPrefix(errs, want) {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1, %q...", code, out, errs, want)
	}
}

// cappedServer serves ComputeService on 127.0.0.1 with --grpc-max-conns
// 1, that one place taken by a connection of its own (queued first, so
// admitted first), and returns its address.
func cappedServer(t *testing.T, opts ...grpc.ServerOption) string {
	t.Helper()
	eng := engine.New(engine.Config{Registry: builtin.Registry()})
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(opts...)
	apiv1.RegisterComputeServiceServer(gs, server.NewComputeService(eng, server.Options{}))
	go gs.Serve(server.NewGRPCListener(gl, 0, 0, server.GRPCConnLimits{Max: 1}))
	t.Cleanup(gs.Stop)
	held, err := net.Dial("tcp", gl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { held.Close() })
	return gl.Addr().String()
}
