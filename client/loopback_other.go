//go:build !linux

package client

import (
	"syscall"

	"google.golang.org/grpc"
)

// tcpDialControl is the Control of the raw-TCP client's dialer: none
// outside Linux.
var tcpDialControl func(network, address string, c syscall.RawConn) error

// loopbackDialOptions: grpc-go's own dialer outside Linux.
func loopbackDialOptions() []grpc.DialOption { return nil }
