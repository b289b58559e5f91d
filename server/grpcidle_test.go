package server

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
)

// listenerEnv is a test server whose gRPC connections are
// NewGRPCListener's, as halfclosed serves them: in the clear, or with
// TLS (tlsCfg) through CountingCreds. Clients may ping as often as they
// like (keepalive), so that pings are seen to renew nothing.
func listenerEnv(t *testing.T, idle time.Duration, tlsCfg credentials.TransportCredentials) *testEnv {
	opts := []grpc.ServerOption{grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Nanosecond, PermitWithoutStream: true})}
	bufSize := GRPCReadBufSize
	if tlsCfg != nil {
		opts = append(opts, grpc.Creds(CountingCreds(tlsCfg)))
		bufSize = 0
	} else {
		opts = append(opts, grpc.ReadBufferSize(0))
	}
	return startEnv(t, envConfig{idle: idle, grpcOpts: opts, grpcListener: func(l net.Listener) net.Listener {
		return NewGRPCListener(l, bufSize, 0)
	}})
}

// pacedConn is a client's connection on a slow link: its writes go out
// in pieces of piece bytes, pace apart (the link's pace, not a
// synchronisation).
type pacedConn struct {
	net.Conn
	piece int
	pace  time.Duration
}

func (c *pacedConn) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), c.piece)
		m, err := c.Conn.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
		time.Sleep(c.pace)
	}
	return n, nil
}

// pacedClient dials addr over a slow link (pacedConn).
func pacedClient(t *testing.T, addr string, creds credentials.TransportCredentials, piece int, pace time.Duration) apiv1.ComputeServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			return &pacedConn{Conn: c, piece: piece, pace: pace}, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return apiv1.NewComputeServiceClient(conn)
}

// TestGRPCSlowMessageNotIdle: one data message that takes longer than
// --idle-timeout to arrive, its bytes coming all along (a large message
// on a slow link), is no idle client: its stream is served, whether the
// message is the first data of the stream or comes after some, in the
// clear or under TLS. grpc-go hands the service a message only once it
// is whole; the connection's DATA bytes renew the wait (inputWatch).
// (Before, the stream was aborted as idle after --idle-timeout.)
func TestGRPCSlowMessageNotIdle(t *testing.T) {
	// 64 KiB in pieces of 4 KiB idle/10 apart: 1.6 idle timeouts for the
	// message, and a gap between two pieces may stretch 10 times (a busy
	// machine: a full second) before the server is right to call the
	// client idle.
	const idle = time.Second
	input := randBytes(11, 64<<10)
	want := sha256.Sum256(input)
	pki := newTestPKI(t)
	srvTLS, err := LoadServerTLS(pki.ServerCert, pki.ServerKey, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		tls   bool
		first int // bytes sent in a message of their own before the slow one
	}{
		{"first message", false, 0},
		{"after input", false, 1000},
		{"tls first message", true, 0},
		{"tls after input", true, 1000},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var srvCreds credentials.TransportCredentials
			creds := insecure.NewCredentials()
			if c.tls {
				srvCreds, creds = credentials.NewTLS(srvTLS), credentials.NewTLS(pki.ClientTLS(t, false))
			}
			env := listenerEnv(t, idle, srvCreds)
			client := pacedClient(t, env.grpcAddr, creds, 4<<10, idle/10)
			stream, err := client.Digest(jobCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			stream.Send(header(apiv1.Algorithm_ALGORITHM_SHA256))
			if c.first > 0 {
				stream.Send(dataMsg(input[:c.first]))
			}
			stream.Send(dataMsg(input[c.first:]))
			resp, err := stream.CloseAndRecv()
			if err != nil {
				t.Fatalf("slow message: %v (outcome %s)", err, env.obs.nextOutcome(t))
			}
			if got := resp.GetDigests()[0].GetHex(); got != hex.EncodeToString(want[:]) || resp.GetSize() != int64(len(input)) {
				t.Fatalf("%d bytes, sha256 %s; want %d bytes, %x", resp.GetSize(), got, len(input), want)
			}
			if oc := env.obs.nextOutcome(t); oc != "ok" {
				t.Fatalf("outcome %q, want ok", oc)
			}
		})
	}
}

