package client

import (
	"bytes"
	"crypto/rand"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/oracle"
	"github.com/halfclose/halfclose/server"
)

// testServer is a ComputeService on a real loopback listener, in front of
// which refuse may fail calls; calls counts the calls that reached it.
type testServer struct {
	addr  string
	calls atomic.Int64
}

// refuseFunc, when set, is asked about each call (the server's index, the
// call's 1-based number on that server) before the service sees it: a
// non-nil error fails the call with it.
type refuseFunc func(server int, n int64, ss grpc.ServerStream) error

func startServers(t *testing.T, n int, refuse refuseFunc) []*testServer {
	t.Helper()
	var out []*testServer
	for i := range n {
		ts := &testServer{}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ts.addr = l.Addr().String()
		gs := grpc.NewServer(grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			n := ts.calls.Add(1)
			if refuse != nil {
				if err := refuse(i, n, ss); err != nil {
					return err
				}
			}
			return h(srv, ss)
		}))
		apiv1.RegisterComputeServiceServer(gs, server.NewComputeService(engine.New(engine.Config{Registry: builtin.Registry()}), server.Options{}))
		go gs.Serve(l)
		t.Cleanup(gs.Stop)
		out = append(out, ts)
	}
	return out
}

func addrsOf(servers []*testServer) string {
	var a []string
	for _, s := range servers {
		a = append(a, s.addr)
	}
	return strings.Join(a, ",")
}

