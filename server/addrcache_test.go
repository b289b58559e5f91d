package server

import (
	"log/slog"
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

// TestAddFieldsOrder: the latest fields come first, and a key given again
// replaces the earlier value (go-grpc-middleware's logging.AddFields).
func TestAddFieldsOrder(t *testing.T) {
	cs := &callState{}
	cs.fields = cs.buf[:0]
	cs.addFields([]slog.Attr{slog.String("a", "1"), slog.String("b", "2")})
	cs.addFields([]slog.Attr{slog.String("c", "3"), slog.String("a", "4")})
	cs.addFields([]slog.Attr{slog.String("d", "5"), slog.String("e", "6"), slog.String("f", "7"), slog.String("g", "8")})
	var got string
	for _, a := range cs.fields {
		got += a.String() + " "
	}
	if want := "d=5 e=6 f=7 g=8 c=3 a=4 b=2 "; got != want {
		t.Fatalf("fields %q, want %q", got, want)
	}
}
