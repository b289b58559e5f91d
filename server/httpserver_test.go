package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/halfclose/halfclose/internal/testenv"
)

// startHTTP serves h on 127.0.0.1:0 and returns its base URL and a client;
// both are shut down when the test ends.
func startHTTP(t *testing.T, h http.Handler) (string, *http.Client) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("http shutdown: %v", err)
		}
		if err := testenv.Recv(t, hangTimeout, "ListenAndServe's return after Shutdown", done); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("http serve: %v", err)
		}
	})
	return "http://" + lis.Addr().String(), &http.Client{Transport: tr, Timeout: defaultTestTimeout}
}

func get(t *testing.T, c *http.Client, method, url string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func TestHTTPHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewMetrics(reg).TCPConnOpened()
	var ready atomic.Bool
	base, c := startHTTP(t, NewHTTPHandler(reg, ready.Load, false))

	tests := []struct {
		method, path string
		code         int
		body         string // substring
	}{
		{"GET", "/healthz", 200, "ok"},
		{"HEAD", "/healthz", 200, ""},
		{"GET", "/readyz", 503, "not ready"},
		{"GET", "/metrics", 200, "halfclose_tcp_connections_total 1"},
		{"GET", "/debug/pprof/", 404, ""},
		{"GET", "/debug/pprof/goroutine", 404, ""},
		{"GET", "/", 404, ""},
		{"POST", "/healthz", 405, ""},
	}
	for _, tc := range tests {
		code, body, _ := get(t, c, tc.method, base+tc.path)
		if code != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("%s %s = %d %q, want %d containing %q", tc.method, tc.path, code, body, tc.code, tc.body)
		}
	}

	ready.Store(true)
	if code, body, _ := get(t, c, "GET", base+"/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("readyz when ready = %d %q", code, body)
	}
	ready.Store(false)
	if code, _, _ := get(t, c, "GET", base+"/readyz"); code != 503 {
		t.Errorf("readyz after flipping back = %d", code)
	}
	if code, _, _ := get(t, c, "GET", base+"/healthz"); code != 200 {
		t.Errorf("healthz while not ready = %d", code)
	}
}

func TestHTTPHandlerNilReadyAndPprof(t *testing.T) {
	base, c := startHTTP(t, NewHTTPHandler(prometheus.NewRegistry(), nil, true))
	if code, _, _ := get(t, c, "GET", base+"/readyz"); code != 200 {
		t.Errorf("readyz with nil ready = %d, want 200", code)
	}
	code, body, _ := get(t, c, "GET", base+"/debug/pprof/")
	if code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("pprof index = %d %.80q", code, body)
	}
	code, body, _ = get(t, c, "GET", base+"/debug/pprof/goroutine?debug=1")
	if code != 200 || !strings.Contains(body, "goroutine profile") {
		t.Errorf("pprof goroutine = %d %.80q", code, body)
	}
	if code, _, _ := get(t, c, "GET", base+"/debug/pprof/cmdline"); code != 200 {
		t.Errorf("pprof cmdline = %d", code)
	}
}
