package server

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"

	"github.com/halfclose/halfclose/internal/testenv"
)

// TestGentleWaitsForHeldUse: a connection NewGRPCListener's Accept took
// before the stop (not one of the queue the stop drains) is waited for
// until its first use, by an uncut StopAccepting and by a cut one: grpc-go
// closes, unread, a new connection its goroutine has not begun to serve
// when GracefulStop begins, which its caller starts once StopAccepting
// returns. Without the hold, StopAccepting returned as soon as the socket
// closed, and the connection's client could be reset where it should have
// had GOAWAY (40 of 100 connections accepted just before a SIGTERM).
func TestGentleWaitsForHeldUse(t *testing.T) {
	for _, cut := range []bool{false, true} {
		name := map[bool]string{false: "drain", true: "cut"}[cut]
		t.Run(name, func(t *testing.T) {
			ln, err := Listen("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			gl := NewGentleListener(ln)
			gl.cutWait = time.Hour // only the use ends the wait
			// The use comes once the stop waits for it alone, the socket
			// closed; a cut stop, once it waits as one (cutStop): a use
			// seen by the stop's first wait, whose ctx has ended, left it
			// to choose between that change and its ctx, and to return
			// nil, nothing cut, half the time.
			waiting := make(chan struct{})
			var once sync.Once
			gl.onWait = func(unused int) {
				if unused > 0 && gl.isClosed() && gl.cut.Load() == cut {
					once.Do(func() { close(waiting) })
				}
			}
			l := NewGRPCListener(gl, GRPCReadBufSize, 0)
			client, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			c, err := l.Accept() // before the stop: not a queued one
			if err != nil {
				t.Fatal(err)
			}

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if cut {
				cancel()
			}
			stopped := make(chan error, 1)
			go func() { stopped <- gl.StopAccepting(ctx) }()
			served := make(chan error, 1)
			go func() {
				_, err := l.Accept()
				served <- err
			}()
			select {
			case err := <-stopped:
				t.Fatalf("StopAccepting returned (%v) with a connection accepted before it unused", err)
			case <-waiting:
			}
			// grpc-go's first use of a new connection: the deadline of its
			// handshake.
			c.SetDeadline(time.Now().Add(defaultTestTimeout))
			want := error(nil)
			if cut {
				want = context.Canceled
			}
			if err := testenv.Recv(t, hangTimeout, "the stop's return", stopped); !errors.Is(err, want) {
				t.Fatalf("StopAccepting: %v; want %v", err, want)
			}
			if err := testenv.Recv(t, hangTimeout, "Serve's return after the stop", served); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Accept after the stop: %v; want net.ErrClosed", err)
			}
			c.Close()
		})
	}
}

// TestGentleHeldUseWaitBounded: the wait for the first use of a connection
// taken before the stop is bounded (useWait; here a nanosecond), cut or
// not: a connection nobody uses does not put GracefulStop off.
func TestGentleHeldUseWaitBounded(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gl := NewGentleListener(ln)
	gl.cutWait = time.Nanosecond
	l := NewGRPCListener(gl, 0, 0)
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go l.Accept() // closes the socket once the queue is empty
	if err := gl.StopAccepting(context.Background()); err != nil {
		t.Fatalf("StopAccepting: %v", err)
	}
}

// TestGentleHeldGRPCGetsGOAWAY: with grpc-go serving the listener, a
// connection it accepted before the stop is used by grpc-go (the hold is
// released: with an hour's cap StopAccepting would otherwise not return),
// and its client, which sends its preface only after GracefulStop began,
// gets the server's SETTINGS and a GOAWAY, not a reset.
func TestGentleHeldGRPCGetsGOAWAY(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gl := NewGentleListener(ln)
	gl.cutWait = time.Hour
	accepted := make(chan struct{}, 1)
	srv := grpc.NewServer(grpc.ReadBufferSize(0))
	served := make(chan error, 1)
	go func() {
		served <- srv.Serve(&signalListener{Listener: NewGRPCListener(gl, GRPCReadBufSize, 0), accepted: accepted})
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	testenv.Recv(t, hangTimeout, "the server's accept of the client", accepted)
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	if err := gl.StopAccepting(ctx); err != nil {
		t.Fatalf("StopAccepting: %v", err)
	}
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()

	client.SetDeadline(time.Now().Add(defaultTestTimeout))
	if _, err := io.WriteString(client, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(client, client)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading the server's frames: %v; want a GOAWAY", err)
		}
		if s, ok := f.(*http2.SettingsFrame); ok && !s.IsAck() {
			fr.WriteSettingsAck()
		}
		if _, ok := f.(*http2.GoAwayFrame); ok {
			break
		}
	}
	client.Close()
	testenv.Recv(t, hangTimeout, "the stop's return after the client's close", stopped)
	// The drain closed the socket: Serve ends with that, or nil if
	// GracefulStop had begun.
	if err := testenv.Recv(t, hangTimeout, "Serve's return after the stop", served); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve: %v", err)
	}
}

// signalListener tells accepted of each connection Accept returns.
type signalListener struct {
	net.Listener
	accepted chan<- struct{}
}

func (l *signalListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		select {
		case l.accepted <- struct{}{}:
		default:
		}
	}
	return c, err
}
