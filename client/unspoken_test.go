package client

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/halfclose/halfclose/internal/sockerr"
	"github.com/halfclose/halfclose/internal/testenv"
)

// TestUnspokenWrite: a write to a connection its server reset before
// sending a byte (what halfclosed does to a gRPC connection over
// --grpc-max-conns) fails with ClosedUnspoken before the system's words;
// grpc-go made its status of the bare "write: broken pipe". A write to
// one whose server spoke first keeps the system's error alone.
func TestUnspokenWrite(t *testing.T) {
	for _, spoke := range []bool{false, true} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		dialed := make(chan struct{})
		go func() {
			c, err := l.Accept()
			<-dialed // the client's connect has returned
			if err == nil {
				if spoke {
					_, err = c.Write([]byte("x"))
				}
				c.(*net.TCPConn).SetLinger(0)
				c.Close() // a reset
			}
			served <- err
		}()
		raw, err := net.Dial("tcp", l.Addr().String())
		close(dialed)
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := unspokenCreds{TransportCredentials: insecure.NewCredentials()}.ClientHandshake(context.Background(), "", raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := testenv.Recv(t, hangTimeout, "the fake server's return", served); err != nil {
			t.Fatal(err)
		}
		l.Close()
		// Read until the reset: the byte, if any, then the error.
		buf := make([]byte, 8)
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		_, err = c.Write([]byte("PRI * HTTP/2.0"))
		c.Close()
		switch {
		case err == nil || !sockerr.Broken(err):
			t.Errorf("spoke %v: write after the reset: %v, want a broken connection", spoke, err)
		case !spoke && (!strings.HasPrefix(err.Error(), ClosedUnspoken+": write tcp ") || !IsClosedUnspoken(err.Error())):
			t.Errorf("write to a server that sent nothing: %q, want %q first", err, ClosedUnspoken)
		case spoke && IsClosedUnspoken(err.Error()):
			t.Errorf("write to a server that spoke: %q", err)
		}
		var ue *unspokenError
		if errors.As(err, &ue) == spoke {
			t.Errorf("spoke %v: %T", spoke, err)
		}
	}
}

// TestUnspokenWriteNotClosed: only a close or reset by the server is
// taken for one: a write that failed otherwise (a timeout, an
// unreachable host, the client's own close) before the server spoke
// keeps its words.
func TestUnspokenWriteNotClosed(t *testing.T) {
	for _, werr := range []error{syscall.ETIMEDOUT, syscall.EHOSTUNREACH, net.ErrClosed, os.ErrDeadlineExceeded} {
		c := &unspokenConn{Conn: failConn{err: &net.OpError{Op: "write", Net: "tcp", Err: werr}}}
		if _, err := c.Write([]byte("x")); IsClosedUnspoken(err.Error()) {
			t.Errorf("write failing with %v: %q", werr, err)
		}
	}
	c := &unspokenConn{Conn: failConn{err: &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)}}}
	if _, err := c.Write([]byte("x")); !IsClosedUnspoken(err.Error()) {
		t.Errorf("write failing with EPIPE: %q, want %q", err, ClosedUnspoken)
	}
}

// failConn is a connection whose writes fail with err.
type failConn struct {
	net.Conn
	err error
}

func (c failConn) Write([]byte) (int, error) { return 0, c.err }

