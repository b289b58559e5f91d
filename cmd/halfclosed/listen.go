package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/halfclose/halfclose/internal/sockerr"
	"github.com/halfclose/halfclose/server"
)

// listeners is one listen address's sockets: one, or, for a host name of
// several addresses, one on each address the host can listen on, all on
// one port. The first is the one a lone net.Listen would have chosen (the
// name's first IPv4 address, or its first address), which the "listening"
// line names as addr.
type listeners []net.Listener

// addr is the first socket's address ("" when there is none).
func (ls listeners) addr() string {
	if len(ls) == 0 {
		return ""
	}
	return ls[0].Addr().String()
}

// logAttrs are the "listening" line's attributes: addr, the first
// socket's address, and also, the others', when there are others.
func (ls listeners) logAttrs() []any {
	attrs := []any{"addr", ls.addr()}
	if len(ls) > 1 {
		var also []string
		for _, l := range ls[1:] {
			also = append(also, l.Addr().String())
		}
		attrs = append(attrs, "also", strings.Join(also, " "))
	}
	return attrs
}

func (ls listeners) close() {
	for _, l := range ls {
		l.Close()
	}
}

// listenFlag listens on addr, the value of flag (listenName), names both
// in an error, and warns of the addresses of addr's host it could not
// listen on.
func listenFlag(log *slog.Logger, flag, addr string) (listeners, error) {
	ls, skipped, err := listenName(addr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, addr, err)
	}
	warnSkipped(log, flag, addr, ls, skipped)
	return ls, nil
}

