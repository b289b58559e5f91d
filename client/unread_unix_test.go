//go:build unix

package client

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/halfclose/halfclose/internal/sockerr"
	"github.com/halfclose/halfclose/internal/testenv"
)

// TestUnspokenWriteUnread: a server that sent bytes (its SETTINGS, a
// banner) and then reset the connection spoke, though no read took them
// yet: grpc-go's writer can fail before its reader runs, and the write's
// error was named ClosedUnspoken ("the server closed the connection
// before it sent anything"), untrue. The bytes wait readable after the
// reset; the write keeps the system's words.
func TestUnspokenWriteUnread(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	arrived := make(chan struct{})
	served := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			_, err = c.Write([]byte("\x00\x00\x00\x04\x00\x00\x00\x00\x00")) // an empty SETTINGS frame
			<-arrived
			c.(*net.TCPConn).SetLinger(0)
			c.Close() // a reset
		}
		served <- err
	}()
	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := unspokenCreds{TransportCredentials: insecure.NewCredentials()}.ClientHandshake(context.Background(), "", raw)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Wait, without taking it, until the server's frame is in the socket.
	rc, err := raw.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if err := rc.Read(func(fd uintptr) bool {
		_, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK)
		return !errors.Is(err, syscall.EAGAIN)
	}); err != nil {
		t.Fatal(err)
	}
	close(arrived)
	if err := testenv.Recv(t, hangTimeout, "the fake server's return", served); err != nil {
		t.Fatal(err)
	}
	// Write until the reset has come: the first write after it fails.
	for {
		if _, err = c.Write([]byte("PRI * HTTP/2.0")); err != nil {
			break
		}
	}
	if !sockerr.Broken(err) {
		t.Fatalf("write after the reset: %v, want a broken connection", err)
	}
	if IsClosedUnspoken(err.Error()) {
		t.Errorf("write to a server whose bytes wait unread: %q, want the system's words alone", err)
	}
}
