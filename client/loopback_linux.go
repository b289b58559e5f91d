package client

import (
	"context"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
)

// renoOnLoopback is a net.Dialer Control: a socket about to connect to a
// loopback address gets Reno congestion control instead of the system's
// default. A loopback connection has no network to be fair to, and a
// pacing congestion control (BBR, a common default) paces it anyway: the
// kernel holds sends back with a pacing timer. On the 2-core VM, with BBR
// the default, a GiB of `halfclose sha256sum` over gRPC cost the client
// a fifth to a quarter less CPU with Reno, and the server up to a tenth
// less (docs/operations.md, "Throughput"). Reno is built into Linux
// and open to every user; a failure (a sandbox's filter) leaves the
// default, as does any other address.
func renoOnLoopback(_, address string, c syscall.RawConn) error {
	if !isLoopbackAddr(address) {
		return nil
	}
	return c.Control(func(fd uintptr) {
		_ = unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, "reno")
	})
}

// tcpDialControl is the Control of the raw-TCP client's dialer.
var tcpDialControl = renoOnLoopback

// loopbackDialOptions dials a target of loopback addresses alone
// (loopbackOnly) as grpc-go's own dialer does (TCP keepalive on, with the
// system's timings), and with renoOnLoopback.
func loopbackDialOptions() []grpc.DialOption {
	d := &net.Dialer{
		KeepAlive: -1, // no keepalive timings set by Go: the system's
		Control: func(network, address string, c syscall.RawConn) error {
			if err := c.Control(func(fd uintptr) {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
			}); err != nil {
				return err
			}
			return renoOnLoopback(network, address, c)
		},
	}
	return []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", addr)
	})}
}
