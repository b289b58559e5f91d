package client

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"

	"google.golang.org/grpc/credentials"

	"github.com/halfclose/halfclose/internal/sockerr"
)

// ClosedUnspoken is the start of the error of a read or write of a
// connection that its server closed, or reset, before it sent a single
// byte: what
// halfclosed does to a gRPC connection over --grpc-max-conns or
// --grpc-max-conns-per-peer (closed unread, so that a proxy or a
// round-robin client tries another server), what a TLS port does to a
// plaintext client, and what a port that is not a gRPC server may do.
// grpc-go reports which of its reads and writes failed first: the reader's
// "error reading server preface", or the writer's bare "write tcp
// A->B: write: broken pipe", which said nothing of the cause; a TLS
// handshake's read, a bare "EOF". Reported by a call as UNAVAILABLE with
// this text before the system's.
const ClosedUnspoken = "the server closed the connection before it sent anything"

// IsClosedUnspoken reports whether a status message says the server
// closed the connection before it sent anything (ClosedUnspoken).
func IsClosedUnspoken(msg string) bool { return strings.Contains(msg, ClosedUnspoken) }

// unspokenCreds wraps transport credentials so that a read or write of a
// connection whose server has sent nothing fails with an error saying so
// (unspokenError). A write after the server spoke, its SETTINGS or its
// TLS handshake, is a broken connection as any other and keeps its words.
type unspokenCreds struct {
	credentials.TransportCredentials
}

func (c unspokenCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return c.TransportCredentials.ClientHandshake(ctx, authority, &unspokenConn{Conn: raw})
}

func (c unspokenCreds) Clone() credentials.TransportCredentials {
	return unspokenCreds{c.TransportCredentials.Clone()}
}

// unspokenConn is a client connection that knows whether its server has
// sent a byte yet.
type unspokenConn struct {
	net.Conn
	spoke atomic.Bool // a read has returned a byte
}

// Read fails with an unspokenError when the server closed (EOF) or reset
// the connection before a read returned a byte: a TLS client's handshake
// read meets the close of a server at its cap of connections, and
// grpc-go said only "EOF" (the CLI: "UNAVAILABLE: EOF"). A gRPC or TLS
// server always speaks first after the client's hello: an EOF there is
// never a clean end.
func (c *unspokenConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	switch {
	case n > 0:
		if !c.spoke.Load() {
			c.spoke.Store(true)
		}
	case err != nil && !c.spoke.Load() && (errors.Is(err, io.EOF) || sockerr.Broken(err)):
		err = &unspokenError{err}
	}
	return n, err
}

// Write fails with an unspokenError when the server closed or reset the
// connection (sockerr.Broken: not a timeout, an unreachable host or a
// close of the client's own) and has sent nothing: no read returned a
// byte, and none waits unread. A server that sent its SETTINGS (or a
// banner) and then reset the connection before grpc-go's reader took
// them was named as one that sent nothing: the bytes stay readable after
// the reset, and the writer's failure may come first.
func (c *unspokenConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil && !c.spoke.Load() && sockerr.Broken(err) && !c.spokeSince() {
		err = &unspokenError{err}
	}
	return n, err
}

// spokeSince reports whether the server's bytes wait unread, or a read
// (grpc-go's reader, running alongside) took some since spoke was
// looked at.
func (c *unspokenConn) spokeSince() bool {
	return unreadBytes(c.Conn) || c.spoke.Load()
}

// unspokenError is the error of a read or write of a connection whose
// server closed it before it sent anything.
type unspokenError struct{ err error }

func (e *unspokenError) Error() string { return ClosedUnspoken + ": " + e.err.Error() }
func (e *unspokenError) Unwrap() error { return e.err }
