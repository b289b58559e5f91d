package server

import (
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
)

// TestTCPResetSpilledReplyCountsDelivered: a spilled raw-TCP reply, all
// but its first 4 KiB sent by sendfile(2), reset at the idle timeout of a
// client that read nothing, counts what reached the client, the bytes
// sendfile sent among them, as TestTCPResetReplyCountsDelivered's
// buffered reply does. (Not exactly: the client may read on between the
// job's end and the reset.) With sendfile's bytes left out of the count,
// the job counted 0: what it counted was less than the kernel held.
//
// The idle timeout that stalls the reply also ends an upload that a busy
// machine left without a byte for that long (outcome idle, nothing
// written: a reset with no reply); such a run is run again under a
// timeout 4 times longer.
func TestTCPResetSpilledReplyCountsDelivered(t *testing.T) {
	for idle := 200 * time.Millisecond; ; idle *= 4 {
		out, outcome, got, err := resetSpilledReply(t, idle)
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("read %d bytes, %v: want a reset", got, err)
		}
		if outcome == OutcomeIdle && out == 0 && got == 0 && idle < 10*time.Second {
			t.Logf("idle timeout %v: the upload stalled past it; again with %v", idle, 4*idle)
			continue
		}
		if outcome != OutcomeIdle || out > got || out == 0 {
			t.Errorf("the job counted %d output bytes (outcome %s); the client received %d", out, outcome, got)
		}
		return
	}
}

// resetSpilledReply runs a testcat of 16 MiB, spilled, on a server whose
// idle timeout is idle, for a client that reads nothing until the job
// has ended: what the job counted, its outcome, and what the client then
// read and how its read ended.
func resetSpilledReply(t *testing.T, idle time.Duration) (out int64, outcome string, got int64, err error) {
	obs := outObserver{ended: make(chan [2]string, 10)}
	srv := &TCPServer{
		Engine: engine.New(engine.Config{Registry: testRegistry(),
			Spool: compute.SpoolConfig{MemBytes: 4 << 10, Dir: t.TempDir(), Disk: compute.NewDiskBudget(64 << 20)}}),
		Observer: obs, IdleTimeout: idle,
	}
	addr := serveTCP(t, srv)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tc := c.(*net.TCPConn)
	tc.SetReadBuffer(1 << 20)
	c.SetDeadline(time.Now().Add(defaultTestTimeout))
	go func() {
		io.WriteString(c, "testcat\n")
		c.Write(make([]byte, 16<<20))
		tc.CloseWrite()
	}()
	e := testenv.Recv(t, hangTimeout, "the job's end", obs.ended) // nothing is read until the job has ended
	got, err = io.Copy(io.Discard, c)
	out, _ = strconv.ParseInt(e[1], 10, 64)
	return out, e[0], got, err
}
