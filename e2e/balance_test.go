package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/client"
)

// grpcCalls counts the ComputeService calls the daemon has logged.
func (d *daemon) grpcCalls() int {
	n := 0
	for _, r := range d.log.records() {
		if r["msg"] == "finished call" && r["grpc.service"] == "halfclose.v1.ComputeService" {
			n++
		}
	}
	return n
}

// outcomes counts the daemon's jobs by outcome.
func (d *daemon) outcomes() map[string]int {
	out := map[string]int{}
	for _, r := range d.log.records() {
		if job, ok := r["job"].(map[string]any); ok {
			oc, _ := job["outcome"].(string)
			out[oc]++
		}
	}
	return out
}

// callLoops runs calls against a fleet until stopped: workers Go client
// loops (Digest, alternately 64 KiB and 1 MiB, through one Client dialed
// with every address) and one CLI loop (halfclose --addr a,b,c sha256sum
// FILE, a new process each time). Every result is compared with GNU
// sha256sum's.
type callLoops struct {
	calls, cliCalls atomic.Int64
	mu              sync.Mutex // protects failures
	failures        []string
	stop            chan struct{}
	wg              sync.WaitGroup
}

func startCallLoops(t *testing.T, addrs string, workers int) *callLoops {
	t.Helper()
	files := []string{randomFile(t, 64<<10), randomFile(t, 1<<20)}
	var wants []string
	for _, f := range files {
		wants = append(wants, strings.Fields(string(gnu(t, f, "sha256sum")))[0])
	}
	c, err := client.Dial(addrs)
	if err != nil {
		t.Fatal(err)
	}
	l := &callLoops{stop: make(chan struct{})}
	t.Cleanup(func() { l.halt(); c.Close() })
	stopped := func() bool {
		select {
		case <-l.stop:
			return true
		default:
			return false
		}
	}
	for w := range workers {
		l.wg.Go(func() {
			for i := w; !stopped(); i++ {
				f, want := files[i%2], wants[i%2]
				got, err := digestFile(c, f)
				l.calls.Add(1)
				if err != nil || got != want {
					l.fail(fmt.Sprintf("Go client, %s: %q, %v", f, got, err))
				}
			}
		})
	}
	cli := bin(t, "halfclose")
	cliWant := string(gnu(t, files[0], "sha256sum"))
	cliWant = strings.Replace(cliWant, "  -\n", "  "+files[0]+"\n", 1)
	l.wg.Go(func() {
		for !stopped() {
			ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
			cmd := exec.CommandContext(ctx, cli, "--addr", addrs, "sha256sum", files[0])
			cmd.Env = cleanEnv()
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			cancel()
			l.cliCalls.Add(1)
			if err != nil || stdout.String() != cliWant {
				l.fail(fmt.Sprintf("CLI: %v: stdout %q, stderr %q", err, stdout.String(), stderr.String()))
			}
		}
	})
	return l
}

func digestFile(c *client.Client, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	resp, err := c.Digest(ctx, f, []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}, nil)
	if err != nil {
		return "", err
	}
	return resp.GetDigests()[0].GetHex(), nil
}

func (l *callLoops) fail(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = append(l.failures, msg)
}

// halt stops the loops and waits for their last calls.
func (l *callLoops) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// waitFor polls cond until it is true, failing the test after
// defaultTestTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(defaultTestTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, defaultTestTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFleetClientRidesThroughRestart: the Go client and the CLI, given the
// addresses of three servers, spread their calls over all three, and loops
// of calls ride through a SIGTERM and restart of one server with no failed
// call and no wrong result: calls in flight finish on the stopping server,
// new ones go to the others (GOAWAY, refused connections: gRPC retries
// what the server never processed), and calls come back to the restarted
// server.
func TestFleetClientRidesThroughRestart(t *testing.T) {
	need(t, "sha256sum")
	var ds []*daemon
	var addrs []string
	for range 3 {
		d := launch(t)
		ds = append(ds, d)
		addrs = append(addrs, d.GRPC)
	}
	loops := startCallLoops(t, strings.Join(addrs, ","), 4)

	// Spread: every server serves calls.
	waitFor(t, "every server serves 10 calls", func() bool {
		return ds[0].grpcCalls() >= 10 && ds[1].grpcCalls() >= 10 && ds[2].grpcCalls() >= 10
	})
	t.Logf("calls per server before the restart: %d, %d, %d", ds[0].grpcCalls(), ds[1].grpcCalls(), ds[2].grpcCalls())

	// SIGTERM the second server under load; it drains and exits 0.
	old := ds[1]
	old.term(t)
	before := loops.calls.Load() + loops.cliCalls.Load()
	waitFor(t, "calls go on without the second server", func() bool {
		return loops.calls.Load()+loops.cliCalls.Load() >= before+20
	})
	// Restarted on the same addresses, it gets calls again.
	ds[1] = launch(t, "--grpc-addr", old.GRPC, "--tcp-addr", old.TCP)
	waitFor(t, "the restarted server serves 10 calls", func() bool { return ds[1].grpcCalls() >= 10 })
	loops.halt()

	t.Logf("%d Go client calls, %d CLI calls; stopped server: %d calls, %v; restarted: %d calls",
		loops.calls.Load(), loops.cliCalls.Load(), old.grpcCalls(), old.outcomes(), ds[1].grpcCalls())
	loops.mu.Lock()
	defer loops.mu.Unlock()
	if len(loops.failures) > 0 {
		t.Errorf("%d failed calls, the first ones:\n%s", len(loops.failures), strings.Join(loops.failures[:min(10, len(loops.failures))], "\n"))
	}
	for i, d := range append(ds, old) {
		for oc, n := range d.outcomes() {
			if oc != "ok" {
				t.Errorf("server %d: %d jobs with outcome %q", i+1, n, oc)
			}
		}
	}
}
