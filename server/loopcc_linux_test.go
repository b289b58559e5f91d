package server

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"testing"
	"time"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/internal/testenv"
)

// TestRenoOnLoopbackPeers: the server's connections from a client on a
// loopback address use Reno (internal/loopcc), on the gRPC port as
// halfclosed serves it (NewGRPCListener) and on the raw-TCP port, while
// the clients' own sockets keep the system's default; the results are
// whole.
func TestRenoOnLoopbackPeers(t *testing.T) {
	def := testenv.DefaultCongestion(t)
	env := listenerEnv(t, 0, nil)
	input := randBytes(7, 1<<20)
	sum := sha256.Sum256(input)
	want := hex.EncodeToString(sum[:])

	resp, err := digestCall(t, env, header(apiv1.Algorithm_ALGORITHM_SHA256), dataMsg(input))
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetDigests()[0].GetHex(); got != want {
		t.Fatalf("gRPC digest %s, want %s", got, want)
	}
	env.obs.waitStarted(t) // the Digest job's start, so that the wait below is the TCP job's
	// The call is over, its connection still open.
	if got := testenv.AcceptedCongestion(env.grpcAddr); len(got) != 1 || got[0] != "reno" {
		t.Errorf("gRPC: the server's connections use %q, want [reno]", got)
	}
	if got := testenv.PeerCongestion(env.grpcAddr); len(got) != 1 || got[0] != def {
		t.Errorf("gRPC: the client's connections use %q, want [%s] (the test's client sets nothing)", got, def)
	}

	conn, err := net.Dial("tcp", env.tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(defaultTestTimeout))
	if _, err := conn.Write(append([]byte("sha256sum\n"), input...)); err != nil {
		t.Fatal(err)
	}
	env.obs.waitStarted(t) // accepted, its header read
	if got := testenv.AcceptedCongestion(env.tcpAddr); len(got) != 1 || got[0] != "reno" {
		t.Errorf("TCP: the server's connection uses %q, want [reno]", got)
	}
	conn.(*net.TCPConn).CloseWrite()
	reply, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(reply); got != want+"  -\n" {
		t.Fatalf("TCP reply %q, want %q", got, want+"  -\n")
	}
}
