package server

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// connTraffic counts the HTTP/2 DATA payload bytes a gRPC connection of
// NewGRPCListener has received: the bytes of request messages, whole or
// still arriving, of all its streams. grpc-go hands a handler a message
// only once it is whole, so this is how a stream waiting for a message
// learns that one is on its way (inputWatch). Frames that are not DATA
// (PING, SETTINGS, WINDOW_UPDATE, HEADERS) are not counted: a client
// library's keepalive pings, or the acks of the server's, do not make a
// stalled stream look busy.
type connTraffic struct {
	data atomic.Uint64
}

// clientPreface is what an HTTP/2 client sends first (RFC 9113 3.4).
const clientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// h2Scan follows the HTTP/2 frames of the bytes a connection hands
// grpc-go, and adds the DATA payload bytes to t: per read, a test of the
// frame it is in and at most one atomic add, plus nine bytes per frame
// header. Bytes that do not begin with the client preface turn it off;
// for a TLS handshake it follows the TLS records instead (scanTLS), and
// the TLS layer's own scanner (countingCreds) counts the plaintext.
type h2Scan struct {
	t    *connTraffic
	pre  int     // preface bytes matched; len(clientPreface): done
	off  bool    // not HTTP/2 in the clear
	tls  tlsScan // when off: the TLS records of a TLS connection
	hdr  [9]byte // the frame header being gathered
	nh   int     // its bytes gathered
	left uint32  // payload bytes of the current frame still to come
	data bool    // the current frame is DATA
}

func (s *h2Scan) scan(p []byte) {
	if s.off {
		s.tls.scan(s.t, p)
		return
	}
	var n uint64
	for len(p) > 0 {
		if s.pre < len(clientPreface) {
			k := min(len(p), len(clientPreface)-s.pre)
			if string(p[:k]) != clientPreface[s.pre:s.pre+k] {
				s.off = true
				s.tls.on = s.pre == 0 && p[0] == tlsHandshakeRecord
				s.tls.scan(s.t, p)
				return
			}
			s.pre += k
			p = p[k:]
			continue
		}
		if s.left > 0 {
			k := uint32(min(uint64(len(p)), uint64(s.left)))
			if s.data {
				n += uint64(k)
			}
			s.left -= k
			p = p[k:]
			continue
		}
		k := copy(s.hdr[s.nh:], p)
		s.nh += k
		p = p[k:]
		if s.nh == len(s.hdr) {
			s.nh = 0
			s.left = uint32(s.hdr[0])<<16 | uint32(s.hdr[1])<<8 | uint32(s.hdr[2])
			s.data = s.hdr[3] == 0 // DATA
		}
	}
	if n > 0 {
		s.t.data.Add(n)
	}
}

// tlsScan follows the records of a TLS connection's bytes as they are
// read, before decryption, and adds to t the bytes of an application
// data record that a read left incomplete: crypto/tls decrypts a record
// (up to 16 KiB) only once it is whole, so a client sending slower than
// a record per --idle-timeout would otherwise look idle while its bytes
// arrive. What such a record holds (DATA, or a PING) cannot be told
// before it is whole; a whole one is counted after decryption (h2Scan
// over countingCreds' connection), DATA only.
type tlsScan struct {
	on   bool    // a TLS connection (its first byte began a handshake record)
	hdr  [5]byte // the record header being gathered
	nh   int     // its bytes gathered
	left int     // bytes of the current record still to come
	app  bool    // the current record is application data
}

// tlsAppData is the TLS record type of application data (RFC 8446 5.1):
// every record after a TLS 1.3 handshake.
const tlsAppData = 23

func (s *tlsScan) scan(t *connTraffic, p []byte) {
	if !s.on {
		return
	}
	var n uint64
	for len(p) > 0 {
		if s.left == 0 {
			k := copy(s.hdr[s.nh:], p)
			s.nh += k
			p = p[k:]
			if s.nh == len(s.hdr) {
				s.nh = 0
				s.left = int(s.hdr[3])<<8 | int(s.hdr[4])
				s.app = s.hdr[0] == tlsAppData
			}
			continue
		}
		k := min(len(p), s.left)
		s.left -= k
		p = p[k:]
		if s.left > 0 && s.app {
			n += uint64(k) // the read ends inside this record
		}
	}
	if n > 0 {
		t.data.Add(n)
	}
}

// trafficKey names a TCP connection among the open ones: its two ends.
type trafficKey struct{ local, remote netip.AddrPort }

func keyOf(local, remote net.Addr) (trafficKey, bool) {
	l, ok1 := local.(*net.TCPAddr)
	r, ok2 := remote.(*net.TCPAddr)
	if !ok1 || !ok2 {
		return trafficKey{}, false
	}
	return trafficKey{l.AddrPort(), r.AddrPort()}, true
}

// conns finds the traffic of an open connection of NewGRPCListener by its
// two ends, as a stream knows them (peer.FromContext): grpc-go tells a
// handler nothing else of its connection. The two ends of an open TCP
// connection are the process's only, whatever listener accepted it. An
// entry lives from Accept to Close.
var conns struct {
	mu sync.RWMutex // protects m
	m  map[trafficKey]*connTraffic
}

