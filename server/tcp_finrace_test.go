package server

import (
	"context"
	"net"
	"testing"
	"time"
)

// stopBetweenConn is the server's end of a connection on which a stop
// lands at the worst moment of finish's wait for the client's FIN: the
// first time finish sets the read deadline after its FIN, stop runs
// first (the context cancelled, the stop's deadline of now set, as
// handle's context.AfterFunc does), so the stop's deadline comes just
// before finish's own.
type stopBetweenConn struct {
	*net.TCPConn
	halfClosed bool
	stop       func()
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
	}
	return c.TCPConn.SetReadDeadline(t)
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
			client, server := loopbackPair(t) // the client sends no FIN
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
				s.finish(ctx, c, nil, false)
			}()
			select {
			case <-done:
			case <-time.After(defaultTestTimeout):
				client.Close() // ends the wait: the client's FIN
				<-done
				t.Fatalf("finish still waited for the client's FIN %v after the stop", defaultTestTimeout)
			}
			if c.stop != nil {
				t.Fatal("finish set no read deadline after its FIN")
			}
		})
	}
}
