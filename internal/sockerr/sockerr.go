// Package sockerr names the socket errors the client and the server tell
// apart (a refused connection, a reset, a write to a closed peer) on every
// system. On Unix they are errno values syscall names; Windows reports its
// own Winsock codes (WSAECONNRESET, 10054), which syscall.ECONNRESET, an
// invented value there, never matches.
package sockerr

import (
	"errors"
	"syscall"
)

// Refused reports a connection refused by the peer (nothing listening).
func Refused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || refused(err)
}

// Reset reports the peer resetting the connection (an RST).
func Reset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || reset(err)
}

// Broken reports a connection the peer broke: a reset, a write after the
// peer closed (EPIPE), or a shutdown or write on a connection whose reset
// a read has already reported (ENOTCONN: the socket is closed by then, so
// the half-close that ends a raw-TCP upload fails so when the server
// reset the connection while the client's input ran out).
func Broken(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ENOTCONN) || broken(err)
}

// Peer reports an error a send on a TCP socket gives for its connection
// or the path to its peer: Broken, or the connection timed out
// (ETIMEDOUT: retransmissions or keepalive unanswered), the peer or its
// network unreachable or down (an ICMP error: EHOSTUNREACH, ENETUNREACH,
// EHOSTDOWN, ENETDOWN), the connection aborted or refused, or the
// kernel out of buffers for the socket (ENOBUFS: send(2)'s "output
// queue for a network interface was full", and FreeBSD's sendfile(2)
// and Darwin's sends out of mbufs; it is not a file's), or Darwin's
// EPROTOTYPE, which its sends give for a connection the peer is tearing
// down (golang/go#51538; no system gives it for a file). None is an
// error of a file a send takes its bytes from (sendfile(2)'s in_fd: EIO,
// EBADF, EINVAL, ENOMEM, EOVERFLOW, ESPIPE, or its file system's).
func Peer(err error) bool {
	return Broken(err) || errors.Is(err, syscall.ETIMEDOUT) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTDOWN) || errors.Is(err, syscall.ENETDOWN) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOBUFS) ||
		errors.Is(err, syscall.EPROTOTYPE) || peer(err)
}

// TooManyFiles reports a process out of descriptors (an accept's EMFILE).
func TooManyFiles(err error) bool {
	return errors.Is(err, syscall.EMFILE) || tooManyFiles(err)
}

// AddrUnavailable reports a listen address this host cannot listen on:
// not one of its addresses (EADDRNOTAVAIL: ::1 on a host whose loopback
// has no IPv6, a name's address that belongs to another host), or of a
// family the system does not have (EAFNOSUPPORT: IPv6 disabled).
func AddrUnavailable(err error) bool {
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) ||
		errors.Is(err, syscall.EPROTONOSUPPORT) || addrUnavailable(err)
}

// AddrInUse reports a bind to an address and port something else holds.
func AddrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || addrInUse(err)
}
