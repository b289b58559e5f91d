//go:build linux

// CPU time of the rows: what each side of a repetition used, so that the
// table shows when a row is bound by the machine's cores rather than by
// waiting (wall ≥ all the CPU-seconds / the cores).

package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/halfclose/halfclose/internal/cputime"
)

// CPU is the CPU time (user + system) of one repetition, by side. The
// table shows the best repetition's (the one whose time counts).
type CPU struct {
	// Client is what the row's client processes used (their rusage from
	// wait4, which includes the children they reaped), or, for a row that
	// computes in this process, this process's getrusage delta.
	Client time.Duration
	// Server is what the server used: halfclosed's, from /proc/PID/stat
	// before and after, for rows that talk to it; the `nc -l` listeners'
	// rusage for the nc ceilings; socat's for its small-jobs row.
	Server time.Duration
	// Hash is what this process used while the row ran a client process:
	// reading and hashing its stdout (the rows' consumer, as a user's pipe
	// would be), and writing its stdin where the row pipes it (`cat FILE |
	// TOOL`). In-process rows have it in Client.
	Hash time.Duration

	HasClient, HasServer, HasHash bool

	// daemon is halfclosed's CPU over the repetition, whether or not the
	// row talked to it; measure makes it Server for the rows that did.
	daemon    time.Duration
	hasDaemon bool
}

// Add is the CPU of two phases run one after the other (the sides that
// either measured).
func (c CPU) Add(o CPU) CPU {
	return CPU{
		Client: c.Client + o.Client, Server: c.Server + o.Server, Hash: c.Hash + o.Hash,
		HasClient: c.HasClient || o.HasClient, HasServer: c.HasServer || o.HasServer, HasHash: c.HasHash || o.HasHash,
		daemon: c.daemon + o.daemon, hasDaemon: c.hasDaemon || o.hasDaemon,
	}
}

// Rep is one timed repetition: the processes it runs report their CPU to
// it when they have exited.
type Rep struct {
	client, server       time.Duration
	ranClient, ranServer bool
}

// Client adds an exited client process's CPU time.
func (r *Rep) Client(ps *os.ProcessState) {
	if ps != nil {
		r.client += ps.UserTime() + ps.SystemTime()
		r.ranClient = true
	}
}

// Server adds an exited server process's CPU time (an nc listener).
func (r *Rep) Server(ps *os.ProcessState) {
	if ps != nil {
		r.server += ps.UserTime() + ps.SystemTime()
		r.ranServer = true
	}
}

// cpu is the repetition's CPU, given this process's and the daemon's
// deltas over it.
func (r *Rep) cpu(self time.Duration, daemon time.Duration, hasDaemon bool) CPU {
	c := CPU{daemon: daemon, hasDaemon: hasDaemon, HasClient: true}
	if r.ranClient {
		c.Client, c.Hash, c.HasHash = r.client, self, true
	} else {
		c.Client = self
	}
	if r.ranServer {
		c.Server, c.HasServer = r.server, true
	}
	return c
}

// selfCPU is this process's CPU time so far (all its threads; 0 when it
// cannot be read).
func selfCPU() time.Duration {
	d, _ := cputime.Process()
	return d
}

// command is exec.CommandContext for every process the table starts: it
// is killed if this process dies (PR_SET_PDEATHSIG: a benchtable killed
// with SIGKILL leaves no nc -l waiting for a connection, no halfclosed
// serving), and its output pipes are given up ten seconds after it exits
// (a grandchild holding them cannot hang the table). The death signal
// follows the thread that started the process; Go ends threads only
// when a goroutine exits locked to one, which this program never does.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// procCPU is the CPU time (user and system) process pid has used, from
// /proc/PID/stat in clock ticks (clkTck a second).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command (which may hold spaces) in ")": state
	// is field 3, utime 14 and stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no command")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("/proc stat: too few fields")
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / time.Duration(clkTck()), nil
}

// clkTck is the unit of /proc's CPU times, sysconf(_SC_CLK_TCK): the
// kernel hands it to every process in its auxiliary vector (AT_CLKTCK),
// which is where the C library reads it. 100 where that cannot be read
// (Linux's USER_HZ on every common architecture).
var clkTck = sync.OnceValue(func() int64 {
	const atClkTck = 17
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 100
	}
	word := func(b []byte) uint64 { // a native unsigned long
		if strconv.IntSize == 32 {
			return uint64(binary.NativeEndian.Uint32(b))
		}
		return binary.NativeEndian.Uint64(b)
	}
	w := strconv.IntSize / 8
	for ; len(b) >= 2*w; b = b[2*w:] { // (type, value) pairs
		if word(b) == atClkTck {
			if v := int64(word(b[w:])); v > 0 {
				return v
			}
		}
	}
	return 100
})

// formatCPU is a CPU time in seconds for the table, "-" when not measured.
func formatCPU(d time.Duration, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.2f", d.Seconds())
}