func dialT(t *testing.T, target string) *Client {
	t.Helper()
	c, err := Dial(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func randomInput(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

var sha256Only = []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}

func digestHex(t *testing.T, c *Client, input []byte) (string, error) {
	t.Helper()
	resp, err := c.Digest(ctxT(t), bytes.NewReader(input), sha256Only, nil)
	if err != nil {
		return "", err
	}
	return resp.GetDigests()[0].GetHex(), nil
}

func gnuSHA256(t *testing.T, input []byte) string {
	return strings.Fields(oracle.Output(t, input, "sha256sum"))[0]
}

// TestAddressList: which targets Dial treats as a list of servers.
func TestAddressList(t *testing.T) {
	for _, tc := range []struct {
		target string
		want   []string
		errSub string
	}{
		{"127.0.0.1:1", nil, ""},
		{"dns:///halfclose-headless.ns.svc.cluster.local:50051", nil, ""},
		{"127.0.0.1:1,127.0.0.1:2", []string{"127.0.0.1:1", "127.0.0.1:2"}, ""},
		{"a:1, b:2 ,[::1]:3", []string{"a:1", "b:2", "[::1]:3"}, ""},
		{"a:1,,b:2", nil, `"" is not host:port`},
		{"a:1,b", nil, `"b" is not host:port`},
	} {
		got, ok, err := addressList(tc.target)
		switch {
		case tc.errSub != "":
			if err == nil || !strings.Contains(err.Error(), tc.errSub) {
				t.Errorf("%q: %v, want an error with %q", tc.target, err, tc.errSub)
			}
		case err != nil || ok != (tc.want != nil) || strings.Join(got, " ") != strings.Join(tc.want, " "):
			t.Errorf("%q: %q, %v, %v; want %q", tc.target, got, ok, err, tc.want)
		}
	}
	if _, err := Dial("127.0.0.1:1,nonsense"); err == nil || !strings.Contains(err.Error(), "nonsense") {
		t.Errorf("Dial of a bad list: %v", err)
	}
}

// TestRoundRobin: a Client dialed with three addresses sends its calls to
// each in turn, once all three are connected.
func TestRoundRobin(t *testing.T) {
	servers := startServers(t, 3, nil)
	c := dialT(t, addrsOf(servers))
	input := randomInput(t, 1000)
	want := gnuSHA256(t, input)
	call := func() {
		t.Helper()
		if got, err := digestHex(t, c, input); err != nil || got != want {
			t.Fatalf("Digest: %q, %v; want %s", got, err, want)
		}
	}
	// round_robin sends calls to the servers connected so far: call
	// until each has had one (all are connected then).
	for n := 0; servers[0].calls.Load() == 0 || servers[1].calls.Load() == 0 || servers[2].calls.Load() == 0; n++ {
		if n == 1000 {
			t.Fatalf("1000 calls and not every server had one: %d, %d, %d", servers[0].calls.Load(), servers[1].calls.Load(), servers[2].calls.Load())
		}
		call()
	}
	var before [3]int64
	for i, s := range servers {
		before[i] = s.calls.Load()
	}
	for range 30 {
		call()
	}
	for i, s := range servers {
		if got := s.calls.Load() - before[i]; got != 10 {
			t.Errorf("server %d had %d of 30 calls, want 10", i+1, got)
		}
	}
}

// TestRetryRefused: a call refused with UNAVAILABLE before its input was
// read is retried, on Digest and Run, and gets its result.
func TestRetryRefused(t *testing.T) {
	unavailable := status.Error(codes.Unavailable, "server is shutting down")
	servers := startServers(t, 1, func(_ int, n int64, _ grpc.ServerStream) error {
		if n%3 != 0 { // two refusals, then served
			return unavailable
		}
		return nil
	})
	c := dialT(t, servers[0].addr)
	input := randomInput(t, 100<<10)
	if got, err := digestHex(t, c, input); err != nil || got != gnuSHA256(t, input) {
		t.Fatalf("Digest: %q, %v", got, err)
	}
	if n := servers[0].calls.Load(); n != 3 {
		t.Errorf("Digest: %d attempts, want 3", n)
	}
	var out bytes.Buffer
	if _, err := c.Run(ctxT(t), "wc -c", bytes.NewReader(input), &out); err != nil || out.String() != oracle.Output(t, input, "wc", "-c") {
		t.Fatalf("Run: %q, %v", out.String(), err)
	}
	if n := servers[0].calls.Load(); n != 6 {
		t.Errorf("Run: %d attempts, want 3", n-3)
	}
}

// TestRetryLimits: what is not retried. A call refused with another code;
// a call refused after the client sent more than the retry buffer holds
// (256 KiB), which cannot be replayed; a call that failed every attempt.
func TestRetryLimits(t *testing.T) {
	t.Run("other codes", func(t *testing.T) {
		servers := startServers(t, 1, func(int, int64, grpc.ServerStream) error {
			return status.Error(codes.ResourceExhausted, "too many jobs")
		})
		_, err := digestHex(t, dialT(t, servers[0].addr), []byte("x"))
		if status.Code(err) != codes.ResourceExhausted || servers[0].calls.Load() != 1 {
			t.Fatalf("%v after %d attempts; want RESOURCE_EXHAUSTED after 1", err, servers[0].calls.Load())
		}
	})
	t.Run("past the retry buffer", func(t *testing.T) {
		servers := startServers(t, 1, func(_ int, n int64, ss grpc.ServerStream) error {
			if n > 1 {
				return nil
			}
			// Read 512 KiB of the input, then refuse.
			var got int
			for got < 512<<10 {
				var m apiv1.DigestRequest
				if err := ss.RecvMsg(&m); err != nil {
					return err
				}
				got += len(m.GetData())
			}
			return status.Error(codes.Unavailable, "server is shutting down")
		})
		_, err := digestHex(t, dialT(t, servers[0].addr), randomInput(t, 1<<20))
		if status.Code(err) != codes.Unavailable || servers[0].calls.Load() != 1 {
			t.Fatalf("%v after %d attempts; want UNAVAILABLE after 1", err, servers[0].calls.Load())
		}
	})
	t.Run("every attempt refused", func(t *testing.T) {
		servers := startServers(t, 1, func(int, int64, grpc.ServerStream) error {
			return status.Error(codes.Unavailable, "server is shutting down")
		})
		_, err := digestHex(t, dialT(t, servers[0].addr), []byte("x"))
		if status.Code(err) != codes.Unavailable || servers[0].calls.Load() != 4 {
			t.Fatalf("%v after %d attempts; want UNAVAILABLE after 4", err, servers[0].calls.Load())
		}
	})
}

// TestRetryElsewhere: with several servers, the calls one of them
// refuses (as a server being stopped might) are served by the others.
func TestRetryElsewhere(t *testing.T) {
	var refusals atomic.Int64
	servers := startServers(t, 3, func(i int, n int64, _ grpc.ServerStream) error {
		if i != 1 || n > 3 {
			return nil
		}
		refusals.Add(1)
		return status.Error(codes.Unavailable, "server is shutting down")
	})
	c := dialT(t, addrsOf(servers))
	input := randomInput(t, 10<<10)
	want := gnuSHA256(t, input)
	calls := int64(0)
	for refusals.Load() < 3 {
		if calls == 1000 {
			t.Fatalf("1000 calls and %d refusals", refusals.Load())
		}
		if got, err := digestHex(t, c, input); err != nil || got != want {
			t.Fatalf("Digest: %q, %v", got, err)
		}
		calls++
	}
	if got := servers[0].calls.Load() + servers[1].calls.Load() + servers[2].calls.Load(); got != calls+3 {
		t.Errorf("%d attempts in all, want %d: %d calls and 3 retries", got, calls+3, calls)
	}
}
