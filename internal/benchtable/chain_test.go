package main

import (
	"os"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestProcCPU reads this process's CPU time from /proc as getrusage(2)
// tells it, to the tick (10 ms) the two round it to.
func TestProcCPU(t *testing.T) {
	x := 0
	for i := range 50_000_000 { // some CPU time to read
		x ^= i * i
	}
	_ = x
	var before, after syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &before); err != nil {
		t.Fatal(err)
	}
	got, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &after); err != nil {
		t.Fatal(err)
	}
	lo := time.Duration(before.Utime.Nano()+before.Stime.Nano()) - 20*time.Millisecond
	hi := time.Duration(after.Utime.Nano()+after.Stime.Nano()) + 20*time.Millisecond
	if got < lo || got > hi {
		t.Fatalf("procCPU = %v, getrusage says %v to %v", got, lo, hi)
	}
	if _, err := procCPU(1 << 30); err == nil {
		t.Fatal("procCPU of no process: no error")
	}
}
