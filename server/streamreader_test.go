package server

import (
	"context"
	"io"
	"testing"
	"time"
)

// A reader's idle timer is stopped whenever a wait is over: a timer left
// running stays in the runtime's timer heap, reachable, until it fires —
// with a 1-minute timeout, a minute's worth of calls' timers for every GC
// to scan.
func TestStreamReaderStopsIdleTimer(t *testing.T) {
	msgs := [][]byte{[]byte("abc"), []byte("def")}
	r := newStreamReader(context.Background(), time.Minute, func() ([]byte, error) {
		if len(msgs) == 0 {
			return nil, io.EOF
		}
		b := msgs[0]
		msgs = msgs[1:]
		return b, nil
	})
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || string(got) != "abcdef" {
		t.Fatalf("read %q, %v", got, err)
	}
	if r.timer == nil {
		t.Fatal("no idle timer was used")
	}
	if r.timer.Stop() {
		t.Error("the idle timer was still running after the input ended")
	}
}
