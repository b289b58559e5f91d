package server

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/syncbuf"
)

// TestHuntReplyNeverReadTCP: a raw-TCP client that sends its input and
// its FIN and then reads nothing of the reply loses its job to the idle
// timeout (outcome idle), its connection reset, not closed with a FIN,
// and the job's log line says why as a gRPC job's does ("the reply was
// not read for 200ms (idle timeout)"), over plain TCP (written, or sent
// by sendfile from the spill file) and TLS. It said "readfrom tcp
// A->B: i/o timeout" (sendfile), "write tcp A->B: i/o timeout", or
// crypto/tls's words.
func TestHuntReplyNeverReadTCP(t *testing.T) {
	const idle = shortTimeout
	input := randBytes(22, 320<<10)
	for _, c := range []struct {
		name       string
		noSendFile bool
		tls        bool
	}{
		{"written", true, false},
		{"sendfile", false, false},
		{"tls", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			logs := &syncbuf.Buffer{}
			obs := &recordingObserver{started: make(chan string, 10), ended: make(chan string, 10)}
			srv := &TCPServer{
				Engine: engine.New(engine.Config{Registry: testRegistry(),
					Spool: compute.SpoolConfig{MemBytes: 64 << 10, Dir: t.TempDir(), Disk: compute.NewDiskBudget(64 << 20)}}),
				Observer: obs, IdleTimeout: idle, NoSendFile: c.noSendFile,
				Logger: slog.New(slog.NewTextHandler(logs, nil)),
			}
			conn := serveSmallBuffers(t, srv, c.tls)
			if _, err := io.WriteString(conn, "testcat\n"); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Write(input); err != nil {
				t.Fatal(err)
			}
			if err := conn.CloseWrite(); err != nil { // FIN, or close_notify
				t.Fatal(err)
			}
			if oc := obs.nextOutcome(t); oc != OutcomeIdle {
				t.Fatalf("outcome %q, want %q", oc, OutcomeIdle)
			}
			// Reading at last: part of the reply, then the reset.
			got, err := io.ReadAll(conn)
			if !errors.Is(err, syscall.ECONNRESET) || len(got) >= len(input) {
				t.Fatalf("read %d of %d bytes, then %v; want part of the reply, then a reset", len(got), len(input), err)
			}
			// The job's line is written before the reset.
			want := `job.outcome=idle job.error="the reply was not read for 200ms (idle timeout)"`
			if log := logs.String(); !strings.Contains(log, want) {
				t.Errorf("the job's line lacks %s:\n%s", want, log)
			}
		})
	}
}
