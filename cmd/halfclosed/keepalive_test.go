package main

import (
	"fmt"
	"net"
	"testing"

	"golang.org/x/net/http2"

	"github.com/halfclose/halfclose/internal/testenv"
)

// TestKeepaliveMinTimeZero: --keepalive-min-time 0 lets a gRPC client
// ping at any interval, as Capabilities reports it (keepalive_min_time_ms
// 0: "pings may come at any interval"). grpc-go reads a MinTime of 0 as
// its default of 5 minutes: a client pinging more than twice in 5 minutes
// was sent GOAWAY ENHANCE_YOUR_CALM "too_many_pings" and disconnected.
// The client is raw HTTP/2 (grpc-go's own client pings at most every
// 10 s); the server acknowledges each ping before it counts it, so the
// pings' acknowledgements, in order, and no GOAWAY among them, are the
// verdict.
func TestKeepaliveMinTimeZero(t *testing.T) {
	const pings = 8
	d := startDaemon(t, "--keepalive-min-time=0")
	c, err := net.Dial("tcp", d.grpcAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	for i := range pings {
		if err := fr.WritePing(false, [8]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var problem string
	testenv.Within(t, hangTimeout, "the pings' acknowledgements", func() {
		for acked := 0; acked < pings; {
			f, err := fr.ReadFrame()
			if err != nil {
				problem = fmt.Sprintf("after %d acknowledgements: %v", acked, err)
				return
			}
			switch f := f.(type) {
			case *http2.PingFrame:
				if f.IsAck() {
					acked++
				}
			case *http2.GoAwayFrame:
				problem = fmt.Sprintf("GOAWAY %v %q after %d acknowledgements", f.ErrCode, f.DebugData(), acked)
				return
			}
		}
	})
	if problem != "" {
		t.Fatalf("%d pings at once with --keepalive-min-time 0: %s", pings, problem)
	}
}
