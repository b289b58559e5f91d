package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
)

// TestGentleSilentGRPCConnsDoNotHoldStop: connections to the gRPC port
// whose clients send nothing (no preface; over TLS no ClientHello, or
// only part of one) do not hold GracefulStop for grpc.ConnectionTimeout
// (--header-timeout, an hour here): once the stop is over their
// handshakes end within the drain's wait (a nanosecond here), while a
// call in flight on a connection past its handshake completes with the
// right digest. Before, GracefulStop waited for each handshake's
// deadline (grpc-go's serveWG), and for the hour here.
func TestGentleSilentGRPCConnsDoNotHoldStop(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tls   bool
		sends []string // what each silent connection sends
	}{
		{"plaintext", false, []string{"", "PRI * HTTP/2.0\r\n"}},
		{"tls", true, []string{"", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"}},
	} {
		t.Run(tc.name, func(t *testing.T) { testSilentGRPCConns(t, tc.tls, tc.sends) })
	}
}

func testSilentGRPCConns(t *testing.T, useTLS bool, sends []string) {
	eng := engine.New(engine.Config{Registry: testRegistry()})
	obs := &recordingObserver{started: make(chan string, 10), ended: make(chan string, 10)}
	svc := NewComputeService(eng, Options{Observer: obs, HeaderTimeout: time.Hour})
	opts := []grpc.ServerOption{grpc.InTapHandle(svc.TapHandle), CodecOption(), grpc.ConnectionTimeout(time.Hour)}
	bufSize := GRPCReadBufSize
	clientCreds := insecure.NewCredentials()
	if useTLS {
		p := newTestPKI(t)
		cfg, err := LoadServerTLS(p.ServerCert, p.ServerKey, "")
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, grpc.Creds(CountingCreds(credentials.NewTLS(cfg))))
		bufSize = 0
		clientCreds = credentials.NewTLS(p.ClientTLS(t, false))
	} else {
		opts = append(opts, grpc.ReadBufferSize(0))
	}
	srv := grpc.NewServer(opts...)
	apiv1.RegisterComputeServiceServer(srv, svc)
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gl := NewGentleListener(ln)
	gl.cutWait = time.Nanosecond // the handshakes' wait after the stop
	lis := NewGRPCListener(gl, bufSize, 0).(*grpcListener)
	handshakes := make(chan struct{}, 10)
	lis.onHandshake = func() { handshakes <- struct{}{} }
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	// A call in flight, its header received.
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(clientCreds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := apiv1.NewComputeServiceClient(conn).Digest(jobCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	input := []byte("the input of a call in flight\n")
	if err := stream.Send(header(apiv1.Algorithm_ALGORITHM_SHA256)); err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(dataMsg(input)); err != nil {
		t.Fatal(err)
	}
	obs.waitStarted(t)
	testenv.Recv(t, hangTimeout, "the call's connection's handshake", handshakes)

	// The silent ones, in grpc-go's handshake.
	var silent []net.Conn
	for _, s := range sends {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
		silent = append(silent, c)
		testenv.Recv(t, hangTimeout, "a silent connection's handshake", handshakes)
	}

	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	if err := gl.StopAccepting(ctx); err != nil {
		t.Fatalf("StopAccepting: %v", err)
	}
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()

	// The silent connections are closed by the server: their reads end
	// (EOF, or a reset), never on the test's own deadline.
	for i, c := range silent {
		c.SetReadDeadline(time.Now().Add(defaultTestTimeout))
		buf := make([]byte, 64)
		for {
			_, err := c.Read(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("silent connection %d (sent %q): still open", i, sends[i])
			}
			if err != nil {
				break
			}
		}
	}
	// The call in flight is served.
	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatalf("the call in flight: %v", err)
	}
	sum := sha256.Sum256(input)
	if got, want := resp.GetDigests()[0].GetHex(), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("the call in flight: digest %s, want %s", got, want)
	}
	select {
	case <-stopped:
	case <-time.After(defaultTestTimeout):
		t.Fatal("GracefulStop still waiting")
	}
	if err := testenv.Recv(t, hangTimeout, "Serve's return after GracefulStop", served); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve: %v", err)
	}
}

// TestGRPCHandshakeCut: after cutHandshakes, a handshake grpc-go begins
// gets the cut's deadline instead of its own (its read ends at once, with
// a zero wait), and a connection past its handshake before the cut keeps
// no deadline (it reads what its client sends after the cut).
func TestGRPCHandshakeCut(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis := NewGRPCListener(ln, GRPCReadBufSize, 0).(*grpcListener)
	defer lis.Close()
	accept := func() (server, client net.Conn) {
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		server, err = lis.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { server.Close() })
		return server, client
	}
	up, upClient := accept()
	up.SetDeadline(time.Now().Add(time.Hour)) // as handleRawConn does
	up.SetDeadline(time.Time{})               // its handshake done
	lis.cutHandshakes(0)

	late, _ := accept()
	late.SetDeadline(time.Now().Add(time.Hour)) // begun after the cut
	read := make(chan error, 1)
	go func() { _, err := late.Read(make([]byte, 1)); read <- err }()
	select {
	case err := <-read:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("a handshake begun after the cut: read %v, want its deadline exceeded", err)
		}
	case <-time.After(defaultTestTimeout):
		t.Errorf("a handshake begun after the cut: read still waiting, its deadline not cut")
	}
	if _, err := upClient.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if n, err := up.Read(make([]byte, 1)); n != 1 || err != nil {
		t.Errorf("a connection past its handshake: read %d, %v; want its byte", n, err)
	}
}
