package server

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/testenv"
)

// stopBetweenConn is the server's end of a connection on which a stop
// lands at the worst moment of finish's wait for the client's FIN: the
// first time finish sets the read deadline after its FIN, stop runs
// first (the context cancelled, the stop's deadline of now set, as
// handle's context.AfterFunc does), so the stop's deadline comes just
// before finish's own. A read after the stop under a deadline still an
// hour away (the wait's own, which overwrote the stop's) is the hang
// itself: it is recorded in overwritten and ends at once, as the
// client's FIN, so that the test fails with it instead of waiting.
type stopBetweenConn struct {
	*net.TCPConn
	halfClosed  bool
	stop        func()
	stopAt      time.Time // when stop ran
	deadline    time.Time // the last read deadline finish set
	overwritten time.Time // the deadline of a read after the stop that waits on
}

func (c *stopBetweenConn) CloseWrite() error {
	c.halfClosed = true
	return c.TCPConn.CloseWrite()
}

func (c *stopBetweenConn) SetReadDeadline(t time.Time) error {
	if c.halfClosed && c.stop != nil {
		stop := c.stop
		c.stop = nil
		stop()
		c.stopAt = time.Now()
	}
	c.deadline = t
	return c.TCPConn.SetReadDeadline(t)
}

// waitsOn reports whether a read now would wait on the client past the
// stop: the deadline in force is more than a minute after it (the cut's
// is a nanosecond, the wait's own an hour), and records it.
func (c *stopBetweenConn) waitsOn() bool {
	if c.stopAt.IsZero() || !c.deadline.After(c.stopAt.Add(time.Minute)) {
		return false
	}
	c.overwritten = c.deadline
	return true
}

func (c *stopBetweenConn) Read(b []byte) (int, error) {
	if c.waitsOn() {
		return 0, io.EOF
	}
	return c.TCPConn.Read(b)
}

// WriteTo is discard's read (io.Copy's, through *net.TCPConn's WriteTo).
func (c *stopBetweenConn) WriteTo(w io.Writer) (int64, error) {
	if c.waitsOn() {
		return 0, nil
	}
	return c.TCPConn.WriteTo(w)
}

// TestTCPFinWaitStopRace: a stop that lands while finish waits for its
// client's FIN ends the wait, whenever it lands: Close at once, a
// shutdown's cut after cutDrain (here at once). finish sets its read
// deadline again on every round (so that the deadline a job's reader sets
// when the engine closes it late does not end the wait), and set it after
// it had looked at its context: a stop between the two had its deadline
// of now overwritten by the wait's own, --tcp-fin-wait away (an hour
// here), and Close or the end of the shutdown waited that long on a
// client that sent no FIN.
func TestTCPFinWaitStopRace(t *testing.T) {
	for _, tc := range []struct {
		name   string
		closed bool // Close rather than a shutdown's cut
	}{
		{"close", true},
		{"shutdown cut", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &TCPServer{drainTimeout: time.Hour, cutDrain: time.Nanosecond, maxDrains: 4}
			if tc.closed {
				s.cutDrain = time.Hour
			}
			_, server := loopbackPair(t) // the client sends no FIN (until the cleanup closes it)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := &stopBetweenConn{TCPConn: server, stop: func() {
				if tc.closed {
					s.closed.Store(true)
				}
				cancel()
				server.SetReadDeadline(time.Now())
			}}
			done := make(chan struct{})
			go func() {
				defer close(done)
				defer server.Close()
				s.finish(ctx, c, "", nil, false)
			}()
			// A wait the stop did not end fails at once (overwritten); the
			// bound is for any other, and the cleanup's close of the
			// client then ends it.
			testenv.Recv(t, hangTimeout, "finish's return after the stop", done)
			if c.stop != nil {
				t.Fatal("finish set no read deadline after its FIN")
			}
			if !c.overwritten.IsZero() {
				t.Fatalf("finish waited for the client's FIN after the stop, its read deadline %v away: the stop's deadline of now was overwritten",
					c.overwritten.Sub(c.stopAt).Round(time.Second))
			}
		})
	}
}

// TestTCPCloseAfterCut: Close ends at once the wait of a connection that
// a shutdown's cut had already shortened to cutDrain (an hour here): the
// cut had cancelled the connections' context, so Close's cancel woke
// nothing, and Close waited the rest of cutDrainWait on every client of
// a cut job that sent no FIN.
func TestTCPCloseAfterCut(t *testing.T) {
	env := startEnv(t, envConfig{idle: defaultTestTimeout, tcp: tcpSettings{drainTimeout: time.Hour, cutDrain: time.Hour}})
	c := tcpFrom(t, env.tcpAddr, "127.0.0.1")
	io.WriteString(c, "sha256sum\nthe first part")
	env.obs.waitStarted(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no grace: the job is cut
	shut := make(chan error, 1)
	go func() { shut <- env.tcp.Shutdown(ctx) }()
	// The cut job's error line and FIN: its connection waits for the
	// client's FIN, which never comes, for cutDrain.
	if reply, err := io.ReadAll(c); err != nil || string(reply) != "halfclose: error: UNAVAILABLE: server is shutting down\n" {
		t.Fatalf("cut job: %q, %v", reply, err)
	}
	closed := make(chan struct{})
	go func() { env.tcp.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(defaultTestTimeout):
		c.CloseWrite() // ends the wait
		testenv.Recv(t, hangTimeout, "Close's return after the client's FIN", closed)
		t.Fatalf("Close still waited for the cut job's client after %v", defaultTestTimeout)
	}
	testenv.Recv(t, hangTimeout, "Shutdown's return after Close", shut)
}
