package server

import (
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"
)

func TestTCPAddrStrings(t *testing.T) {
	addrs := []*net.TCPAddr{
		{IP: net.IPv4(127, 0, 0, 1), Port: 40000},
		{IP: net.IPv4(10, 1, 2, 3), Port: 40000 + addrSlots}, // the same slot
		{IP: net.ParseIP("::1"), Port: 5},
		{IP: net.ParseIP("fe80::1"), Port: 6, Zone: "eth0"},
		{IP: nil, Port: 7},
	}
	for range 2 { // misses, then hits (or misses again, for the shared slot)
		for _, a := range addrs {
			full, ip := tcpAddrStrings(a)
			if full != a.String() || ip != a.IP.String() {
				t.Errorf("%#v: got %q %q, want %q %q", a, full, ip, a.String(), a.IP.String())
			}
			if got := addrString(a); got != a.String() {
				t.Errorf("addrString(%v) = %q", a, got)
			}
			if got := PeerIP(a); got != a.IP.String() {
				t.Errorf("PeerIP(%v) = %q", a, got)
			}
		}
	}
	u := &net.UnixAddr{Name: "/run/x.sock", Net: "unix"}
	if got := addrString(u); got != u.String() {
		t.Errorf("addrString(unix) = %q", got)
	}
}

func TestFormatDeadline(t *testing.T) {
	base := time.Now()
	utc := time.Date(2026, 3, 29, 0, 59, 59, 999999999, time.UTC)
	zone := time.FixedZone("X", 5*3600+1800)
	for _, tm := range []time.Time{
		base, base.Add(time.Millisecond), base.Add(time.Second), base.Add(-time.Hour), base,
		utc, utc.Add(time.Nanosecond), utc.In(zone), base.In(zone),
	} {
		if got, want := formatDeadline(tm), tm.Format(time.RFC3339); got != want {
			t.Errorf("formatDeadline(%v) = %q, want %q", tm, got, want)
		}
	}
}

// TestFormatTCPAddrMatchesNet compares formatTCPAddr with net's own
// a.String() and a.IP.String() over random addresses of every shape.
func TestFormatTCPAddrMatchesNet(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 5))
	zones := []string{"", "", "eth0", "1", "a:b", "lo%x", strings.Repeat("z", 40)}
	ports := []int{0, 1, 80, 65535, 70000, -1}
	shapes := []func() net.IP{
		func() net.IP {
			return net.IPv4(byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)))
		},
		func() net.IP {
			return net.IPv4(byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))).To4()
		},
		func() net.IP { // IPv6 with runs of zeros
			ip := make(net.IP, net.IPv6len)
			for i := range ip {
				if r.IntN(3) == 0 {
					ip[i] = byte(r.IntN(256))
				}
			}
			return ip
		},
		func() net.IP { return net.ParseIP("fe80::1") },
		func() net.IP { return net.IPv6unspecified },
		func() net.IP { return nil },
		func() net.IP { return net.IP{1, 2, 3} },
	}
	for i := range 20000 {
		a := &net.TCPAddr{IP: shapes[r.IntN(len(shapes))](), Zone: zones[r.IntN(len(zones))]}
		a.Port = ports[r.IntN(len(ports))]
		if i%2 == 0 {
			a.Port = r.IntN(65536)
		}
		full, ip := formatTCPAddr(a)
		if full != a.String() || ip != a.IP.String() {
			t.Fatalf("%#v: got %q %q, want %q %q", a, full, ip, a.String(), a.IP.String())
		}
	}
}

// TestTCPAddrStringsAllocations: a new connection's address strings cost
// its cache entry and one string (were five: net's three for the whole,
// one for the IP, the entry).
func TestTCPAddrStringsAllocations(t *testing.T) {
	addrs := []*net.TCPAddr{
		{IP: net.IPv4(127, 0, 3, 7), Port: 40001},
		{IP: net.ParseIP("2001:db8::7"), Port: 40002},
		{IP: net.ParseIP("fe80::1"), Port: 40003, Zone: "eth0"},
	}
	for _, a := range addrs {
		n := testing.AllocsPerRun(100, func() {
			addrCache[uint(a.Port)%addrSlots].Store(nil) // a miss each time
			tcpAddrStrings(a)
		})
		if n > 2 {
			t.Errorf("%v: %v allocations, want at most 2", a, n)
		}
	}
}
