package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLoneClientReachesSmallLimits: --max-jobs and --max-conns (docs/operations.md)
// hold for one client alone, as a test on 127.0.0.1 or a script's
// parallel uploads are: under --max-jobs 2 (or 16, the least derived
// --max-jobs-per-peer) that many jobs of one address run at once and the
// next (nc -N, and the CLI over gRPC) waits --job-wait and is refused by
// that limit, not "from this address"; under --max-conns 2 the third connection is
// refused by it; under --max-jobs 1 --grpc-max-requests 3 one job runs,
// two calls wait for its slot and the fourth is refused by that cap. The
// derived per-address caps were a quarter of the limit, so one address
// got 1 job and 1 open request: its second was refused "too many jobs
// from this address: limit 1" with the limit that was set not reached;
// and its share of the gRPC streams (its job and a quarter of the places
// over it, 2) refused the third call at once (docs/operations.md,
// "Fairness").
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

	// 16: the derived cap is the limit, and the refusal still names the
	// limit that was set (it named "this address").
	for _, jobs := range []int{2, 16} {
		n := strconv.Itoa(jobs)
		t.Run("max-jobs "+n, func(t *testing.T) {
			t.Parallel()
			// A slow machine's pauses must not end the held jobs.
			d := launch(t, "--max-jobs", n, "--job-wait", "100ms", "--idle-timeout", "1h", "--metrics-addr", "127.0.0.1:0")
			held := holdConns(t, d, jobs, "wc -c\na", "halfclose_jobs_in_flight")
			refused := "RESOURCE_EXHAUSTED: too many jobs: " + n + " running, limit " + n + "\n"
			if r := run(t, "", withHeader, ncArgv(t, d.TCP)...); string(r.stdout) != "halfclose: error: "+refused {
				t.Errorf("nc -N: job %d: stdout %q, want %q", jobs+1, r.stdout, "halfclose: error: "+refused)
			}
			if r := run(t, "", in, cli, "--addr", d.GRPC, "wc", "-c"); r.code != 1 || string(r.stderr) != "halfclose: "+refused {
				t.Errorf("halfclose: job %d: exit %d, stderr %q; want exit 1 and %q", jobs+1, r.code, r.stderr, "halfclose: "+refused)
			}
			// The held jobs end with their results: "a" and "b" make "ab".
			endHeld(t, held, "b", want, "held job")
		})
	}

	t.Run("max-conns", func(t *testing.T) {
		t.Parallel()
		d := launch(t, "--max-conns", "2", "--header-timeout", "1h", "--metrics-addr", "127.0.0.1:0")
		held := holdConns(t, d, 2, "", "halfclose_tcp_connections")
		const refused = "halfclose: error: RESOURCE_EXHAUSTED: too many connections: limit 2\n"
		if r := run(t, "", withHeader, ncArgv(t, d.TCP)...); string(r.stdout) != refused {
			t.Errorf("nc -N: third connection: stdout %q, want %q", r.stdout, refused)
		}
		endHeld(t, held, "wc -c\nab", want, "held connection")
	})

	t.Run("grpc-max-requests", func(t *testing.T) {
		t.Parallel()
		// One job runs and two wait --job-wait for its slot, three open
		// streams of --grpc-max-requests 3; the fourth is refused by that
		// cap. A share of the job and a quarter of the places over it (2)
		// refused the third call at once, one over --max-jobs, which
		// waits --job-wait (docs/operations.md).
		d := launch(t, "--max-jobs", "1", "--grpc-max-requests", "3", "--job-wait", "1h", "--idle-timeout", "1h", "--metrics-addr", "127.0.0.1:0")
		metrics := d.metricsAddr(t)
		var held []*heldCLI
		for i, gauge := range []string{"halfclose_jobs_in_flight 1", "halfclose_jobs_waiting 1", "halfclose_jobs_waiting 2"} {
			h := holdCLI(t, cli, "--addr", d.GRPC, "wc", "-c")
			series, value, _ := strings.Cut(gauge, " ")
			want, _ := strconv.ParseFloat(value, 64)
			waitMetricUnless(t, metrics, series, want, func() (string, bool) {
				select {
				case <-h.done:
					return fmt.Sprintf("call %d of 3 ended before the server counted it: %q", i+1, h.stderr.String()), true
				default:
					return "", false
				}
			})
			held = append(held, h)
		}
		const refused = "halfclose: RESOURCE_EXHAUSTED: too many open requests: limit 3\n"
		if r := run(t, "", in, cli, "--addr", d.GRPC, "wc", "-c"); r.code != 1 || string(r.stderr) != refused {
			t.Errorf("halfclose: fourth call: exit %d, stderr %q; want exit 1 and %q", r.code, r.stderr, refused)
		}
		// The held calls end with their results, one at a time in the slot.
		for _, h := range held {
			h.end(t, "b")
		}
		for i, h := range held {
			if err := h.wait(t); err != nil || h.stdout.String() != want {
				t.Errorf("held call %d: %v, stdout %q, stderr %q; want GNU's %q", i+1, err, h.stdout.String(), h.stderr.String(), want)
			}
		}
	})
}

// heldCLI is a halfclose CLI whose input is held open: it has sent "a".
type heldCLI struct {
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	stdout, stderr bytes.Buffer
	done           chan struct{} // closed when the CLI has exited
	err            error         // its exit, once done
}

// holdCLI starts the CLI with argv and sends it "a", leaving its input open.
func holdCLI(t *testing.T, argv ...string) *heldCLI {
	t.Helper()
	h := &heldCLI{cmd: exec.Command(argv[0], argv[1:]...), done: make(chan struct{})}
	h.cmd.Env = cleanEnv()
	h.cmd.Stdout, h.cmd.Stderr = &h.stdout, &h.stderr
	stdin, err := h.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	h.stdin = stdin
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		h.err = h.cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(func() {
		h.cmd.Process.Kill()
		<-h.done
	})
	if _, err := io.WriteString(stdin, "a"); err != nil {
		t.Fatal(err)
	}
	return h
}

// end sends the rest of the input and closes it.
func (h *heldCLI) end(t *testing.T, rest string) {
	t.Helper()
	if _, err := io.WriteString(h.stdin, rest); err != nil {
		t.Fatal(err)
	}
	if err := h.stdin.Close(); err != nil {
		t.Fatal(err)
	}
}

// wait waits for the CLI's exit.
func (h *heldCLI) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-h.done:
		return h.err
	case <-time.After(defaultTestTimeout):
		t.Fatalf("%q did not exit in %v", h.cmd.Args, defaultTestTimeout)
		return nil
	}
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
		waitMetricUnless(t, metrics, gauge, float64(i+1), func() (string, bool) {
			select {
			case line := <-h.reads:
				return fmt.Sprintf("connection %d of %d was answered before the server counted it: %q", i+1, n, line), true
			default:
				return "", false
			}
		})
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

// endHeld ends each held connection with rest and checks that its reply
// is want (GNU's), naming a wrong one what and its number.
func endHeld(t *testing.T, held []*heldConn, rest, want, what string) {
	t.Helper()
	for i, c := range held {
		c.end(t, rest)
		if got := c.readAll(t); got != want {
			t.Errorf("%s %d: %q, want GNU's %q", what, i+1, got, want)
		}
	}
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