// TestGRPCStalledStreamIdle: what renews the idle wait is DATA bytes that
// make no message of the stream. A stream whose bytes stop mid-message
// (after dripping for longer than the idle timeout, or at once), or that
// gets no bytes at all, or only keepalive PINGs (as often as the server
// lets its clients ping), or only empty data messages, is still aborted
// as idle: DEADLINE_EXCEEDED, outcome idle.
func TestGRPCStalledStreamIdle(t *testing.T) {
	const idle = 200 * time.Millisecond
	const run = "/halfclose.v1.ComputeService/Run"
	msg := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		f := make([]byte, 5, 5+len(b))
		binary.BigEndian.PutUint32(f[1:], uint32(len(b)))
		return append(f, b...)
	}
	whole := msg(runData([]byte("some input")))
	// The start of a message of 100,000 bytes, and its bytes to come.
	big := msg(runData(randBytes(5, 100000)))
	for _, c := range []struct {
		name   string
		before [][]byte                           // DATA frames after the header, at once
		drip   func(fr *http2.Framer, i int) bool // the client's frame every idle/10; false: no more
	}{
		{"nothing", nil, nil},
		{"nothing after input", [][]byte{whole}, nil},
		{"stops mid first message", [][]byte{big[:1000]}, nil},
		{"stops mid message after input", [][]byte{whole, big[:1000]}, nil},
		{"drips then stops mid message", [][]byte{whole, big[:1000]}, func(fr *http2.Framer, i int) bool {
			// 20 pieces of 1000 bytes: two idle timeouts of bytes, then
			// none.
			if i >= 20 {
				return false
			}
			fr.WriteData(1, false, big[1000*(i+1):1000*(i+2)])
			return true
		}},
		{"pings", [][]byte{whole}, func(fr *http2.Framer, i int) bool {
			fr.WritePing(false, [8]byte{byte(i)})
			return true
		}},
		{"empty messages", nil, func(fr *http2.Framer, _ int) bool {
			fr.WriteData(1, false, msg(runData([]byte{})))
			return true
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := listenerEnv(t, idle, nil)
			h2 := dialH2(t, env.grpcAddr)
			h2.call(1, run)
			h2.send(1, runHeader("testcat"), false)
			for _, f := range c.before {
				if err := h2.fr.WriteData(1, false, f); err != nil {
					t.Fatal(err)
				}
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			if c.drip != nil {
				// A framer of its own: frames are written whole, each in
				// one Write, while the test reads the connection.
				fr := http2.NewFramer(h2.conn, nil)
				wg.Add(1)
				go func() {
					defer wg.Done()
					tick := time.NewTicker(idle / 10) // the client's pace
					defer tick.Stop()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						case <-tick.C:
						}
						if !c.drip(fr, i) {
							return
						}
					}
				}()
			}
			code, msg := h2.status(1)
			close(stop)
			testenv.Within(t, hangTimeout, "the connection's goroutines", wg.Wait)
			if code != codes.DeadlineExceeded {
				t.Fatalf("status %v %q, want DEADLINE_EXCEEDED", code, msg)
			}
			if oc := env.obs.nextOutcome(t); oc != "idle" {
				t.Fatalf("outcome %q, want idle", oc)
			}
		})
	}
}

// TestGRPCTrafficRegistry: every connection of NewGRPCListener is known
// by its two ends while it is open, and forgotten once closed: a server
// that stopped leaves no entry.
func TestGRPCTrafficRegistry(t *testing.T) {
	before := openTraffic()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	svc := NewComputeService(engine.New(engine.Config{Registry: testRegistry()}), Options{IdleTimeout: time.Minute})
	srv := grpc.NewServer(grpc.InTapHandle(svc.TapHandle), CodecOption(), grpc.ReadBufferSize(0))
	apiv1.RegisterComputeServiceServer(srv, svc)
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(NewGRPCListener(l, GRPCReadBufSize, 0))
	}()
	const clients = 3
	for i := range clients {
		conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		stream, err := apiv1.NewComputeServiceClient(conn).Digest(jobCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		stream.Send(header(apiv1.Algorithm_ALGORITHM_SHA256))
		stream.Send(dataMsg([]byte{byte(i)}))
		if _, err := stream.CloseAndRecv(); err != nil {
			t.Fatal(err)
		}
	}
	if n := openTraffic() - before; n != clients {
		t.Fatalf("%d connections known, want %d", n, clients)
	}
	srv.Stop()
	testenv.Recv(t, hangTimeout, "Serve's return after Stop", served)
	if n := openTraffic() - before; n != 0 {
		t.Fatalf("%d connections still known after Stop", n)
	}
}
