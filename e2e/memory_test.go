package e2e

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
)

// Settings of the daemon in TestMemoryBound: small budgets, so that the
// jobs' share of the bound is large next to the server's own memory.
const (
	memJobs     = 4
	memSpool    = 1 << 20
	memLine     = 1 << 20
	memDisk     = 1 << 30
	memGCFactor = 2 // --gc-percent=100: the heap grows to twice the live data
	// memSlack is the base of the documented bound beyond the idle
	// server's resident memory: GC metadata, goroutine stacks, the
	// connections (docs/operations.md, "Memory").
	memSlack = 32 << 20
	// tcpJobBytes is what the TCP adapter buffers for one job: its
	// receive-ahead (4 × 256 KiB), read buffer (64 KiB) and reply buffer
	// (256 KiB).
	tcpJobBytes = 4<<18 + 64<<10 + 256<<10
)

// memJob is one kind of worst-case job: a pipeline, its input, and what
// its reply must be.
type memJob struct {
	name     string
	pipeline string
	input    []byte
	repeat   int                      // the input is input repeated this many times (0: once)
	check    func(r *replySink) error // nil: any reply without an error line
	stages   int
	disk     int // --spool-disk, when not memDisk
}

// replySink takes a reply without holding it: its size, its first bytes,
// its lines, whether it is all zeros.
type replySink struct {
	n, lines int64
	head     []byte
	nonZero  bool
}

func (r *replySink) Write(p []byte) (int, error) {
	r.n += int64(len(p))
	r.lines += int64(bytes.Count(p, []byte("\n")))
	if len(r.head) < 4096 {
		r.head = append(r.head, p[:min(len(p), 4096-len(r.head))]...)
	}
	if !r.nonZero && len(bytes.Trim(p, "\x00")) > 0 {
		r.nonZero = true
	}
	return len(p), nil
}

