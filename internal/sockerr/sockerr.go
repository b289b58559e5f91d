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

// Broken reports a connection the peer broke: a reset, or a write after the
// peer closed (EPIPE).
func Broken(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || broken(err)
}

// TooManyFiles reports a process out of descriptors (an accept's EMFILE).
func TooManyFiles(err error) bool {
	return errors.Is(err, syscall.EMFILE) || tooManyFiles(err)
}
