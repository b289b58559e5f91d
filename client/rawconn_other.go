//go:build !linux

package client

import (
	"context"
	"net"
)

// dialRaw is net.Dialer's: raw system calls on the socket are Linux's
// (rawconn_linux.go).
func dialRaw(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

const hasRawDialer = false
