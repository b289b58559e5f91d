package e2e

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServerSignalMidReply: the real server gets signals while a raw-TCP
// job is in the middle of a reply larger than the socket buffers, its
// client not reading for now. SIGHUP drains like SIGTERM: the reply is
// finished whole and the server exits 0 (Go's default for SIGHUP killed
// the process, and the kernel ended the cut reply with a FIN, so a bare
// client read a short reply as a complete one). A second SIGTERM or SIGINT
// during the drain cuts the job at once, with a reset, never the FIN of a
// dying process, and the server still exits 0.
func TestServerSignalMidReply(t *testing.T) {
	const outSize = 32 << 20 // far more than loopback's socket buffers hold
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(make([]byte, outSize))
	zw.Close()
	for _, tc := range []struct {
		name    string
		signals []syscall.Signal
		whole   bool // the reply must come whole; else it must be reset
	}{
		{"SIGHUP", []syscall.Signal{syscall.SIGHUP}, true},
		{"SIGTERM twice", []syscall.Signal{syscall.SIGTERM, syscall.SIGTERM}, false},
		{"SIGINT then SIGTERM", []syscall.Signal{syscall.SIGINT, syscall.SIGTERM}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := launch(t, "--shutdown-grace", "1h", "--drain-delay", "0")
			c, err := net.Dial("tcp", d.TCP)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(defaultTestTimeout))
			if _, err := c.Write(append([]byte("gunzip -c\n"), gz.Bytes()...)); err != nil {
				t.Fatal(err)
			}
			c.(*net.TCPConn).CloseWrite()
			first := make([]byte, 1)
			if _, err := io.ReadFull(c, first); err != nil {
				t.Fatalf("the reply did not start: %v\n%s", err, d.log.String())
			}
			// The reply is under way, and its rest waits on this client.
			d.killed.Store(true)
			for i, sig := range tc.signals {
				if i > 0 {
					// The next signal only once the drain has begun:
					// two at once could arrive as one.
					d.waitLogMsg(t, "shutting down")
				}
				if err := d.cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
			}
			n, err := io.Copy(io.Discard, c)
			n += int64(len(first))
			if tc.whole {
				if err != nil || n != outSize {
					t.Errorf("%s mid-reply: read %d of %d bytes, then %v; want the whole reply", tc.name, n, outSize, err)
				}
			} else if !errors.Is(err, syscall.ECONNRESET) {
				// A clean end of a short reply would look complete to nc.
				t.Errorf("%s mid-reply: read %d of %d bytes, then %v; want a reset", tc.name, n, outSize, err)
			}
			select {
			case <-d.exited:
			case <-time.After(defaultTestTimeout):
				d.cmd.Process.Kill()
				<-d.exited
				t.Fatalf("halfclosed did not stop within %v of %s\n%s", defaultTestTimeout, tc.name, d.log.String())
			}
			if d.err != nil {
				t.Errorf("halfclosed exited with %v after %s; want 0\n%s", d.err, tc.name, d.log.String())
			}
			// The log names what cut the job: the second signal, not the
			// end of a grace of an hour.
			cut := slices.ContainsFunc(d.log.records(), func(r map[string]any) bool {
				return r["msg"] == "second signal; cancelled running TCP jobs"
			})
			if cut == tc.whole || strings.Contains(d.log.String(), "grace over") {
				t.Errorf("%s: the log does not name the second signal as what cut the job (or names the grace):\n%s", tc.name, d.log.String())
			}
		})
	}
}

// waitLogMsg waits until the daemon has logged a record with message msg
// (or has exited, which the caller then finds out).
func (d *daemon) waitLogMsg(t testing.TB, msg string) {
	t.Helper()
	deadline := time.Now().Add(defaultTestTimeout)
	for time.Now().Before(deadline) {
		if slices.ContainsFunc(d.log.records(), func(r map[string]any) bool { return r["msg"] == msg }) {
			return
		}
		select {
		case <-d.exited:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("no %q log line within %v; log:\n%s", msg, defaultTestTimeout, d.log.String())
}
