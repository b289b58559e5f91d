//go:build !linux

package server

import (
	"io"
	"net"
)

// setRecvLowat does nothing here: SO_RCVLOWAT's wake-ups are Linux's.
func setRecvLowat(*net.TCPConn, int) bool { return false }

func recvQueued(*net.TCPConn) int { return 0 }

func newRawReader(*net.TCPConn) io.Reader { return nil }
