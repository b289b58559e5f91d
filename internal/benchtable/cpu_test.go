//go:build linux

package main

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// burnEnv makes the test binary a child that burns burnCPU of CPU time
// and prints what getrusage counted for it (TestMain).
const (
	burnEnv = "BENCHTABLE_TEST_BURN"
	burnCPU = 200 * time.Millisecond
)

var sink int

// burn spins until this process has used at least d more CPU time (as
// getrusage counts it, not the clock) and returns its CPU time then.
func burn(d time.Duration) time.Duration {
	end := selfCPU() + d
	for {
		for i := range 1_000_000 {
			sink ^= i * i
		}
		if t := selfCPU(); t >= end {
			return t
		}
	}
}

// childrenCPU is what the kernel has counted for this process's reaped
// children (getrusage RUSAGE_CHILDREN).
func childrenCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func testEnv(t *testing.T, runs int) *Env {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return &Env{Runs: runs, ctx: ctx}
}

// TestChildCPU: a row's client CPU is its process's, as the kernel
// counts it: at least what the child itself saw before exiting, at most
// what this process's reaped children grew by.
func TestChildCPU(t *testing.T) {
	env := testEnv(t, 1)
	var childSaw time.Duration
	before := childrenCPU(t)
	_, cpu, err := env.Best(func(rep *Rep) error {
		cmd := command(env.Context(), os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), burnEnv+"=1")
		out, err := cmd.Output()
		if err != nil {
			return err
		}
		rep.Client(cmd.ProcessState)
		n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
		childSaw = time.Duration(n)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	after := childrenCPU(t)
	if !cpu.HasClient || !cpu.HasHash || cpu.HasServer {
		t.Fatalf("sides measured: %+v, want client and hash", cpu)
	}
	// wait4's count of the child and getrusage's of the children are each
	// adjusted by the kernel on its own (its utime/stime split, kept
	// monotonic): they may differ by microseconds (58 µs seen), so the
	// bound above is getrusage's, within a millisecond.
	const adjust = time.Millisecond
	if cpu.Client < childSaw || cpu.Client > after-before+adjust {
		t.Fatalf("client CPU %v: the child saw %v before its exit, the kernel counted %v for it", cpu.Client, childSaw, after-before)
	}
	if childSaw < burnCPU {
		t.Fatalf("the child burned %v, asked %v", childSaw, burnCPU)
	}
}

// TestInProcessCPU: a row without a process is billed this process's
// CPU, and the daemon's is read from /proc (here the daemon is this
// process): both between what getrusage counted inside and around the
// repetition, to /proc's tick.
func TestInProcessCPU(t *testing.T) {
	env := testEnv(t, 1)
	env.daemonPID = os.Getpid()
	var inner time.Duration
	before := selfCPU()
	_, cpu, err := env.Best(func(*Rep) error {
		t0 := selfCPU()
		inner = burn(burnCPU) - t0
		return nil
	})
	outer := selfCPU() - before
	if err != nil {
		t.Fatal(err)
	}
	if !cpu.HasClient || cpu.HasHash || cpu.HasServer || !cpu.hasDaemon {
		t.Fatalf("sides measured: %+v, want client and the daemon's", cpu)
	}
	if cpu.Client < inner || cpu.Client > outer {
		t.Fatalf("client CPU %v, getrusage counted %v inside the run and %v around it", cpu.Client, inner, outer)
	}
	// /proc truncates utime and stime to ticks: each reading is up to
	// two ticks short.
	tick := time.Second / time.Duration(clkTck())
	if cpu.daemon < inner-2*tick || cpu.daemon > outer+2*tick {
		t.Fatalf("daemon CPU %v, getrusage counted %v inside the run and %v around it (tick %v)", cpu.daemon, inner, outer, tick)
	}
}

// TestBestKeepsTheBestRunsCPU: the CPU shown is the fastest
// repetition's, not the last's or a sum.
func TestBestKeepsTheBestRunsCPU(t *testing.T) {
	env := testEnv(t, 2)
	i := 0
	_, cpu, err := env.bestOf(func(*Rep) (time.Duration, error) {
		i++
		if i == 1 {
			return time.Hour, nil // slow, idle
		}
		burn(burnCPU)
		return time.Second, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if cpu.Client < burnCPU {
		t.Fatalf("client CPU %v: not the run that burned %v", cpu.Client, burnCPU)
	}
}

// TestMeasureServerCPU: rows that talk to the daemon show its CPU as
// the server's; the others show none.
func TestMeasureServerCPU(t *testing.T) {
	env := testEnv(t, 1)
	env.daemonPID = os.Getpid()
	env.Commands = map[string]bool{"grep": true}
	run := func(*Env) (Result, error) {
		_, cpu, err := env.Best(func(*Rep) error { burn(burnCPU); return nil })
		return Result{Bytes: 1, Elapsed: time.Second, CPU: cpu}, err
	}
	for _, tc := range []struct {
		row  Row
		want bool
	}{
		{Row{Group: "g", Name: "needs", Needs: []string{"grep"}, Run: run}, true},
		{Row{Group: "g", Name: "routes", Routes: []string{"grep x"}, Run: run}, true},
		{Row{Group: "g", Name: "digest", Daemon: true, Run: run}, true},
		{Row{Group: "g", Name: "local", Run: run}, false},
	} {
		o := measure(env, tc.row)
		if !o.ok() {
			t.Fatalf("%s: %+v", tc.row.Name, o)
		}
		if c := o.res.CPU; c.HasServer != tc.want || c.HasServer && c.Server != c.daemon {
			t.Errorf("%s: server CPU %v (shown: %v), daemon's %v; want shown: %v", tc.row.Name, c.Server, c.HasServer, c.daemon, tc.want)
		}
	}
}

// TestClkTck: the unit of /proc's CPU times is what the C library says.
func TestClkTck(t *testing.T) {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		t.Fatalf("getconf (libc-bin): %v", err)
	}
	want, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if got := clkTck(); got != want {
		t.Fatalf("clkTck() = %d, getconf CLK_TCK = %d", got, want)
	}
}

// TestProcCPU reads this process's CPU time from /proc as getrusage(2)
// tells it, to the ticks the two round it to.
func TestProcCPU(t *testing.T) {
	burn(50 * time.Millisecond) // some CPU time to read
	before := selfCPU()
	got, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	after := selfCPU()
	tick := time.Second / time.Duration(clkTck())
	if got < before-2*tick || got > after+2*tick {
		t.Fatalf("procCPU = %v, getrusage says %v to %v", got, before, after)
	}
	if _, err := procCPU(1 << 30); err == nil {
		t.Fatal("procCPU of no process: no error")
	}
}
