package client

import (
	"context"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"

	"github.com/halfclose/halfclose/internal/loopcc"
)

// loopbackDialOptions dials a target of loopback addresses alone
// (loopbackOnly) as grpc-go's own dialer does (TCP keepalive on, with the
// system's timings), and with loopcc.Control (Reno congestion control).
func loopbackDialOptions() []grpc.DialOption {
	d := &net.Dialer{
		KeepAlive: -1, // no keepalive timings set by Go: the system's
		Control: func(network, address string, c syscall.RawConn) error {
			if err := c.Control(func(fd uintptr) {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
			}); err != nil {
				return err
			}
			return loopcc.Control(network, address, c)
		},
	}
	return []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", addr)
	})}
}
