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
