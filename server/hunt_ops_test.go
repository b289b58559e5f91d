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
// (the client sees INTERNAL "internal error" only): a spool dir removed
// under a running server logged "spool: cannot create spill file" and
// not why.
func TestHuntOpsInternalCauseLogged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	logs := &syncbuf.Buffer{}
	s := &TCPServer{
		Engine: engine.New(engine.Config{Registry: testRegistry(), Spool: compute.SpoolConfig{MemBytes: 1 << 10, Dir: dir}}),
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
	if string(got) != "halfclose: error: INTERNAL: internal error\n" {
		t.Fatalf("reply %q", got)
	}
	// The job's line is written before the connection closes.
	if log := logs.String(); !strings.Contains(log, "spool: cannot create spill file: open "+dir) || !strings.Contains(log, "no such file or directory") {
		t.Errorf("the log does not say why:\n%s", log)
	}
}
