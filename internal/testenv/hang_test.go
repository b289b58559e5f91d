package testenv

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fatalTB records t.Fatalf's message and ends its goroutine, as the real
// one does, so that a test can look at a failure Stuck reported.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn with a fatalTB over t on a goroutine of its own and
// returns the failure's message, "" when there was none.
func run(t *testing.T, fn func(tb testing.TB)) string {
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f.msg
}

func TestRecvDelivers(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 7
	if msg := run(t, func(tb testing.TB) {
		if v := Recv(tb, time.Hour, "the seven", ch); v != 7 {
			t.Errorf("Recv = %d, want 7", v)
		}
	}); msg != "" {
		t.Fatalf("Recv failed: %s", msg)
	}
}

// A wait that never ends fails with what was awaited, not a hang; the
// bound is short only because nothing here can ever end the wait.
func TestWithinReportsHang(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	msg := run(t, func(tb testing.TB) {
		Within(tb, time.Millisecond, "the never-ending step", func() { <-release })
	})
	if !strings.Contains(msg, "the never-ending step: still waiting after") {
		t.Fatalf("Within's failure: %q", msg)
	}
}

func TestUntilReportsHang(t *testing.T) {
	msg := run(t, func(tb testing.TB) {
		Until(tb, time.Millisecond, "a state never reached", func() bool { return false })
	})
	if !strings.Contains(msg, "a state never reached: still waiting after") {
		t.Fatalf("Until's failure: %q", msg)
	}
}
