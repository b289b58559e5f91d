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
// prefix all the clients of the server's links were one peer. Its zone
// (the interface it came on, "fe80::1%eth0") is part of its key: a
// link-local address names a host on one link only, and two hosts of two
// links may have the same one (fe80::1 is a router's on many links),
// which were one peer without it. The zero value keys each address apart.
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

// Key returns the peer key of a: PeerIP(a), with its zone when it has one
// ("fe80::1%eth0"), or for an IPv6 address under IPv6Prefix its prefix,
// "2001:db8:1:2::/64".
func (k PeerKeys) Key(a net.Addr) string {
	t, ok := a.(*net.TCPAddr)
	if !ok || t == nil {
		return PeerIP(a)
	}
	ip, ok := netip.AddrFromSlice(t.IP)
	if !ok || ip.Unmap().Is4() {
		return PeerIP(a)
	}
	if ip.IsLinkLocalUnicast() {
		if t.Zone != "" {
			return zonedIP(t)
		}
		return PeerIP(a)
	}
	// A zone on any other address (Linux and the BSDs give none; one
	// given anyway) keys it by its prefix still: keyed with its zone, it
	// left its /64's peer.
	bits := k.prefix()
	if bits == 0 {
		return PeerIP(a)
	}
	return tcpPeerKey(t, bits)
}

// zonedIP is a's IP and zone, "fe80::1%eth0": its cached string,
// "[fe80::1%eth0]:port", without the brackets and port.
func zonedIP(a *net.TCPAddr) string {
	full, ip := tcpAddrStrings(a)
	if len(full) < len(ip)+len(a.Zone)+2 || full[0] != '[' {
		return PeerIP(a) // not bracketed: cannot be, a's IP is IPv6
	}
	return full[1 : 1+len(ip)+1+len(a.Zone)]
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
