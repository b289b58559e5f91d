package main

import (
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestDescribeConnCapRefusal: halfclosed closes a gRPC connection over
// --grpc-max-conns (or its address's share) before it speaks, and the
// client reads no server preface: the message named only a TLS port and
// a raw-TCP port, the wrong causes on a server at its cap.
func TestDescribeConnCapRefusal(t *testing.T) {
	// A port that refuses, so the probe of it finds no TLS.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r := &runner{o: options{addr: addr}}
	got := r.describe(status.Error(codes.Unavailable, `connection error: desc = "error reading server preface: EOF"`))
	if !strings.HasPrefix(got, "UNAVAILABLE: "+addr+" closed the connection without speaking gRPC") || !strings.Contains(got, "--grpc-max-conns") {
		t.Errorf("describe: %q; want the connection caps named", got)
	}
}