// lookupHost is the resolver listenName asks (tests replace it).
var lookupHost = func(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// listenAt opens one socket on network "tcp", "tcp4" or "tcp6" (tests
// replace it).
var listenAt = server.ListenNet

// maxPortTries bounds how often a port-0 address of several sockets picks
// a new port because another process holds the first one's port on one of
// the other addresses.
const maxPortTries = 32

// listenName listens on addr as server.Listen does, except that a host
// that is a name is looked up here, once, and listened on at every
// address it has (listenAll), not at one: Go's net.Listen takes the first
// IPv4 address alone, so localhost:50051 was 127.0.0.1:50051 where
// localhost is also ::1 (Debian's /etc/hosts), while the clients of
// localhost (nc, curl, grpcio, grpc-js, grpcurl) try ::1 first, and
// another process could take [::1]:50051 and quietly serve them. An
// address (IPv4, IPv6 in brackets) or no host (every interface) is one
// socket, as before. skipped are the name's addresses the host cannot
// listen on (sockerr.AddrUnavailable: IPv6 off, an address of another
// host), which are left out as long as one address is listened on.
func listenName(addr string) (_ listeners, skipped []error, _ error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		l, err := listenAt("tcp", addr)
		return listenersOf(l), nil, err
	}
	if _, err := netip.ParseAddr(host); err == nil {
		l, err := listenAt("tcp", addr) // an address: that one was meant
		return listenersOf(l), nil, err
	}
	addrs, err := lookupHost(context.Background(), host)
	if err == nil && len(addrs) == 0 {
		err = &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	if err != nil {
		return nil, nil, &net.OpError{Op: "listen", Net: "tcp", Err: err}
	}
	p, err := net.LookupPort("tcp", port)
	if err != nil {
		return nil, nil, err
	}
	addrs = hostOrder(addrs)
	return listenAll(hostOrder(uncovered(addrs)), p, len(addrs) > 1)
}

func listenersOf(l net.Listener) listeners {
	if l == nil {
		return nil
	}
	return listeners{l}
}

// hostOrder returns addrs, IPv4-mapped ones as IPv4, each once, the
// first IPv4 one first (the address net.Listen would have taken alone:
// the one the listening line names first, and a port 0's picker), then
// the others in the resolver's order. Zones are kept: fe80::1%eth0 and
// fe80::1%eth1 are two addresses.
func hostOrder(addrs []netip.Addr) []netip.Addr {
	var out []netip.Addr
	first := -1
	for _, a := range addrs {
		a = a.Unmap()
		if !slices.Contains(out, a) {
			if first < 0 && a.Is4() {
				first = len(out)
			}
			out = append(out, a)
		}
	}
	if first > 0 {
		v4 := out[first]
		copy(out[1:first+1], out[:first])
		out[0] = v4
	}
	return out
}

// uncovered returns addrs without the ones a wildcard among them covers:
// 0.0.0.0 covers every IPv4 address, :: every IPv6 one, and a socket on
// one of them would clash with the wildcard's (address in use) for
// clients it serves anyway.
func uncovered(addrs []netip.Addr) []netip.Addr {
	v4 := slices.Contains(addrs, netip.IPv4Unspecified())
	v6 := slices.Contains(addrs, netip.IPv6Unspecified())
	return slices.DeleteFunc(slices.Clone(addrs), func(a netip.Addr) bool {
		return !a.IsUnspecified() && (a.Is4() && v4 || a.Is6() && v6)
	})
}

// familyNet is the network a name's address a is listened on as. When
// the name has several addresses (several, also where a wildcard covered
// the others), its wildcards serve their own family alone: 0.0.0.0 as
// "tcp4", :: as "tcp6" (IPV6_V6ONLY). Go's "tcp" listens on either as
// one dual-stack [::] socket, which serves IPv4 clients on every
// interface: a name of 0.0.0.0 and :: (both wildcards) failed to start
// (address in use: the second socket clashed with the first's other
// family), as did 0.0.0.0 with ::1, and :: with 127.0.0.1; and a :: that
// took IPv4 clients everywhere would serve more than the name has. Any
// other address is "tcp", whose socket serves its one address. A name of
// one address is that address, as given literally: [::]:P or 0.0.0.0:P
// is then one dual-stack socket.
func familyNet(a netip.Addr, several bool) string {
	switch {
	case !several || !a.IsUnspecified():
		return "tcp"
	case a.Is4():
		return "tcp4"
	}
	return "tcp6"
}

// listenAll opens a socket on each of addrs at port, of its own family
// alone when several (familyNet). Port 0 is the port the first socket
// gets, which the others are then bound to; when
// another process holds it on one of them, every socket is closed and a
// new port tried, up to maxPortTries times. An address the host cannot
// listen on (sockerr.AddrUnavailable) is skipped and returned in
// skipped, unless none is left; any other error (a port in use: the
// other process would serve that address's clients) fails it all.
func listenAll(addrs []netip.Addr, port int, several bool) (ls listeners, skipped []error, err error) {
	for try := 1; ; try++ {
		var retry bool
		ls, skipped, retry, err = listenOnce(addrs, port, several)
		if !retry || try == maxPortTries {
			return ls, skipped, err
		}
	}
}

// listenOnce is one try of listenAll; retry asks for another (port 0,
// the first socket's port held on another address).
func listenOnce(addrs []netip.Addr, port int, several bool) (ls listeners, skipped []error, retry bool, err error) {
	p := port
	for _, a := range addrs {
		l, err := listenAt(familyNet(a, several), net.JoinHostPort(a.String(), strconv.Itoa(p)))
		switch {
		case err == nil:
			if p == 0 {
				p = l.Addr().(*net.TCPAddr).Port
			}
			ls = append(ls, l)
			continue
		case sockerr.AddrUnavailable(err):
			skipped = append(skipped, err)
			continue
		}
		ls.close()
		return nil, nil, port == 0 && len(ls) > 0 && sockerr.AddrInUse(err), err
	}
	if len(ls) == 0 {
		return nil, nil, false, errors.Join(skipped...)
	}
	return ls, skipped, false, nil
}

// warnSkipped warns of the addresses of addr's host (skipped: their
// errors) that the host could not listen on, and names the ones served:
// on a host without IPv6, localhost:50051 is served on 127.0.0.1:50051
// alone, and a client that tries [::1]:50051 first is refused there
// (nothing else can listen there either) and tries 127.0.0.1.
func warnSkipped(log *slog.Logger, flag, addr string, ls listeners, skipped []error) {
	if len(skipped) == 0 {
		return
	}
	host, _, _ := net.SplitHostPort(addr)
	var why []string
	for _, err := range skipped {
		why = append(why, err.Error())
	}
	attrs := append([]any{"value", addr}, ls.logAttrs()...)
	log.Warn(flag+": not listening on every address of "+host+": this host cannot listen on some (no IPv6? an address of another host?); their clients are refused there, and try the others", append(attrs, "err", strings.Join(why, "; "))...)
}
