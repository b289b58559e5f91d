package server

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/oracle"
)

// holdSlot starts a job that holds the only job slot of env (--max-jobs
// 1): a testcat whose client has not ended its input. end ends it and
// checks its reply.
func holdSlot(t *testing.T, env *testEnv) (end func()) {
	t.Helper()
	c, err := net.Dial("tcp", env.tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	io.WriteString(c, "testcat\nheld")
	env.obs.waitWaiting(t) // its own wait, which a free slot ends at once
	env.obs.waitStarted(t)
	return func() {
		t.Helper()
		c.(*net.TCPConn).CloseWrite()
		if reply, err := io.ReadAll(c); string(reply) != "held" || err != nil {
			t.Errorf("the job holding the slot: reply %q, %v", reply, err)
		}
		if oc := env.obs.nextOutcome(t); oc != OutcomeOK {
			t.Errorf("the job holding the slot: outcome %q", oc)
		}
	}
}

// slotWaitTargets are the ports a job waits for a slot on: the command
// port (a header line, read before the wait) and a route port (none; a
// raw-accepted connection, rawTCPConn, as a digest route's is).
func slotWaitTargets(env *testEnv) map[string][2]string {
	return map[string][2]string{
		"command": {env.tcpAddr, "sha256sum\n"},
		"route":   {env.routes["sha256sum"], ""},
	}
}

// TestTCPResetWhileWaitingForSlot: a client that resets its connection
// (SO_LINGER 0) while its job waits for a --max-jobs slot is found at
// once, not when the wait ends (here, --job-wait is an hour and the slot
// is held to the end): the job never runs, it is recorded as the reset it
// is (outcome reset, no max_jobs refusal), and the job holding the slot
// is untouched. It was found only when the wait ended, and recorded as
// refused for the limit. Also when the reset follows the client's FIN
// (which alone is an end, TestTCPFINWhileWaitingForSlot).
func TestTCPResetWhileWaitingForSlot(t *testing.T) {
	for _, finFirst := range []bool{false, true} {
		for _, port := range []string{"command", "route"} {
			t.Run(fmt.Sprintf("%s/fin=%v", port, finFirst), func(t *testing.T) {
				env := startEnv(t, envConfig{engine: engine.Config{Registry: testRegistry(), MaxJobs: 1, QueueWait: time.Hour}, routes: []string{"sha256sum"}})
				end := holdSlot(t, env)
				target := slotWaitTargets(env)[port]
				c, err := net.Dial("tcp", target[0])
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				fmt.Fprintf(c, "%s%s", target[1], bytes.Repeat([]byte("some data\n"), 1000))
				if finFirst {
					c.(*net.TCPConn).CloseWrite()
				}
				env.obs.waitWaiting(t)
				c.(*net.TCPConn).SetLinger(0)
				c.Close() // RST
				if oc := env.obs.nextOutcome(t); oc != OutcomeReset {
					t.Fatalf("a client reset while its job waited for a slot: outcome %q, want %q", oc, OutcomeReset)
				}
				if r := env.obs.refusedNow(); len(r) != 0 {
					t.Errorf("refusals %q counted for a client reset while it waited", r)
				}
				end()
			})
		}
	}
}

// TestTCPFINWhileWaitingForSlot: a client's FIN while its job waits for a
// slot is the end of its input, not an abort: the job runs once the slot
// frees and answers what GNU sha256sum prints for the same input, and
// the bytes that waited in the kernel (the watch of the wait reads none)
// are its input, whole and in order.
func TestTCPFINWhileWaitingForSlot(t *testing.T) {
	for _, port := range []string{"command", "route"} {
		t.Run(port, func(t *testing.T) {
			env := startEnv(t, envConfig{engine: engine.Config{Registry: testRegistry(), MaxJobs: 1, QueueWait: time.Hour}, routes: []string{"sha256sum"}})
			end := holdSlot(t, env)
			target := slotWaitTargets(env)[port]
			c, err := net.Dial("tcp", target[0])
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			data := randBytes(uint64(len(port)), 48<<10)
			fmt.Fprintf(c, "%s%s", target[1], data)
			c.(*net.TCPConn).CloseWrite()
			env.obs.waitWaiting(t)
			end()
			reply, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("reply: %v", err)
			}
			if want := oracle.Output(t, data, "sha256sum"); string(reply) != want {
				t.Fatalf("reply %q, want GNU sha256sum's %q", reply, want)
			}
			if oc := env.obs.nextOutcome(t); oc != OutcomeOK {
				t.Errorf("outcome %q, want %q", oc, OutcomeOK)
			}
		})
	}
}

// TestTCPTLSResetWhileWaitingForSlot: on a TLS port, the TCP connection
// under the TLS one is watched while its job waits for a slot: a client
// that resets it is found at once (outcome reset), and one that ends its
// input (close_notify and FIN) gets its answer once the slot frees.
func TestTCPTLSResetWhileWaitingForSlot(t *testing.T) {
	p := newTestPKI(t)
	cfg, err := LoadServerTLS(p.ServerCert, p.ServerKey, "")
	if err != nil {
		t.Fatal(err)
	}
	obs := &recordingObserver{started: make(chan string, 10), ended: make(chan string, 10), waiting: make(chan struct{}, 10)}
	srv := &TCPServer{Engine: engine.New(engine.Config{Registry: testRegistry(), MaxJobs: 1, QueueWait: time.Hour}), TLSConfig: cfg, Observer: obs}
	addr := serveTCP(t, srv)
	dial := func() (*tls.Conn, net.Conn) {
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		c := tls.Client(raw, p.ClientTLS(t, false))
		c.SetDeadline(time.Now().Add(defaultTestTimeout)) // a failure only, never a wait
		return c, raw
	}
	hold, _ := dial()
	io.WriteString(hold, "testcat\nheld")
	obs.waitWaiting(t)
	obs.waitStarted(t)

	reset, raw := dial()
	fmt.Fprintf(reset, "sha256sum\n%s", bytes.Repeat([]byte("some data\n"), 1000))
	obs.waitWaiting(t)
	raw.(*net.TCPConn).SetLinger(0)
	raw.Close() // RST
	if oc := obs.nextOutcome(t); oc != OutcomeReset {
		t.Fatalf("a TLS client reset while its job waited for a slot: outcome %q, want %q", oc, OutcomeReset)
	}

	ended, _ := dial()
	data := randBytes(3, 48<<10)
	fmt.Fprintf(ended, "sha256sum\n%s", data)
	ended.CloseWrite()
	obs.waitWaiting(t)
	hold.CloseWrite()
	if reply, err := io.ReadAll(hold); string(reply) != "held" || err != nil {
		t.Errorf("the job holding the slot: reply %q, %v", reply, err)
	}
	reply, err := io.ReadAll(ended)
	if want := oracle.Output(t, data, "sha256sum"); string(reply) != want || err != nil {
		t.Fatalf("TLS client that ended its input while it waited: reply %q, %v; want GNU sha256sum's %q", reply, err, want)
	}
}
