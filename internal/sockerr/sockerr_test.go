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
		{wrap("shutdown", syscall.ENOTCONN), false, false, true, false},
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

// TestBrokenShutdownAfterReset: the half-close of a connection whose peer
// reset it, once a read has reported the reset, fails as Broken. This is
// what halfclose --tcp saw when a TLS port reset its plaintext call while
// the input ended: "shutdown: transport endpoint is not connected" was
// not taken for a broken connection, so the client printed it instead of
// probing the port and saying it speaks TLS.
func TestBrokenShutdownAfterReset(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	s.(*net.TCPConn).SetLinger(0)
	s.Close() // an RST
	if _, err := c.Read(make([]byte, 1)); !Reset(err) {
		t.Fatalf("read after the peer's RST: %v, want a reset", err)
	}
	err = c.(*net.TCPConn).CloseWrite()
	if err == nil {
		t.Skip("this system half-closes a reset connection without an error")
	}
	if !Broken(err) {
		t.Fatalf("half-close after the reset: %v, not Broken", err)
	}
}

// TestPeer: the errors a send on a socket gives for its connection or
// its path are Peer; a file's errors, which sendfile(2) gives as its
// own, are not.
func TestPeer(t *testing.T) {
	wrap := func(e error) error {
		return &net.OpError{Op: "readfrom", Net: "tcp", Err: os.NewSyscallError("sendfile", e)}
	}
	for _, e := range []syscall.Errno{syscall.ECONNRESET, syscall.EPIPE, syscall.ENOTCONN, syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EHOSTDOWN, syscall.ENETDOWN, syscall.ECONNABORTED, syscall.ECONNREFUSED, syscall.ENOBUFS, syscall.EPROTOTYPE} {
		if !Peer(wrap(e)) {
			t.Errorf("Peer(%v) = false", e)
		}
	}
	for _, e := range []error{syscall.EIO, syscall.EBADF, syscall.EINVAL, syscall.ENOMEM, syscall.EOVERFLOW, syscall.ESPIPE, io.EOF} {
		if Peer(wrap(e)) {
			t.Errorf("Peer(%v) = true", e)
		}
	}
}
