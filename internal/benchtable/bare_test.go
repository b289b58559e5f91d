//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/internal/oracle"
)

// bareClient serves bareDigest over bufconn and returns a client of it.
func bareClient(t *testing.T) apiv1.ComputeServiceClient {
	t.Helper()
	l := bufconn.Listen(1 << 20)
	s := grpc.NewServer()
	apiv1.RegisterComputeServiceServer(s, bareDigest{})
	go s.Serve(l)
	t.Cleanup(s.Stop)
	cc, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return l.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return apiv1.NewComputeServiceClient(cc)
}

// TestBareDigest: the chain rows' baseline answers a Digest call with
// the digest GNU sha256sum prints for the bytes of its data and text
// messages, and its size: a fast wrong answer would make a baseline no
// row could be held to.
func TestBareDigest(t *testing.T) {
	c := bareClient(t)
	for _, chunks := range [][]string{
		nil,
		{strings.Repeat("x", 1024)},
		{"", "bc", strings.Repeat("\x00\xff", 40000), "d"}, // data, text, data, text
	} {
		ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
		st, err := c.Digest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		err = st.Send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Header{Header: &apiv1.DigestHeader{
			Algorithms: []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}}}})
		var all []byte
		for i, ch := range chunks {
			if err != nil {
				break
			}
			m := &apiv1.DigestRequest{Message: &apiv1.DigestRequest_Data{Data: []byte(ch)}}
			if i%2 == 1 {
				m.Message = &apiv1.DigestRequest_Text{Text: ch}
			}
			err = st.Send(m)
			all = append(all, ch...)
		}
		if err != nil {
			t.Fatal(err)
		}
		resp, err := st.CloseAndRecv()
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		want := oracle.Output(t, all, "sha256sum")
		ds := resp.GetDigests()
		if len(ds) != 1 || ds[0].GetAlgorithm() != apiv1.Algorithm_ALGORITHM_SHA256 {
			t.Fatalf("digests %v, want one SHA-256", ds)
		}
		if got := ds[0].GetHex() + "  -\n"; got != want {
			t.Errorf("%d chunks: hex %q, sha256sum %q", len(chunks), got, want)
		}
		if !bytes.Equal(ds[0].GetRaw(), must(hex.DecodeString(ds[0].GetHex()))) {
			t.Errorf("%d chunks: raw %x, hex %s", len(chunks), ds[0].GetRaw(), ds[0].GetHex())
		}
		if resp.GetSize() != int64(len(all)) {
			t.Errorf("%d chunks: size %d, want %d", len(chunks), resp.GetSize(), len(all))
		}
	}
}

// TestBareDigestRefuses: a stream without a SHA-256 header is refused,
// not hashed.
func TestBareDigestRefuses(t *testing.T) {
	c := bareClient(t)
	for name, first := range map[string]*apiv1.DigestRequest{
		"none":      nil,
		"data":      {Message: &apiv1.DigestRequest_Data{Data: []byte("x")}},
		"md5":       {Message: &apiv1.DigestRequest_Header{Header: &apiv1.DigestHeader{Algorithms: []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_MD5}}}},
		"two algos": {Message: &apiv1.DigestRequest_Header{Header: &apiv1.DigestHeader{Algorithms: []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256, apiv1.Algorithm_ALGORITHM_MD5}}}},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
		st, err := c.Digest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if first != nil {
			if err := st.Send(first); err != nil {
				t.Fatal(err)
			}
		}
		_, err = st.CloseAndRecv()
		cancel()
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
}

// TestChainOrders: each server is loaded first, second and third in as
// many rounds, and follows each other server as often, so that a drift
// of the machine falls on all alike.
func TestChainOrders(t *testing.T) {
	var pos [chainServers][chainServers]int
	var after [chainServers][chainServers]int
	seen := map[[chainServers]int]bool{}
	for _, o := range chainOrders {
		if seen[o] {
			t.Errorf("order %v twice", o)
		}
		seen[o] = true
		for i, k := range o {
			pos[k][i]++
			if i > 0 {
				after[k][o[i-1]]++
			}
		}
	}
	for k := range chainServers {
		for i := range chainServers {
			if pos[k][i] != len(chainOrders)/chainServers {
				t.Errorf("server %d is load %d of %d rounds, want %d", k, i, pos[k][i], len(chainOrders)/chainServers)
			}
			if i != k && after[k][i] != after[i][k] {
				t.Errorf("server %d follows %d %d times, and %d follows %d %d times", k, i, after[k][i], i, k, after[i][k])
			}
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestChainRow: a row is its baseline's median calls/s times the median
// ratio of its loads to the baseline's load of the same round, and its
// note names the server's and ghz's CPU a call.
func TestChainRow(t *testing.T) {
	chainRuns.once.Do(func() {}) // measured: the loads below
	chainRuns.loads[chainBareGRPC] = chainLoads{rps: []float64{100, 200, 300}, cpu: []float64{30, 31, 29}, ghzCPU: []float64{50, 49, 51}}
	chainRuns.loads[chainFull] = chainLoads{rps: []float64{90, 150, 330}, cpu: []float64{38, 37, 39}, ghzCPU: []float64{53, 52, 54}}
	base, err := chainRow(nil, chainBareGRPC, chainBareGRPC)
	if err != nil {
		t.Fatal(err)
	}
	full, err := chainRow(nil, chainFull, chainBareGRPC)
	if err != nil {
		t.Fatal(err)
	}
	// Ratios 0.9, 0.75, 1.1: median 0.9, times the baseline's median 200.
	if base.Bytes != 200*1024 || full.Bytes != 180*1024 {
		t.Errorf("bytes %d and %d, want %d and %d", base.Bytes, full.Bytes, 200*1024, 180*1024)
	}
	for _, want := range []string{"median 0.90, 0.75–1.10", "server CPU 38 µs (37–39) per call, ghz's 53 µs (52–54)"} {
		if !strings.Contains(full.Note, want) {
			t.Errorf("note %q lacks %q", full.Note, want)
		}
	}
	if want := "server CPU 30 µs (29–31) per call, ghz's 50 µs (49–51)"; !strings.Contains(base.Note, want) {
		t.Errorf("note %q lacks %q", base.Note, want)
	}
}
