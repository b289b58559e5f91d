package server

import (
	"bytes"
	"net"
	"strconv"
	"sync/atomic"
	"time"
)

// Every call logs its peer's address and looks its IP up in the per-peer
// caps, and grpc-go hands each stream of a connection the same *TCPAddr:
// the strings are made once per connection rather than once per call (two
// or three allocations each). The cache is a small table indexed by port
// with an entry per slot, so its memory is fixed; a miss only costs the
// conversion.

type addrEntry struct {
	addr     *net.TCPAddr
	full, ip string
	// key is PeerKeys{IPv6Prefix: keyBits}.Key(addr) of an IPv6 address
	// under a prefix ("" until asked for): two allocations a call
	// otherwise, and every stream asks up to three times (TapHandle, its
	// job, the rate limit).
	key     string
	keyBits int
}

const addrSlots = 256

var addrCache [addrSlots]atomic.Pointer[addrEntry]

// tcpAddrStrings returns a.String() and a.IP.String().
func tcpAddrStrings(a *net.TCPAddr) (full, ip string) {
	slot := &addrCache[uint(a.Port)%addrSlots]
	if e := slot.Load(); e != nil && e.addr == a {
		return e.full, e.ip
	}
	e := &addrEntry{addr: a}
	e.full, e.ip = formatTCPAddr(a)
	slot.Store(e)
	return e.full, e.ip
}

// formatTCPAddr returns a.String() and a.IP.String() in one allocation, the
// IP a substring of the whole: a.String() alone is four (the IP's text, the
// port's, the join and, with a zone, its concatenation), and a.IP.String()
// one more, for every connection a route job comes on (issue 14).
func formatTCPAddr(a *net.TCPAddr) (full, ip string) {
	if len(a.IP) != net.IPv4len && len(a.IP) != net.IPv6len {
		return a.String(), a.IP.String() // "<nil>", "?hex": as net has them
	}
	// "[" IP ["%" zone] "]:" port, the brackets when the host holds a
	// colon, as net.JoinHostPort puts them.
	var buf [64]byte
	b := append(buf[:0], '[')
	b, _ = a.IP.AppendText(b) // valid length: no error
	end := len(b)
	if a.Zone != "" {
		b = append(b, '%')
		b = append(b, a.Zone...)
	}
	start := 1
	if bytes.IndexByte(b[1:], ':') >= 0 {
		start = 0
		b = append(b, ']')
	}
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(a.Port), 10)
	full = string(b[start:])
	return full, full[1-start : end-start]
}

// tcpPeerKey returns prefixKey(a, bits), cached with a's strings.
func tcpPeerKey(a *net.TCPAddr, bits int) string {
	slot := &addrCache[uint(a.Port)%addrSlots]
	e := slot.Load()
	if e != nil && e.addr == a && e.keyBits == bits {
		return e.key
	}
	var ne addrEntry
	if e != nil && e.addr == a {
		ne = *e
	} else {
		ne = addrEntry{addr: a}
		ne.full, ne.ip = formatTCPAddr(a)
	}
	ne.key, ne.keyBits = prefixKey(a, bits), bits
	slot.Store(&ne)
	return ne.key
}

// addrString is a.String(), cached for TCP addresses.
func addrString(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok && t != nil {
		full, _ := tcpAddrStrings(t)
		return full
	}
	if a == nil {
		return "<nil>"
	}
	return a.String()
}

// deadlineCache is the last deadline formatted, to the second.
type deadlineEntry struct {
	sec int64
	s   string
}

var deadlineCache atomic.Pointer[deadlineEntry]

// formatDeadline is t.Format(time.RFC3339), cached by the second for local
// times: the calls of one second, whose deadlines mostly fall in the same
// second, format it once.
func formatDeadline(t time.Time) string {
	if t.Location() != time.Local {
		return t.Format(time.RFC3339)
	}
	sec := t.Unix()
	if e := deadlineCache.Load(); e != nil && e.sec == sec {
		return e.s
	}
	e := &deadlineEntry{sec: sec, s: t.Format(time.RFC3339)}
	deadlineCache.Store(e)
	return e.s
}
