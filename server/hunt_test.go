package server

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// TestTCPTimeoutAbortResets: a raw-TCP job aborted by --idle-timeout or
// --header-timeout ends its connection with an RST, not a FIN. With a FIN
// (and nothing written), a client that had sent all its input but not yet
// its own FIN (a producer slow to close its pipe) half-closed afterwards
// and read an empty reply ending in a clean EOF: exactly what a filter
// (`grep`, `sort`) with no output answers, a result for an input the job
// never finished. The reset is what tells it the job was aborted.
func TestTCPTimeoutAbortResets(t *testing.T) {
	env := startEnv(t, envConfig{
		idle:   200 * time.Millisecond,
		tcp:    tcpSettings{HeaderTimeout: 200 * time.Millisecond},
		routes: []string{"testcat"},
	})
	for _, c := range []struct{ name, addr, send, outcome string }{
		{"idle input", env.tcpAddr, "testcat\nall of the input\n", OutcomeIdle},
		{"idle input, route port", env.routes["testcat"], "all of the input\n", OutcomeIdle},
		{"unfinished header", env.tcpAddr, "testc", OutcomeIdle},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", c.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, c.send); err != nil {
				t.Fatal(err)
			}
			if oc := env.obs.nextOutcome(t); oc != c.outcome {
				t.Fatalf("outcome %q, want %q", oc, c.outcome)
			}
			// The job is over: the client now half-closes, as a client
			// done with its input does, and reads the reply.
			conn.(*net.TCPConn).CloseWrite()
			conn.SetReadDeadline(time.Now().Add(defaultTestTimeout))
			got, err := io.ReadAll(conn)
			if len(got) != 0 {
				t.Errorf("an aborted job wrote %q", got)
			}
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("read after the abort: %v, want a connection reset (a clean EOF looks like an empty result)", err)
			}
		})
	}
}