// TestMemoryBound runs --max-jobs worst-case jobs at once, one kind at a
// time on a fresh daemon, and checks the daemon's peak resident memory
// (VmHWM) against the bound docs/operations.md documents: idle RSS, plus
// memSlack, plus the GC factor times the jobs' live bound (engine.JobMemory
// and the TCP adapter's buffers). Each kind stresses one part of it: lines
// of --max-line-bytes through grep -i, sort and uniq; a sort spilling runs
// and merging them; gunzip writing 64 times its input under a disk budget
// smaller than its output (the reply flows to the client, backpressured);
// sixteen stages; lines far over the limit, refused.
func TestMemoryBound(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/status"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("/proc/self/status: %v", err)
		}
		t.Skip("no /proc: VmHWM is Linux's")
	}
	// A line of almost --max-line-bytes, with bytes >= 0x80 (grep widens
	// them) and the letters grep -i looks for.
	var long []byte
	for i := range 12 {
		long = append(long, bytes.Repeat([]byte("\xe9A-b "), (memLine-64)/5)...)
		long = fmt.Appendf(long, " %d\n", i*7%12)
	}
	var spill bytes.Buffer
	for i := range 1 << 19 {
		fmt.Fprintf(&spill, "%d line %d of the sort spill\n", i*7919%1000003, i)
	}
	// gunzip: 32 members of 1 MiB of zeros, 32 MiB out of 32 KiB in, under
	// a disk budget of 16 MiB; the long run (testenv.Long) writes 128 MiB
	// under 64 MiB. (The reply passes through this race-instrumented
	// process: four times the output costs four times the CPU, and tests
	// nothing more while the budget is under one job's output.)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	gunzipMembers, gunzipDisk := 32, 16<<20
	if testenv.Long() {
		gunzipMembers, gunzipDisk = 128, 64<<20
	}

	deep := "grep -i 'a.'"
	for _, s := range []string{"sort", "uniq", "tac", "sort -r", "uniq -c", "cut -c1-2000000", "tail -n +1", "head -n 1000",
		"tr b c", "sort -f", "uniq -i", "grep -v zzz", "tac", "sort -u", "wc -L"} {
		deep += " | " + s
	}
	kinds := []memJob{
		{name: "long lines", pipeline: "grep -i 'a.' | sort | uniq -c", input: long, stages: 3,
			check: func(r *replySink) error {
				if r.lines != 12 {
					return fmt.Errorf("%d lines out, want 12: %q", r.lines, r.head[:min(len(r.head), 300)])
				}
				return nil
			}},
		{name: "sort spill", pipeline: "sort -n", stages: 1, input: spill.Bytes(), check: func(r *replySink) error {
			if r.lines != 1<<19 || !bytes.HasPrefix(r.head, []byte("0 ")) {
				return fmt.Errorf("%d lines out, starting %q", r.lines, r.head[:min(len(r.head), 20)])
			}
			return nil
		}},
		// 4 × 32 MiB out under a disk budget of 16 MiB: the reply flows
		{name: "gunzip", pipeline: "gunzip", stages: 1, disk: gunzipDisk, input: gz.Bytes(), repeat: gunzipMembers, check: func(r *replySink) error {
			if r.n != int64(gunzipMembers)<<20 || r.nonZero {
				return fmt.Errorf("%d bytes out (non-zero %v), want %d zeros", r.n, r.nonZero, gunzipMembers<<20)
			}
			return nil
		}},
		// b3sum hashes 1 MiB blocks on every core (its block is part of
		// the stage's 2 MiB).
		{name: "b3sum", pipeline: "b3sum", stages: 1, input: long, repeat: 6, check: func(r *replySink) error {
			if r.lines != 1 || !bytes.HasSuffix(r.head, []byte("  -\n")) {
				return fmt.Errorf("reply %q, want one digest line", r.head)
			}
			return nil
		}},
		{name: "sixteen stages", pipeline: deep, input: long[:len(long)/2], stages: 16},
		{name: "lines over the limit", pipeline: "sort", stages: 1, input: bytes.Repeat([]byte("x"), 1<<20), repeat: 64, check: func(r *replySink) error {
			want := "halfclose: error: RESOURCE_EXHAUSTED: sort: line longer than 1048576 bytes (the server's --max-line-bytes)\n"
			if string(r.head) != want {
				return fmt.Errorf("reply %q, want %q", r.head, want)
			}
			return nil
		}},
	}
	cfg := engine.Config{MaxLineBytes: memLine, Spool: compute.SpoolConfig{MemBytes: memSpool}}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			// --max-jobs-per-peer: every job comes from 127.0.0.1, whose
			// cap as a quarter of --max-jobs (one; the default is now at
			// least 16) ran them one at a time, the last client waiting for
			// three jobs' worth of reply without a byte (an i/o timeout at
			// a load of 13).
			d := launch(t, "--max-jobs", strconv.Itoa(memJobs), "--max-jobs-per-peer", strconv.Itoa(memJobs), "--job-wait", "1m",
				"--spool-mem", strconv.Itoa(memSpool), "--max-line-bytes", strconv.Itoa(memLine),
				"--spool-disk", strconv.Itoa(cmp.Or(k.disk, memDisk)), "--spool-dir", t.TempDir(), "--gc-percent", "100")
			idle := procStatus(t, d.cmd.Process.Pid, "VmRSS")
			var wg sync.WaitGroup
			errs := make(chan error, memJobs)
			for range memJobs {
				wg.Go(func() {
					var reply replySink
					err := tcpStream(d.TCP, k.pipeline, k.input, max(k.repeat, 1), &reply)
					if err == nil && k.check != nil {
						err = k.check(&reply)
					} else if err == nil && bytes.HasPrefix(reply.head, []byte("halfclose: error:")) {
						err = fmt.Errorf("reply %q", reply.head)
					}
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("%s: %v", k.pipeline, err)
				}
			}
			peak := procStatus(t, d.cmd.Process.Pid, "VmHWM")
			live := int64(memJobs) * (engine.JobMemory(cfg, k.stages) + tcpJobBytes)
			bound := idle + memSlack + memGCFactor*live
			t.Logf("%s: peak RSS %d MiB: idle %d MiB + %d MiB (bound %d MiB: idle + %d + %d × %d jobs × %d MiB)",
				k.name, peak>>20, idle>>20, (peak-idle)>>20, bound>>20, memSlack>>20, memGCFactor, memJobs, live/memJobs>>20)
			if peak > bound {
				t.Fatalf("peak RSS %d bytes over the documented bound of %d", peak, bound)
			}
		})
	}
}

// tcpStream runs pipeline on the command port over input repeated n
// times, writing the reply to reply while the input is sent.
func tcpStream(addr, pipeline string, input []byte, n int, reply *replySink) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	pc := progressConn{conn}
	sent := make(chan error, 1)
	go func() {
		_, err := io.WriteString(pc, pipeline+"\n")
		for range n {
			if err == nil {
				_, err = pc.Write(input)
			}
		}
		if err == nil {
			err = conn.(*net.TCPConn).CloseWrite()
		}
		sent <- err
	}()
	_, err = io.Copy(reply, pc)
	serr := <-sent
	if err != nil {
		return err
	}
	if serr != nil && !bytes.HasPrefix(reply.head, []byte("halfclose: error:")) {
		return serr // a refused job may stop reading its input
	}
	return nil
}

// progressConn renews its deadlines before every read and write: a stream
// that stalls fails after defaultTestTimeout without progress, and one
// that is slow but moving (many jobs at once on a busy machine) does not.
// (A deadline for the whole stream failed gunzip's 128 MiB replies at a
// load of 14-18.)
type progressConn struct{ net.Conn }

func (c progressConn) Read(p []byte) (int, error) {
	c.SetReadDeadline(time.Now().Add(defaultTestTimeout))
	return c.Conn.Read(p)
}

func (c progressConn) Write(p []byte) (int, error) {
	c.SetWriteDeadline(time.Now().Add(defaultTestTimeout))
	return c.Conn.Write(p)
}

// procStatus returns a memory field of /proc/PID/status, in bytes.
func procStatus(t testing.TB, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s: %q", field, line)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