func registerTraffic(c net.Conn) (*connTraffic, func()) {
	k, ok := keyOf(c.LocalAddr(), c.RemoteAddr())
	if !ok {
		return nil, func() {}
	}
	t := &connTraffic{}
	conns.mu.Lock()
	if conns.m == nil {
		conns.m = map[trafficKey]*connTraffic{}
	}
	conns.m[k] = t
	conns.mu.Unlock()
	return t, func() {
		conns.mu.Lock()
		if conns.m[k] == t {
			delete(conns.m, k)
		}
		conns.mu.Unlock()
	}
}

// trafficOf returns the traffic of the connection of the stream whose
// context is ctx; nil for a connection not of NewGRPCListener (bufconn,
// another listener).
func trafficOf(ctx context.Context) *connTraffic {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil || p.LocalAddr == nil {
		return nil
	}
	k, ok := keyOf(p.LocalAddr, p.Addr)
	if !ok {
		return nil
	}
	conns.mu.RLock()
	t := conns.m[k]
	conns.mu.RUnlock()
	return t
}

// openTraffic is the number of registered connections, for tests.
func openTraffic() int {
	conns.mu.RLock()
	defer conns.mu.RUnlock()
	return len(conns.m)
}

// CountingCreds wraps the server credentials c (TLS) so that the
// connections of NewGRPCListener count their DATA bytes after
// decryption, as they do in the clear.
func CountingCreds(c credentials.TransportCredentials) credentials.TransportCredentials {
	return countingCreds{c}
}

type countingCreds struct {
	credentials.TransportCredentials
}

func (c countingCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	in, err := refusePlaintextGRPC(raw)
	if err != nil {
		return nil, nil, err
	}
	conn, ai, err := c.TransportCredentials.ServerHandshake(in)
	if err != nil {
		return conn, ai, err
	}
	if gc, ok := raw.(*grpcConn); ok && gc.scan.t != nil {
		conn = &scanConn{Conn: conn, scan: h2Scan{t: gc.scan.t}}
	}
	return conn, ai, nil
}

func (c countingCreds) Clone() credentials.TransportCredentials {
	return countingCreds{c.TransportCredentials.Clone()}
}

// tlsPortMessage is the status a plaintext gRPC client gets from a TLS
// gRPC port.
const tlsPortMessage = "halfclose gRPC port: this port speaks TLS; connect with TLS (grpcurl without -plaintext, halfclose --tls or --cacert)"

// errPlaintextGRPC fails the handshake of a plaintext gRPC client, once
// it has been answered.
var errPlaintextGRPC = errors.New("a plaintext HTTP/2 client on a TLS port")

// plaintextAnswerTime bounds the answer to a plaintext client, and the
// wait for it to close the connection.
const plaintextAnswerTime = 10 * time.Second

// refusePlaintextGRPC reads the first bytes of a TLS port's connection:
// an HTTP/2 client preface in the clear (grpcurl -plaintext, a client
// without TLS) is answered in HTTP/2, UNAVAILABLE with tlsPortMessage, so
// that the client says why instead of "EOF" or "Socket closed"; anything
// else goes on to the TLS handshake, the bytes read first included.
func refusePlaintextGRPC(raw net.Conn) (net.Conn, error) {
	// Read no more than it takes to tell: a TLS client's first byte
	// (0x16) already says it is not the preface.
	first := make([]byte, len(clientPreface))
	n := 0
	for n < len(first) && clientPreface[:n] == string(first[:n]) {
		k, err := raw.Read(first[n:])
		n += k
		if err != nil {
			break
		}
	}
	if string(first[:n]) == clientPreface {
		raw.SetDeadline(time.Now().Add(plaintextAnswerTime))
		answerHTTP2(raw, bufio.NewReader(raw), tlsPortMessage)
		return nil, errPlaintextGRPC
	}
	return &prefixConn{Conn: raw, prefix: first[:n]}, nil
}

// prefixConn is a connection whose first bytes were read already.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// scanConn is a decrypted connection whose reads are scanned (h2Scan).
type scanConn struct {
	net.Conn
	scan h2Scan
}

func (c *scanConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.scan.scan(p[:n])
	return n, err
}

// inputWatch decides whether a stream whose wait for its next message ran
// out (--idle-timeout) is idle: not while its connection receives DATA
// bytes that make no message of the stream (a message still arriving).
// A wait renewed so is checked every quarter of the timeout, and the
// stream is idle once no such bytes came for the whole timeout: it is
// aborted between one and one and a quarter timeouts after its last byte.
// A message the stream received during the wait (an empty one: a data
// message ends the wait) withholds the renewal, so that empty messages
// stay no progress. Bytes of sibling streams on the same connection (the
// same client) renew it too.
type inputWatch struct {
	t     *connTraffic
	msgs  *atomic.Uint64 // the messages the stream received
	idle  time.Duration
	since time.Time // when the input was last seen moving
	data  uint64    // t.data when last looked at
	n     uint64    // msgs when last looked at
}

// start begins a wait of idle at now.
func (w *inputWatch) start(now time.Time, idle time.Duration) {
	w.idle, w.since = idle, now
	w.data, w.n = w.t.data.Load(), w.msgs.Load()
}

// expired is called when the wait ran out at now: 0 if the stream is
// idle, else how long to wait before looking again.
func (w *inputWatch) expired(now time.Time) time.Duration {
	d, n := w.t.data.Load(), w.msgs.Load()
	if d != w.data && n == w.n {
		w.since = now
	}
	w.data, w.n = d, n
	left := w.since.Add(w.idle).Sub(now)
	if left <= 0 {
		return 0
	}
	return min(left, max(w.idle/4, time.Millisecond))
}
