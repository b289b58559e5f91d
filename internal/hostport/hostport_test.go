package hostport

import "testing"

func TestBracketHint(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"::1:50051", "an IPv6 address goes in brackets: [::1]:50051"},
		{"fe80::1%eth0:7001", "an IPv6 address goes in brackets: [fe80::1%eth0]:7001"},
		{"::1", "an IPv6 address goes in brackets: [::1]:PORT"},
		{"::1:2300", "an IPv6 address goes in brackets: [::1]:2300 (or [::1:2300]:PORT)"},
		{"::1:abcd", "an IPv6 address goes in brackets: [::1:abcd]:PORT"},
		{"::", "an IPv6 address goes in brackets: [::]:PORT"},
		{"[::1]:1", ""}, {"127.0.0.1:1", ""}, {"h:1:2", ""}, {"127.0.0.1", ""}, {"::1:", ""},
	} {
		if got := BracketHint(tc.in); got != tc.want {
			t.Errorf("BracketHint(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}
