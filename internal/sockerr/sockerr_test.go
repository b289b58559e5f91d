package sockerr

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

// TestKinds: each kind matches its errno, wrapped as net returns it, and
// not the others.
func TestKinds(t *testing.T) {
	wrap := func(op string, e error) error {
		return fmt.Errorf("call: %w", &net.OpError{Op: op, Net: "tcp", Err: os.NewSyscallError(op, e)})
	}
	for _, c := range []struct {
		err                           error
		refused, reset, broken, mfile bool
	}{
		{wrap("dial", syscall.ECONNREFUSED), true, false, false, false},
		{wrap("read", syscall.ECONNRESET), false, true, true, false},
		{wrap("write", syscall.EPIPE), false, false, true, false},
		{wrap("accept", syscall.EMFILE), false, false, false, true},
		{io.EOF, false, false, false, false},
		{errors.New("connection reset by peer"), false, false, false, false},
		{nil, false, false, false, false},
	} {
		if got := Refused(c.err); got != c.refused {
			t.Errorf("Refused(%v) = %v", c.err, got)
		}
		if got := Reset(c.err); got != c.reset {
			t.Errorf("Reset(%v) = %v", c.err, got)
		}
		if got := Broken(c.err); got != c.broken {
			t.Errorf("Broken(%v) = %v", c.err, got)
		}
		if got := TooManyFiles(c.err); got != c.mfile {
			t.Errorf("TooManyFiles(%v) = %v", c.err, got)
		}
	}
}

// TestRefusedDial: a dial to a port nothing listens on is Refused, as the
// system reports it (on Windows, a Winsock code syscall.ECONNREFUSED does
// not match).
func TestRefusedDial(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := net.Dial("tcp", addr)
	if err == nil {
		c.Close()
		t.Skipf("%s was taken again before the dial", addr)
	}
	if !Refused(err) {
		t.Errorf("Refused(%v) = false", err)
	}
}
