package client

import (
	"net/url"
	"testing"

	"golang.org/x/net/http/httpproxy"
)

// TestLoopbackOnlyNoProxy: an address loopbackOnly gives the client's own
// dialer (which turns grpc-go's proxy support off) is one that Go's proxy
// rule, which grpc-go's follows, never sends through HTTPS_PROXY: the
// dialer changes nothing for it but the congestion control.
func TestLoopbackOnlyNoProxy(t *testing.T) {
	proxy := (&httpproxy.Config{HTTPSProxy: "http://192.0.2.7:3128"}).ProxyFunc()
	for _, a := range []string{
		"127.0.0.1:1", "127.3.4.5:1", "[::1]:1", "[::ffff:127.0.0.1]:1",
		"localhost:1", "LocalHost:1", "LOCALHOST:1", "localhost.:1", "[::1%lo]:1", "[::1%25lo]:1", "127.1:1", "[0:0:0:0:0:0:0:1]:1",
		"10.0.0.1:1", "0.0.0.0:1", "[::]:1", "example.com:1",
	} {
		u, err := proxy(&url.URL{Scheme: "https", Host: a})
		if err != nil {
			t.Fatal(err)
		}
		if loopbackOnly([]string{a}) && u != nil {
			t.Errorf("loopbackOnly(%q) = true, but Go's rule sends it through the proxy %s", a, u)
		}
	}
}
