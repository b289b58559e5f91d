package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLoneClientReachesSmallLimits: DESIGN's --max-jobs and --max-conns
// hold for one client alone, as a test on 127.0.0.1 or a script's
// parallel uploads are: under --max-jobs 2 two jobs of one address run at
// once and the third (nc -N, and the CLI over gRPC) waits --job-wait and
// is refused by that limit; under --max-conns 2 the third connection is
// refused by it. The derived per-address caps were a quarter of the
// limit, so one address got 1 job and 1 open request: its second was
// refused "too many jobs from this address: limit 1" with the limit that
// was set not reached (docs/operations.md, "Fairness").
func TestLoneClientReachesSmallLimits(t *testing.T) {
	t.Parallel()
	cli := bin(t, "halfclose")
	dir := t.TempDir()
	in, withHeader := filepath.Join(dir, "in"), filepath.Join(dir, "header+in")
	if err := os.WriteFile(in, []byte("ab"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(withHeader, []byte("wc -c\nab"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := string(gnu(t, in, "wc", "-c"))

	t.Run("max-jobs", func(t *testing.T) {
		t.Parallel()
		// A slow machine's pauses must not end the held jobs.
		d := launch(t, "--max-jobs", "2", "--job-wait", "100ms", "--idle-timeout", "1h", "--metrics-addr", "127.0.0.1:0")
		held := holdConns(t, d, 2, "wc -c\na", "halfclose_jobs_in_flight")
		const refused = "RESOURCE_EXHAUSTED: too many jobs: 2 running, limit 2\n"
		if r := run(t, "", withHeader, ncArgv(t, d.TCP)...); string(r.stdout) != "halfclose: error: "+refused {
			t.Errorf("nc -N: third job: stdout %q, want %q", r.stdout, "halfclose: error: "+refused)
		}
		if r := run(t, "", in, cli, "--addr", d.GRPC, "wc", "-c"); r.code != 1 || string(r.stderr) != "halfclose: "+refused {
			t.Errorf("halfclose: third job: exit %d, stderr %q; want exit 1 and %q", r.code, r.stderr, "halfclose: "+refused)
		}
		// The two held jobs end with their results: "a" and "b" make "ab".
		for i, c := range held {
			c.end(t, "b")
			if got := c.readAll(t); got != want {
				t.Errorf("held job %d: %q, want GNU's %q", i+1, got, want)
			}
		}
	})

	t.Run("max-conns", func(t *testing.T) {
		t.Parallel()
		d := launch(t, "--max-conns", "2", "--header-timeout", "1h", "--metrics-addr", "127.0.0.1:0")
		held := holdConns(t, d, 2, "", "halfclose_tcp_connections")
		const refused = "halfclose: error: RESOURCE_EXHAUSTED: too many connections: limit 2\n"
		if r := run(t, "", withHeader, ncArgv(t, d.TCP)...); string(r.stdout) != refused {
			t.Errorf("nc -N: third connection: stdout %q, want %q", r.stdout, refused)
		}
		for i, c := range held {
			c.end(t, "wc -c\nab")
			if got := c.readAll(t); got != want {
				t.Errorf("held connection %d: %q, want GNU's %q", i+1, got, want)
			}
		}
	})
}

// holdConns opens n connections to d's command port, each sending first
// (a header line and some input, or nothing), and returns once the
// gauge counts all n. A connection the server answers before that was
// refused: the test fails with the server's line.
func holdConns(t *testing.T, d *daemon, n int, first, gauge string) []*heldConn {
	t.Helper()
	metrics := d.metricsAddr(t)
	var conns []*heldConn
	for i := range n {
		c, err := net.Dial("tcp", d.TCP)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.Write([]byte(first)); err != nil {
			t.Fatal(err)
		}
		h := &heldConn{c: c.(*net.TCPConn), reads: make(chan string, 1)}
		h.read()
		deadline := time.Now().Add(defaultTestTimeout)
		for scrapeValue(t, metrics, gauge) != float64(i+1) {
			select {
			case line := <-h.reads:
				t.Fatalf("connection %d of %d was answered before the server counted it (%s): %q", i+1, n, gauge, line)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not reach %d in %v", gauge, i+1, defaultTestTimeout)
			}
			time.Sleep(20 * time.Millisecond)
		}
		conns = append(conns, h)
	}
	return conns
}

// heldConn is a held connection, read by one goroutine at a time from
// the start: what the server sends before the test ends the input shows.
type heldConn struct {
	c     *net.TCPConn
	reads chan string // each read's bytes; "" at the end or an error
}

func (h *heldConn) read() {
	go func() {
		var b [512]byte
		k, _ := h.c.Read(b[:])
		h.reads <- string(b[:k])
	}()
}

// end sends the rest of the input and the FIN.
func (h *heldConn) end(t *testing.T, rest string) {
	t.Helper()
	if _, err := h.c.Write([]byte(rest)); err != nil {
		t.Fatal(err)
	}
	if err := h.c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
}

// readAll reads the reply to its end.
func (h *heldConn) readAll(t *testing.T) string {
	t.Helper()
	h.c.SetReadDeadline(time.Now().Add(defaultTestTimeout))
	var sb strings.Builder
	for chunk := <-h.reads; chunk != ""; chunk = <-h.reads {
		sb.WriteString(chunk)
		h.read()
	}
	return sb.String()
}