// TestUnspokenRead: a read that meets the server's close before any byte
// came (a TLS handshake's, at a server over its cap of connections)
// fails with ClosedUnspoken, io.EOF under it; grpc-go said a bare "EOF".
// After a byte, the close is io.EOF itself, a clean end.
func TestUnspokenRead(t *testing.T) {
	for _, spoke := range []bool{false, true} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() {
			c, err := l.Accept()
			if err == nil {
				if spoke {
					_, err = c.Write([]byte("x"))
				}
				c.Close() // a FIN: nothing was sent to it
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
		if err := testenv.Recv(t, hangTimeout, "the fake server's return", served); err != nil {
			t.Fatal(err)
		}
		l.Close()
		n, err := io.ReadFull(c, make([]byte, 1))
		if spoke != (n == 1) {
			t.Fatalf("spoke %v: read %d bytes, %v", spoke, n, err)
		}
		if spoke {
			_, err = c.Read(make([]byte, 1))
		}
		c.Close()
		switch {
		case spoke && err != io.EOF:
			t.Errorf("read after the server's byte and close: %v, want io.EOF", err)
		case !spoke && (!IsClosedUnspoken(err.Error()) || !errors.Is(err, io.EOF)):
			t.Errorf("read of a server that closed before a byte: %v, want %q and io.EOF", err, ClosedUnspoken)
		}
	}
}

// TestUnspokenTLSHandshake: a TLS handshake with a server that closed
// the connection before its hello fails naming it (ClosedUnspoken), where
// crypto/tls said "EOF".
func TestUnspokenTLSHandshake(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	creds := unspokenCreds{TransportCredentials: credentials.NewTLS(&tls.Config{ServerName: "localhost", MinVersion: tls.VersionTLS12})}
	_, _, err = creds.ClientHandshake(context.Background(), "localhost", raw)
	raw.Close()
	if err == nil || !IsClosedUnspoken(err.Error()) {
		t.Errorf("TLS handshake with a server that closed at once: %v, want %q", err, ClosedUnspoken)
	}
}

// TestUnspokenAfterSpoken: a connection closed before its server sent a
// byte says so with SpokeBefore when the same address sent bytes on an
// earlier connection of the same credentials (a stopping server or proxy,
// not a TLS or raw-TCP port), and without it for credentials that never
// saw the address speak.
func TestUnspokenAfterSpoken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	served := make(chan error, 3)
	go func() {
		for i := range 3 {
			c, err := l.Accept()
			if err == nil && i == 0 {
				_, err = c.Write([]byte("x")) // the first connection speaks
			}
			if err == nil {
				c.Close()
			}
			served <- err
		}
	}()
	read := func(creds unspokenCreds) error {
		raw, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := creds.ClientHandshake(context.Background(), "", raw)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := testenv.Recv(t, hangTimeout, "the fake server's return", served); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 8)
		for {
			if _, err := c.Read(buf); err != nil {
				return err
			}
		}
	}
	shared := unspokenCreds{TransportCredentials: insecure.NewCredentials(), spoken: &spokenAddrs{}}
	if err := read(shared); err != io.EOF {
		t.Fatalf("the speaking connection: %v, want io.EOF", err)
	}
	if err := read(shared); !IsClosedAfterSpoken(err.Error()) || !errors.Is(err, io.EOF) {
		t.Errorf("a new connection of the same credentials, closed unspoken: %v, want %q and %q", err, ClosedUnspoken, SpokeBefore)
	}
	other := unspokenCreds{TransportCredentials: insecure.NewCredentials(), spoken: &spokenAddrs{}}
	if err := read(other); !IsClosedUnspoken(err.Error()) || IsClosedAfterSpoken(err.Error()) {
		t.Errorf("credentials that never saw the address speak: %v, want %q without %q", err, ClosedUnspoken, SpokeBefore)
	}
}

// TestSpokenAddrsBounded: the set of addresses that spoke holds at most
// maxSpokenAddrs, forgetting them all when full, so a long-lived Client
// meeting ever new addresses does not grow without end; an address seen
// again before that is remembered.
func TestSpokenAddrsBounded(t *testing.T) {
	var s spokenAddrs
	addr := func(i int) net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, byte(i>>8), byte(i)), Port: 1} }
	for i := range maxSpokenAddrs {
		s.add(addr(i))
		s.add(addr(i)) // a second connection to the same address adds nothing
	}
	if len(s.m) != maxSpokenAddrs || !s.has(addr(0)) || !s.has(addr(maxSpokenAddrs-1)) {
		t.Fatalf("full set: %d addresses, has first %v, has last %v", len(s.m), s.has(addr(0)), s.has(addr(maxSpokenAddrs-1)))
	}
	s.add(addr(maxSpokenAddrs))
	if len(s.m) != 1 || s.has(addr(0)) || !s.has(addr(maxSpokenAddrs)) {
		t.Fatalf("past the bound: %d addresses (want 1), has first %v, has newest %v", len(s.m), s.has(addr(0)), s.has(addr(maxSpokenAddrs)))
	}
	var none *spokenAddrs
	none.add(addr(1))
	if none.has(addr(1)) || s.has(nil) {
		t.Fatal("a nil set or address is never spoken")
	}
}
