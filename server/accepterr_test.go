package server

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
)

// errListener returns errs from its first Accepts, then net's accept of
// the listener under it; asked is closed at that first real Accept.
type errListener struct {
	net.Listener
	mu    sync.Mutex
	errs  []error
	asked chan struct{}
}

func (l *errListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		l.mu.Unlock()
		return nil, err
	}
	if l.asked != nil {
		close(l.asked)
		l.asked = nil
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// An accept that fails for want of descriptors or memory, the process's
// (EMFILE) or the system's (ENFILE, ENOBUFS, ENOMEM: accept4(2)), is
// retried after a back-off, raw accept or net's, as net/http's Serve does
// with those it calls temporary: a route port whose accept met ENFILE
// stopped serving for good (serve returned the error).
func TestServeAcceptOutOfResources(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM} {
		t.Run(errno.Error(), func(t *testing.T) {
			ln, err := Listen("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			asked := make(chan struct{})
			el := &errListener{Listener: ln, asked: asked, errs: []error{
				&net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)},
				&net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)},
			}}
			s := &TCPServer{Engine: engine.New(engine.Config{Registry: testRegistry()})}
			done := make(chan error, 1)
			go func() { done <- s.Serve(el) }()
			select {
			case <-asked:
			case err := <-done:
				t.Fatalf("Serve returned %v after an accept's %v", err, errno)
			case <-time.After(defaultTestTimeout):
				t.Fatal("no accept after the back-off")
			}
			s.Close()
			if err := testenv.Recv(t, hangTimeout, "Serve's return after Close", done); !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve: %v; want ErrServerClosed", err)
			}
		})
	}
}
