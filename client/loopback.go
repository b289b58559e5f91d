package client

import (
	"net"
	"net/netip"
)

// loopbackOnly reports whether every host:port of addrs is on this
// machine: a loopback IP address or "localhost". grpc-go never sends such
// an address through an HTTP CONNECT proxy (Go's rule for
// HTTPS_PROXY/NO_PROXY exempts them), so a dialer of the client's own,
// which turns grpc-go's proxy support off, changes nothing else for them.
// The name is "localhost" exactly, as in Go's rule: "LocalHost" goes
// through a proxy, so grpc-go's dialer keeps it.
func loopbackOnly(addrs []string) bool {
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return false
		}
		if host == "localhost" {
			continue
		}
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.IsLoopback() {
			return false
		}
	}
	return len(addrs) > 0
}
