package server

import (
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/syncbuf"

	"google.golang.org/grpc/codes"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
)

// TestHuntOpsTokenFileBOM: a token file saved by a Windows editor (a byte
// order mark, CRLF) holds the token itself, not the mark in front of it:
// the client that sends the token was refused PERMISSION_DENIED.
func TestHuntOpsTokenFileBOM(t *testing.T) {
	a, err := LoadTokenFile(writeFile(t, "tokens", "\ufeffmytoken\r\nother\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	for tok, want := range map[string]bool{"mytoken": true, "other": true, "\ufeffmytoken": false} {
		if got := a.valid(tok); got != want {
			t.Errorf("valid(%q) = %v, want %v", tok, got, want)
		}
	}
}

// TestHuntOpsInternalCauseLogged: a server fault's cause reaches the log
// (the client sees that the spool failed, never its path): a spool dir
// removed under a running server logged "spool: cannot create spill
// file" and not why. (The client saw INTERNAL "internal error"; it is
// UNAVAILABLE now, see TestSpoolDirBroken.)
func TestHuntOpsInternalCauseLogged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	logs := &syncbuf.Buffer{}
	s := &TCPServer{
		Engine: engine.New(engine.Config{Registry: testRegistry(), Spool: compute.SpoolConfig{MemBytes: 1 << 10, SortMinBytes: -1, Dir: dir}}),
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Serve(l); close(done) }()
	t.Cleanup(func() { s.Close(); <-done })

	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(defaultTestTimeout))
	go func() {
		io.WriteString(c, "sort\n"+strings.Repeat("b\na\n", 4<<10))
		c.(*net.TCPConn).CloseWrite()
	}()
	got, _ := io.ReadAll(c)
	if string(got) != "halfclose: error: UNAVAILABLE: spool: spill files cannot be written on this server\n" {
		t.Fatalf("reply %q", got)
	}
	// The job's line is written before the connection closes.
	if log := logs.String(); !strings.Contains(log, "cannot create spill file: open "+dir) || !strings.Contains(log, "no such file or directory") {
		t.Errorf("the log does not say why:\n%s", log)
	}
}

// TestHuntOpsRateLimitSkipsReflection: --rate-limit counts jobs, and
// grpcurl asks reflection before each call: reflection spent the peer's
// tokens (a grpcurl job took several), and once they were gone a grpcurl
// health check failed RESOURCE_EXHAUSTED at its reflection step.
func TestHuntOpsRateLimitSkipsReflection(t *testing.T) {
	addr, _ := startTestServer(t, ChainConfig{RateLimit: NewPeerLimiter(0.001, 1)})
	cc := dial(t, addr, nil)
	ctx := testCtx(t, "")
	for range 3 {
		st, err := rpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Recv(); err != nil {
			t.Fatalf("reflection under the rate limit: %v", err)
		}
		st.CloseSend()
		if _, err := st.Recv(); err != io.EOF {
			t.Fatalf("reflection end: %v", err)
		}
	}
	// The token is still there for the call that runs something.
	if _, err := callEcho(ctx, cc, "x"); err != nil {
		t.Fatalf("first call after reflection: %v", err)
	}
	_, err := callEcho(ctx, cc, "x")
	wantStatus(t, err, codes.ResourceExhausted, "rate limit exceeded for peer")
}
