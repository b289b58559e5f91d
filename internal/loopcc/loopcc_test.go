package loopcc

import "testing"

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:50051":      true,
		"127.255.0.9:1":        true,
		"[::1]:2":              true,
		"[::ffff:127.0.0.1]:3": true, // a v4 client on a dual-stack listener
		"[::ffff:10.0.0.1]:3":  false,
		"10.0.0.1:1":           false,
		"0.0.0.0:1":            false,
		"[::]:1":               false,
		"localhost:1":          false, // a name: the dialer's Control sees addresses
		"127.0.0.1":            false, // no port
		"":                     false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
