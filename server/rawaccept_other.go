//go:build !linux || !(amd64 || arm64)

package server

import "net"

// rawAcceptSupported: only Linux on amd64 and arm64 accepts raw
// (rawaccept_linux.go); elsewhere net's accept serves every listener.
const rawAcceptSupported = false

type rawAccepter struct{}

func newRawAccepter(net.Listener) *rawAccepter { return nil }

func (*rawAccepter) accept() (net.Conn, error) { return nil, net.ErrClosed }

func (*rawAccepter) wake() {}

func (*rawAccepter) close() {}

func rawTCPOf(net.Conn) (tcpConn, bool) { return nil, false }
