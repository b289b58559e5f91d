// Package hostport explains address flag values that are not HOST:PORT.
package hostport

import (
	"net"
	"net/netip"
	"strings"
)

// BracketHint returns how to write addr when it is an IPv6 address and
// port without the brackets HOST:PORT needs ("::1:50051" is
// "[::1]:50051"), or an IPv6 address with no port at all ("::1" is
// "[::1]:PORT"); "" otherwise. net.SplitHostPort says "too many colons",
// which does not say what to type instead.
func BracketHint(addr string) string {
	if strings.Count(addr, ":") < 2 || strings.ContainsAny(addr, "[]") {
		return ""
	}
	if a, err := netip.ParseAddr(addr); err == nil && !strings.Contains(a.Zone(), ":") {
		// "::1", or "::1:7001", which is an address too: no port, or a
		// port meant after the last colon.
		i := strings.LastIndexByte(addr, ':')
		if p, err := netip.ParseAddr(addr[:i]); err == nil && p.Zone() == "" && allDigits(addr[i+1:]) {
			return "an IPv6 address goes in brackets: " + net.JoinHostPort(addr[:i], addr[i+1:]) + " (or [" + addr + "]:PORT)"
		}
		return "an IPv6 address goes in brackets: [" + addr + "]:PORT"
	}
	i := strings.LastIndexByte(addr, ':')
	host, port := addr[:i], addr[i+1:]
	if a, err := netip.ParseAddr(host); err != nil || port == "" || strings.Contains(a.Zone(), ":") {
		return ""
	}
	return "an IPv6 address goes in brackets: " + net.JoinHostPort(host, port)
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
