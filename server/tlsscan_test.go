package server

import "testing"

// TestTLSScanCountsRecordsArriving: the raw bytes of a TLS application
// data record count as they arrive while the record is incomplete (a
// slow client's, which crypto/tls cannot decrypt yet); a record a read
// completes, a handshake record and the record headers do not.
func TestTLSScanCountsRecordsArriving(t *testing.T) {
	rec := func(typ byte, n int) []byte {
		b := []byte{typ, 3, 3, byte(n >> 8), byte(n)}
		return append(b, make([]byte, n)...)
	}
	hello := rec(tlsHandshakeRecord, 40)
	app := rec(tlsAppData, 1000)
	ping := rec(tlsAppData, 30)
	cases := []struct {
		name  string
		reads [][]byte
		want  uint64
	}{
		{"whole records", [][]byte{hello, app, ping}, 0},
		{"app record in three reads", [][]byte{hello, app[:105], app[105:505], app[505:]}, 100 + 400},
		{"header split", [][]byte{hello, app[:3], app[3:]}, 0},
		{"handshake record in two reads", [][]byte{hello[:20], hello[20:]}, 0},
		{"ping then an app record begun", [][]byte{append(append(append([]byte{}, hello...), ping...), app[:205]...)}, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tr connTraffic
			s := h2Scan{t: &tr}
			for _, r := range c.reads {
				s.scan(r)
			}
			if got := tr.data.Load(); got != c.want {
				t.Errorf("counted %d, want %d", got, c.want)
			}
		})
	}
	// A plaintext HTTP/2 connection's bytes are not taken for TLS.
	var tr connTraffic
	s := h2Scan{t: &tr}
	s.scan([]byte(clientPreface))
	if s.off || s.tls.on {
		t.Errorf("preface: off %v, tls %v", s.off, s.tls.on)
	}
}

// TestTLSScanEverySplit: a stream of TLS records of every type a client
// sends (handshake, change_cipher_spec, alert, application data; empty
// ones too), cut into two or three reads at every offset
// (headers and lengths split included; the middle read of the three
// up to 15 bytes, a header and more), or read a byte at a time: the
// count is, read by read, the payload bytes of application data records
// whose record ends after the read, as a model that labels every byte
// with its record tells.
func TestTLSScanEverySplit(t *testing.T) {
	var stream []byte
	var app []bool // stream[i] is a payload byte of an application data record
	var end []int  // the offset just past stream[i]'s record
	add := func(typ byte, n int) {
		start := len(stream)
		stream = append(stream, typ, 3, 3, byte(n>>8), byte(n))
		for range n {
			stream = append(stream, byte(len(stream)))
		}
		for i := start; i < len(stream); i++ {
			app = append(app, typ == tlsAppData && i >= start+5)
			end = append(end, len(stream))
		}
	}
	add(tlsHandshakeRecord, 9)
	add(20, 1) // change_cipher_spec (TLS 1.3 middlebox compatibility)
	add(tlsAppData, 7)
	add(tlsAppData, 0)
	add(21, 2) // an alert
	add(tlsAppData, 1)
	add(tlsHandshakeRecord, 3)
	add(tlsAppData, 300) // a length over 255: both length bytes
	add(tlsAppData, 6)
	want := func(cuts []int) uint64 {
		var n uint64
		a := 0
		for _, b := range append(cuts, len(stream)) {
			for i := a; i < b; i++ {
				if app[i] && end[i] > b {
					n++
				}
			}
			a = b
		}
		return n
	}
	check := func(cuts ...int) {
		var tr connTraffic
		s := h2Scan{t: &tr}
		a := 0
		for _, b := range append(cuts, len(stream)) {
			s.scan(stream[a:b])
			a = b
		}
		if got, w := tr.data.Load(), want(cuts); got != w {
			t.Fatalf("reads cut at %v: counted %d, want %d", cuts, got, w)
		}
	}
	check()
	for i := 1; i < len(stream); i++ {
		check(i)
		for j := i + 1; j < min(i+16, len(stream)); j++ {
			check(i, j) // a middle read of up to 15 bytes
		}
	}
	bytewise := make([]int, 0, len(stream)-1)
	for i := 1; i < len(stream); i++ {
		bytewise = append(bytewise, i)
	}
	check(bytewise...)
}

// TestH2ScanPrefaceNotTLS: an HTTP/2 client preface (h2c) read in any
// two pieces is HTTP/2 in the clear, and its DATA frames count as they
// did; a first byte other than a handshake record's turns the scan off
// without taking the connection for TLS.
func TestH2ScanPrefaceNotTLS(t *testing.T) {
	data := []byte{0, 0, 4, 0, 0, 0, 0, 0, 1, 'a', 'b', 'c', 'd'} // DATA, 4 bytes, stream 1
	b := append([]byte(clientPreface), data...)
	for i := 1; i < len(b); i++ {
		var tr connTraffic
		s := h2Scan{t: &tr}
		s.scan(b[:i])
		s.scan(b[i:])
		if s.off || s.tls.on || tr.data.Load() != 4 {
			t.Fatalf("preface cut at %d: off %v, tls %v, counted %d, want 4", i, s.off, s.tls.on, tr.data.Load())
		}
	}
	for _, first := range []byte{'G', 0, 23, 0x80} {
		var tr connTraffic
		s := h2Scan{t: &tr}
		s.scan([]byte{first, 3, 3, 0, 10, 1, 2})
		if !s.off || s.tls.on || tr.data.Load() != 0 {
			t.Errorf("first byte %#x: off %v, tls %v, counted %d", first, s.off, s.tls.on, tr.data.Load())
		}
	}
}
