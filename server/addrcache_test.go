package server

import (
	"net"
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
