package main

import (
	"net"
	"strings"
	"testing"
)

// TestTCPRefusedNamesAddr: `halfclose --tcp --addr HOST:PORT` dials the
// default --tcp-addr, --addr being the gRPC address; the refusal says so
// (it named only 127.0.0.1:50052, which the user never typed). With a
// --tcp-addr of one's own, or --addr left alone, no such hint.
func TestTCPRefusedNamesAddr(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	_, refused := net.Dial("tcp", closed)
	if refused == nil {
		t.Skip("a closed port accepted a connection")
	}
	const hint = "; --addr ([::1]:7002) is the gRPC address: with --tcp, give the command port as --tcp-addr"
	for _, tc := range []struct {
		o    options
		hint bool
	}{
		{options{tcp: true, addr: "[::1]:7002", tcpAddr: defaultTCPAddr}, true},
		{options{tcp: true, addr: "[::1]:7002", tcpAddr: closed}, false},
		{options{tcp: true, addr: defaultAddr, tcpAddr: defaultTCPAddr}, false},
		{options{addr: "[::1]:7002", tcpAddr: defaultTCPAddr}, false},
	} {
		got := (&runner{o: tc.o}).describe(refused)
		if !strings.Contains(got, "connection refused") || strings.HasSuffix(got, hint) != tc.hint {
			t.Errorf("%+v: %q; hint %v", tc.o, got, tc.hint)
		}
	}
}
