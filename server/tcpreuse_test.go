package server

import (
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/halfclose/halfclose/internal/oracle"
)

// waitIdleConns waits until n connection goroutines wait for another
// connection, and fails if more do.
func waitIdleConns(t *testing.T, s *TCPServer, n int32) {
	t.Helper()
	for s.idleConns.Load() < n {
		runtime.Gosched()
	}
	if got := s.idleConns.Load(); got != n {
		t.Fatalf("%d connection goroutines wait, want %d", got, n)
	}
}

// TestTCPConnGoroutineReused: a connection goroutine that has served a job
// serves the next connection (its stack already grown), rather than a new
// goroutine; at most maxIdleConnGoroutines of them wait, and the shutdown
// ends them (the package's goleak check).
func TestTCPConnGoroutineReused(t *testing.T) {
	env := startEnv(t, envConfig{routes: []string{"sha256sum"}})
	addr := env.routes["sha256sum"]
	input := []byte("reused goroutine\n")
	want := oracle.Output(t, input, "sha256sum")
	for range 3 {
		if got := tcpCall(t, addr, "", input); got != want {
			t.Fatalf("reply %q, want %q", got, want)
		}
		waitIdleConns(t, env.tcp, 1)
	}
	// One goroutine served the three: the stacks show no other.
	if n := connGoroutines(); n != 1 {
		t.Fatalf("%d connection goroutines after 3 connections one after another, want 1", n)
	}

	// More connections at once than may wait: each served, and only
	// maxIdleConnGoroutines of their goroutines stay.
	n := maxIdleConnGoroutines + 8
	got := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i] = tcpCall(t, addr, "", input) })
	}
	wg.Wait()
	for i := range n {
		if got[i] != want {
			t.Fatalf("connection %d: %q, want %q", i, got[i], want)
		}
	}
	for connGoroutines() > maxIdleConnGoroutines {
		runtime.Gosched() // the goroutines past the cap end
	}
	if got := tcpCall(t, addr, "", input); got != want {
		t.Fatalf("after the burst: reply %q, want %q", got, want)
	}
}

// connGoroutines counts the goroutines in serveConns.
func connGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), ").serveConns(")
		}
		buf = make([]byte, 2*len(buf))
	}
}
