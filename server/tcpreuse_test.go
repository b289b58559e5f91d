package server

import (
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/halfclose/halfclose/internal/oracle"
)

// waitIdleConn waits until a connection goroutine is about to wait for
// another connection.
func waitIdleConn(s *TCPServer) {
	for s.idleConns.Load() < 1 {
		runtime.Gosched()
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
	const calls = 10
	for range calls {
		if got := tcpCall(t, addr, "", input); got != want {
			t.Fatalf("reply %q, want %q", got, want)
		}
		waitIdleConn(env.tcp)
	}
	// One goroutine served them, or a few: a connection accepted while
	// the goroutine counts itself idle but has not yet begun to wait gets
	// a new one. Without reuse there would be one each.
	if n := connGoroutines(); n > calls/2 {
		t.Fatalf("%d connection goroutines after %d connections one after another, want 1 or a few", n, calls)
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
