package server

import (
	"net"
	"net/netip"
)

// PeerKeys says which client addresses count as one peer for the
// per-peer caps and the rate limit. An IPv4 address (also as an
// IPv4-mapped IPv6 address, as a dual-stack listener sees an IPv4 client)
// is a peer of its own. An IPv6 host is usually given a whole /64, so
// keyed by address one client could take a cap's share as many times
// over as it has addresses; IPv6Prefix keys IPv6 peers by their first
// IPv6Prefix bits. A link-local IPv6 address (fe80::/10) is a peer of
// its own: every host of every link has one in fe80::/64, so keyed by
// prefix all the clients of the server's links were one peer. The zero
// value keys each address apart.
type PeerKeys struct {
	// IPv6Prefix is the prefix length IPv6 peers are keyed by, 1 to 128;
	// 0 or 128: each address.
	IPv6Prefix int
}

// prefix is IPv6Prefix, or 0 when each address is its own.
func (k PeerKeys) prefix() int {
	if k.IPv6Prefix <= 0 || k.IPv6Prefix >= 128 {
		return 0
	}
	return k.IPv6Prefix
}

// Key returns the peer key of a: PeerIP(a), or for an IPv6 address under
// IPv6Prefix its prefix, "2001:db8:1:2::/64".
func (k PeerKeys) Key(a net.Addr) string {
	bits := k.prefix()
	t, ok := a.(*net.TCPAddr)
	if bits == 0 || !ok || t == nil {
		return PeerIP(a)
	}
	ip, ok := netip.AddrFromSlice(t.IP)
	if !ok || ip.Unmap().Is4() || ip.IsLinkLocalUnicast() {
		return PeerIP(a)
	}
	return tcpPeerKey(t, bits)
}

// prefixKey is the key of the IPv6 address a under a prefix of bits:
// "2001:db8:1:2::/64".
func prefixKey(a *net.TCPAddr, bits int) string {
	ip, _ := netip.AddrFromSlice(a.IP)
	p, err := ip.Prefix(bits)
	if err != nil {
		return PeerIP(a)
	}
	return p.String()
}
