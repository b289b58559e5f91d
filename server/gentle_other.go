//go:build !linux

package server

import (
	"errors"
	"net"
	"syscall"
)

// gentleSupported is false: GentleListener.StopAccepting closes at once.
const gentleSupported = false

func shrinkBacklog(syscall.RawConn) {}

func acceptNow(syscall.RawConn) (*net.TCPConn, error) {
	return nil, errors.New("not supported")
}

func blockSYNs(syscall.RawConn) bool { return false }

func handshakesUnderway(*net.TCPAddr) (int, bool) { return 0, false }

// inheritKeepAlive: elsewhere Go sets each accepted connection's keepalive.
const inheritKeepAlive = false

func listenKeepAlive(string, string, syscall.RawConn) error { return nil }

// listenLinger does nothing: each connection gets its SO_LINGER 0
// (armConnReset).
func listenLinger(syscall.RawConn) (bool, int) { return false, 0 }
