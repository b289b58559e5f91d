package testenv

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// The waits below turn a hang of the code under test into a failure of
// the test that waited, with what it waited for and every goroutine's
// stack, instead of the test binary's -timeout (30 minutes under make
// test), whose panic ends the whole package and names only the test.
// Their bound is not a timing threshold: it is far above anything the
// awaited step takes on a busy machine (a package's hangTimeout, twice
// its defaultTestTimeout: a minute), so only a step that would never end
// reaches it.

// Stuck fails t for a wait on what that has lasted waited: it writes
// every goroutine's stack to stderr at once (a test's own output is
// shown only when it ends, which a cleanup that waits on the same hang
// may never let it do) and calls t.Fatalf.
func Stuck(t testing.TB, what string, waited time.Duration) {
	t.Helper()
	fmt.Fprintf(os.Stderr, "=== HANG %s: %s: still waiting after %v; every goroutine:\n%s\n=== END HANG %s\n",
		t.Name(), what, waited.Round(time.Millisecond), stacks(), t.Name())
	t.Fatalf("%s: still waiting after %v (a hang: goroutines on stderr, under === HANG %s)",
		what, waited.Round(time.Millisecond), t.Name())
}

// stacks returns every goroutine's stack.
func stacks() []byte {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) || len(buf) >= 64<<20 {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}

// bounded returns bound, or less when the test binary's -timeout comes
// sooner (Deadline): the hang is then still this test's failure.
func bounded(t testing.TB, bound time.Duration) time.Duration {
	if d, ok := Deadline(t); ok {
		return max(min(bound, time.Until(d)), 0)
	}
	return bound
}

// Recv returns what ch delivers (the zero value once it is closed), and
// fails t with Stuck when nothing has come within bound: what names the
// awaited step ("Shutdown's return").
func Recv[T any](t testing.TB, bound time.Duration, what string, ch <-chan T) T {
	t.Helper()
	bound = bounded(t, bound)
	timer := time.NewTimer(bound)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		Stuck(t, what, bound)
		panic("unreachable")
	}
}

// Within runs f on a goroutine and fails t with Stuck when f has not
// returned within bound. f must not call t.FailNow (it runs on a goroutine
// of its own); on a hang it is left running, for goleak to name too.
func Within(t testing.TB, bound time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	Recv(t, bound, what, done)
}

// Until polls cond, yielding the processor between looks
// (runtime.Gosched: for a state another goroutine reaches at once, such
// as a context's AfterFunc having run), until it holds, and fails t with
// Stuck when it has not within bound.
func Until(t testing.TB, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	bound = bounded(t, bound)
	start := time.Now()
	for !cond() {
		if time.Since(start) > bound {
			Stuck(t, what, bound)
		}
		runtime.Gosched()
	}
}
