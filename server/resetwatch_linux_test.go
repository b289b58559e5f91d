package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
)

// TestTCPResetAfterFINAborts: a client that resets its connection after
// its FIN (of an input of resetWatchMinInput bytes), while the job still computes (a halfclose --tcp cancelled
// while it waits for its reply), aborts the job: outcome reset, the
// stage's context cancelled. Nothing read the socket after the FIN, so
// the job went on to its end, and this one, which computes until it is
// cancelled, never ended.
func TestTCPResetAfterFINAborts(t *testing.T) {
	data := strings.Repeat("x", resetWatchMinInput)
	for _, header := range []string{"testhold\n", fmt.Sprintf("@size=%d testhold\n", len(data)), "@chunked testhold\n"} {
		t.Run(header[:len(header)-1], func(t *testing.T) {
			ended := make(chan struct{}, 1) // the stage read its input's end
			release := make(chan struct{})  // the test is over: stop holding
			reg := testRegistry()
			reg.Register(&compute.Command{Name: "testhold", Build: func(*compute.Env, []string) (compute.Stage, error) {
				return compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
					if _, err := io.Copy(io.Discard, in); err != nil {
						return err
					}
					ended <- struct{}{}
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-release:
						return nil
					}
				}), nil
			}})
			env := startEnv(t, envConfig{engine: engine.Config{Registry: reg}})
			t.Cleanup(func() { close(release) }) // before env's cleanups
			conn, err := net.Dial("tcp", env.tcpAddr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// A job's input of resetWatchMinInput bytes or more is
			// watched; a smaller one's reset is found at its reply.
			input := data
			if header == "@chunked testhold\n" {
				input = fmt.Sprintf("%d\n%s0\n", len(data), data)
			}
			fmt.Fprintf(conn, "%s%s", header, input)
			conn.(*net.TCPConn).CloseWrite()
			select {
			case <-ended:
			case <-t.Context().Done():
				t.Fatal("the stage never saw its input end")
			}
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close() // RST
			if oc := env.obs.nextOutcome(t); oc != OutcomeReset {
				t.Fatalf("outcome %q, want %q", oc, OutcomeReset)
			}
		})
	}
}
