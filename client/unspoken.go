package client

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
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

// SpokeBefore follows ClosedUnspoken when the same address had spoken on
// an earlier connection of this client: it is a server that speaks
// (gRPC, or TLS then gRPC), not a TLS port met in plaintext or a port
// that is no gRPC server. What closes a new connection unspoken there is
// a server, or a proxy in front of it, that is stopping (nginx's fast
// shutdown resets the connections queued on its listener; a replica
// killed while its listener had them queued), or one at its cap of
// connections. The CLI's retries met it when a proxy was stopped under
// a call: the first attempt's connection had spoken, the retry's was
// reset, and the CLI named a TLS port and a raw-TCP port.
const SpokeBefore = "though it had spoken on an earlier connection"

// IsClosedAfterSpoken reports whether a status message says the server
// closed a connection before it sent anything, though the same address
// had spoken on an earlier connection (SpokeBefore).
func IsClosedAfterSpoken(msg string) bool {
	return IsClosedUnspoken(msg) && strings.Contains(msg, SpokeBefore)
}

// spokenAddrs is the set of remote addresses that have sent a byte on
// a connection of one client, shared by its connections. It holds at
// most maxSpokenAddrs: a long-lived Client whose name resolves to ever
// new addresses forgets them all when it is full and starts again, which
// costs only the SpokeBefore words of a closed connection's error, never
// the error itself.
type spokenAddrs struct {
	mu sync.Mutex
	m  map[string]struct{} // remote address → spoke
}

// maxSpokenAddrs bounds spokenAddrs: far more than the replicas a
// client meets behind one target.
const maxSpokenAddrs = 1024

func (s *spokenAddrs) add(a net.Addr) {
	if s == nil || a == nil {
		return
	}
	k := a.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[k]; ok {
		return
	}
	if s.m == nil || len(s.m) >= maxSpokenAddrs {
		s.m = make(map[string]struct{})
	}
	s.m[k] = struct{}{}
}

func (s *spokenAddrs) has(a net.Addr) bool {
	if s == nil || a == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[a.String()]
	return ok
}

// unspokenCreds wraps transport credentials so that a read or write of a
// connection whose server has sent nothing fails with an error saying so
// (unspokenError). A write after the server spoke, its SETTINGS or its
// TLS handshake, is a broken connection as any other and keeps its words.
type unspokenCreds struct {
	credentials.TransportCredentials
	spoken *spokenAddrs // the addresses that spoke on a connection; nil: none kept
}

func (c unspokenCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return c.TransportCredentials.ClientHandshake(ctx, authority, &unspokenConn{Conn: raw, spoken: c.spoken})
}

func (c unspokenCreds) Clone() credentials.TransportCredentials {
	return unspokenCreds{c.TransportCredentials.Clone(), c.spoken}
}

// unspokenConn is a client connection that knows whether its server has
// sent a byte yet.
type unspokenConn struct {
	net.Conn
	spoke  atomic.Bool  // a read has returned a byte
	spoken *spokenAddrs // shared with the client's other connections; may be nil
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
			if c.spoken != nil {
				c.spoken.add(c.RemoteAddr())
			}
		}
	case err != nil && !c.spoke.Load() && (errors.Is(err, io.EOF) || sockerr.Broken(err)):
		err = &unspokenError{err, c.spokeBefore()}
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
		err = &unspokenError{err, c.spokeBefore()}
	}
	return n, err
}

// spokeBefore reports whether the remote address sent bytes on an
// earlier connection of the same client.
func (c *unspokenConn) spokeBefore() bool {
	return c.spoken != nil && c.spoken.has(c.RemoteAddr())
}

// spokeSince reports whether the server's bytes wait unread, or a read
// (grpc-go's reader, running alongside) took some since spoke was
// looked at.
func (c *unspokenConn) spokeSince() bool {
	return unreadBytes(c.Conn) || c.spoke.Load()
}

// unspokenError is the error of a read or write of a connection whose
// server closed it before it sent anything.
type unspokenError struct {
	err         error
	spokeBefore bool // the address spoke on an earlier connection (SpokeBefore)
}

func (e *unspokenError) Error() string {
	if e.spokeBefore {
		return ClosedUnspoken + ", " + SpokeBefore + ": " + e.err.Error()
	}
	return ClosedUnspoken + ": " + e.err.Error()
}
func (e *unspokenError) Unwrap() error { return e.err }
