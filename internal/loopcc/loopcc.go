// Package loopcc gives TCP connections between two ends on this machine
// Reno congestion control instead of the system's default.
//
// A loopback connection has no network to be fair to, and a pacing
// congestion control (BBR, a common default) paces it anyway: the kernel
// holds sends back with a pacing timer and sends smaller bursts. On the
// 2-core VM, with BBR the default, a GiB of `halfclose sha256sum` over
// gRPC cost the client a fifth to a quarter less CPU with Reno, and the
// server up to a tenth less (docs/operations.md, "Throughput"). Reno is
// built into Linux and open to every user (net.ipv4.tcp_allowed_congestion_control
// does not restrict it); a failure (a sandbox's filter) leaves the
// default, as does any address that is not a loopback one. Elsewhere than
// Linux nothing changes.
package loopcc

import (
	"net"
	"net/netip"
	"syscall"
)

// IsLoopback reports whether address, an IP:port as a net.Dialer's
// Control or net.Conn.RemoteAddr gives it, is a loopback one.
func IsLoopback(address string) bool {
	ap, err := netip.ParseAddrPort(address)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

// Control is a net.Dialer Control: a socket about to connect to a
// loopback address gets Reno. It never fails the dial.
func Control(_, address string, c syscall.RawConn) error {
	if IsLoopback(address) {
		return c.Control(setReno)
	}
	return nil
}

// Accepted gives c, a connection a listener accepted, Reno when its peer
// is on a loopback address (a client or a proxy on this machine); any
// other connection is left alone.
func Accepted(c net.Conn) {
	sc, ok := c.(syscall.Conn)
	if !ok || c.RemoteAddr() == nil || !IsLoopback(c.RemoteAddr().String()) {
		return
	}
	if raw, err := sc.SyscallConn(); err == nil {
		raw.Control(setReno)
	}
}

// Listening gives l, a listener on a loopback address, Reno for the
// connections it accepts, and reports whether it did: each then has it
// from its listener (Linux copies TCP_CONGESTION to an accepted socket),
// and Accepted, a system call per connection, is not needed. It does
// nothing for any other listener, whose peers may be anywhere.
func Listening(l net.Listener) bool {
	ta, ok := l.Addr().(*net.TCPAddr)
	sc, ok2 := l.(syscall.Conn)
	if !ok || !ok2 || !ta.IP.IsLoopback() {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	set := false
	if raw.Control(func(fd uintptr) { set = trySetReno(fd) }) != nil {
		return false
	}
	return set
}
