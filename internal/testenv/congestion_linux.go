package testenv

import (
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// DefaultCongestion is the system's TCP congestion control. A test that
// tells Reno (internal/loopcc) from it skips when it is Reno already.
func DefaultCongestion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control")
	if err != nil {
		t.Skipf("no default congestion control: %v", err)
	}
	cc := strings.TrimSpace(string(b))
	if cc == "reno" {
		t.Skip("the system's default congestion control is reno already")
	}
	return cc
}

// PeerCongestion returns the congestion control of each of this
// process's TCP sockets connected to peer (IP:port): a client's sockets
// to a server's address.
func PeerCongestion(peer string) []string { return congestion(peer, unix.Getpeername) }

// AcceptedCongestion returns the congestion control of each of this
// process's connected TCP sockets whose own address is addr (IP:port): a
// server's accepted connections on that port.
func AcceptedCongestion(addr string) []string {
	return congestion(addr, func(fd int) (unix.Sockaddr, error) {
		if _, err := unix.Getpeername(fd); err != nil {
			return nil, err // the listener, or not a socket
		}
		return unix.Getsockname(fd)
	})
}

// congestion returns the congestion control of this process's sockets
// whose address that name gives is addr.
func congestion(addr string, name func(fd int) (unix.Sockaddr, error)) []string {
	want := netip.MustParseAddrPort(addr)
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		sa, err := name(fd)
		if err != nil {
			continue
		}
		var ap netip.AddrPort
		switch sa := sa.(type) {
		case *unix.SockaddrInet4:
			ap = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
		case *unix.SockaddrInet6:
			ap = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
		default:
			continue
		}
		if ap != want {
			continue
		}
		if cc, err := unix.GetsockoptString(fd, unix.IPPROTO_TCP, unix.TCP_CONGESTION); err == nil {
			out = append(out, cc)
		}
	}
	return out
}
