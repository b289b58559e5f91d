package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/oracle"
	"github.com/halfclose/halfclose/internal/syncbuf"
	"github.com/halfclose/halfclose/internal/testenv"
)

// Spill-file faults under a running server: the file system of
// --spool-dir full below --spool-disk, read-only, removed or replaced by
// a file. A job either gets its whole result (as GNU's) or an error that
// names the spool, with the code docs/operations.md gives ("When the
// spool's disk fails"); never a result from part of its spill.

// mountTmpfs is testenv.MountTmpfs: the spool's tmpfs, mounted nowhere.
func mountTmpfs(t *testing.T, opts ...string) (string, int) {
	t.Helper()
	return testenv.MountTmpfs(t, opts...)
}

// remountTmpfs makes the tmpfs of mfd (mountTmpfs) read-only or
// writable again, its superblock's flag, as ext4's errors=remount-ro.
func remountTmpfs(t *testing.T, mfd int, ro bool) {
	t.Helper()
	fd, err := unix.Fspick(mfd, "", unix.FSPICK_EMPTY_PATH|unix.FSPICK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	flag := "rw"
	if ro {
		flag = "ro"
	}
	if err := unix.FsconfigSetFlag(fd, flag); err != nil {
		t.Fatal(err)
	}
	if err := unix.FsconfigReconfigure(fd); err != nil {
		t.Fatal(err)
	}
}

// spoolLines is n bytes of lines of 1 to 99 letters and digits, in
// random order, a few of them twice in a row (for uniq), from seed.
// (Lines of few letters made gzip's matcher, under the race detector,
// take more than the test's timeout for 3 MiB.)
func spoolLines(seed uint64, n int) []byte {
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	r := rand.New(rand.NewPCG(seed, 11))
	b := make([]byte, 0, n+200)
	for len(b) < n {
		start := len(b)
		for range 1 + r.IntN(99) {
			b = append(b, chars[r.IntN(len(chars))])
		}
		b = append(b, '\n')
		if r.IntN(8) == 0 {
			b = append(b, b[start:]...)
		}
	}
	return b
}

// spillCommand is a pipeline that spills, with its GNU oracle (argv).
type spillCommand struct {
	pipeline string
	gnu      []string
	// holds: its first stage holds all of its input before it writes
	// (sort, tac), so it spills whatever the timing. A reply spool spills
	// only while the reply cannot go out, which it can once the input
	// has ended (spoolFaultCheck).
	holds bool
}

// spillPaths are a stage of each way to the spool's disk: sort's runs
// (sort.go), the chunk queue of tac (and of tail -n, head -n -N, cut's
// first field: the same code), and the reply spool of any stage whose
// output is large (queue.go and its write-behind: grep, cut -c, uniq,
// gzip ... write there the same way). Every spill file is made and
// written through one of them; compute's TestSpoolErrorClasses checks
// the classification of each cause, so one stage a way suffices (all
// eleven, at two sizes, took 6 CPU-s and 23-28 s at load 17 under the
// race detector, against the 30 s of each job's context).
var spillPaths = []spillCommand{
	{"sort", []string{"sort"}, true},
	{"tac", []string{"tac"}, true},
	{"base64", []string{"base64"}, false},
}

// spillSecondStage is a pipeline whose first stage spills: the fault of a
// stage that is not the last one.
var spillSecondStage = spillCommand{"sort -r | uniq -c", []string{"sh", "-c", "sort -r | uniq -c"}, true}

// spillSize is the input of the fault tests: over sort's least memory
// (512 KiB, whatever --spool-mem says), so each path spills, and over a
// full disk's tmpfs (256 KiB) alone.
const spillSize = 640 << 10

// runSpillJob runs pipeline over input on gRPC Run and returns the
// output and its error. With openEnd, it withholds the end of the input
// until the reply comes: only an error can (withEnd).
func runSpillJob(t *testing.T, env *testEnv, pipeline string, input []byte, openEnd bool) ([]byte, error) {
	stream, err := env.client.Run(jobCtx(t))
	if err != nil {
		return nil, err
	}
	if err := stream.Send(runHeader(pipeline)); err == nil {
		sendChunked(input, 1<<20, func(b []byte) error { return stream.Send(runData(b)) })
	}
	if openEnd {
		_, err := stream.Recv()
		stream.CloseSend()
		if err == nil {
			err = errors.New("a reply before the end of the input")
		}
		return nil, err
	}
	stream.CloseSend()
	out, sum, err := collectRun(stream)
	if err == nil && sum == nil {
		err = errors.New("no summary")
	}
	return out, err
}

// tcpSpillJob runs pipeline over input on the command port and returns
// the reply and the error that ended reading it (nil: the server's FIN).
// With openEnd, the FIN waits for the reply's first line.
func tcpSpillJob(t *testing.T, addr, pipeline string, input []byte, openEnd bool) ([]byte, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(defaultTestTimeout))
	go func() {
		if _, err := c.Write(append([]byte(pipeline+"\n"), input...)); err == nil && !openEnd {
			c.(*net.TCPConn).CloseWrite()
		}
	}()
	if !openEnd {
		return io.ReadAll(c)
	}
	r := bufio.NewReader(c)
	line, err := r.ReadBytes('\n')
	c.(*net.TCPConn).CloseWrite()
	if err != nil {
		return line, err
	}
	rest, err := io.ReadAll(r)
	return append(line, rest...), err
}

// spoolWant is what the GNU tools print over input.
func spoolWant(t *testing.T, gnu []string, input []byte) []byte {
	return []byte(oracle.Output(t, input, append([]string{"timeout", "10"}, gnu...)...))
}

// spoolFaultCheck runs each pipeline over size bytes on both adapters
// and checks each reply: the whole result, or exactly the error (code,
// message) the fault gives. The two jobs of a pipeline run together
// (they fill one disk), the pipelines one after the other: each job's
// context (defaultTestTimeout) then bounds two jobs' work, not that of
// every job at once (all 44 at once came within 2 s of it at load 17).
// A job of a pipeline that holds its input must fail; with create (the
// fault fails the spill file's create, which the stage's first spill
// meets at once), every job must: the others withhold the end of their
// input until the reply comes, so their reply spools spill. (A full
// disk fails a reply spool's write behind the stage, which then waits
// for the release, at the end: those may get their whole result.) A job
// that did not fail then did not meet the fault. Every failure's outcome
// must be internal
// (the server's fault), and once the jobs are over nothing of theirs may
// remain: disk budget, files in dir beyond its own (files), descriptors
// of spill files.
func spoolFaultCheck(t *testing.T, env *testEnv, disk *compute.DiskBudget, dir string, files int, pipelines []spillCommand, size int, create bool, code codes.Code, msg string) {
	t.Helper()
	for i, c := range pipelines {
		input := spoolLines(uint64(100*i+size), size)
		want := string(spoolWant(t, c.gnu, input))
		var (
			wg        sync.WaitGroup
			failedRPC bool
			failedTCP bool
		)
		wg.Add(2)
		go func() {
			defer wg.Done()
			out, err := runSpillJob(t, env, c.pipeline, input, create && !c.holds)
			switch {
			case err == nil && string(out) == want:
			case err == nil:
				t.Errorf("gRPC %q, %d bytes: a clean end with %d bytes of a wrong result", c.pipeline, size, len(out))
			case status.Code(err) != code || status.Convert(err).Message() != msg:
				t.Errorf("gRPC %q, %d bytes: %v, want %v %q", c.pipeline, size, err, code, msg)
			default:
				failedRPC = true
			}
		}()
		go func() {
			defer wg.Done()
			out, err := tcpSpillJob(t, env.tcpAddr, c.pipeline, input, create && !c.holds)
			line := verdict{code: code, msg: msg}.errorLine()
			switch {
			case err == nil && string(out) == line:
				failedTCP = true
			case err == nil && string(out) == want:
			case err == nil:
				t.Errorf("TCP %q, %d bytes: a clean end with %d bytes that are neither the result nor %q: %.80q", c.pipeline, size, len(out), line, out)
			case errors.Is(err, syscall.ECONNRESET):
				failedTCP = true // cut after its output started: a reset, never an end
			default:
				t.Errorf("TCP %q, %d bytes: %v", c.pipeline, size, err)
			}
		}()
		testenv.Within(t, 4*hangTimeout, "the jobs' calls", wg.Wait)
		if (create || c.holds) && (!failedRPC || !failedTCP) {
			t.Errorf("%q, %d bytes: a job did not fail (gRPC failed %v, TCP failed %v): the fault did not reach its spill", c.pipeline, size, failedRPC, failedTCP)
		}
		var bad []string
		for range 2 {
			if oc := env.obs.nextOutcome(t); oc != OutcomeOK && oc != OutcomeInternal {
				bad = append(bad, oc)
			}
		}
		if bad != nil {
			t.Errorf("%q: outcomes %v: a spill file's failure is the server's (internal)", c.pipeline, bad)
		}
		if n := disk.Used(); n != 0 {
			t.Errorf("%q: the jobs are over and %d bytes of --spool-disk are still taken", c.pipeline, n)
		}
		checkNoSpillLeft(t, dir, files)
	}
}

// checkNoSpillLeft fails when dir holds a file but its own (files), or
// the process a descriptor of a spill file (unlinked, on dir's file
// system) not closed.
func checkNoSpillLeft(t *testing.T, dir string, files int) {
	t.Helper()
	if left, _ := os.ReadDir(dir); len(left) != files {
		t.Errorf("%s holds %v", dir, left)
	}
	var dst unix.Stat_t
	if err := unix.Stat(dir, &dst); err != nil {
		return // removed or replaced: its spill files are on its parent's
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		var st unix.Stat_t
		name := filepath.Join("/proc/self/fd", fd.Name())
		if unix.Stat(name, &st) == nil && st.Dev == dst.Dev && st.Nlink == 0 && st.Mode&unix.S_IFMT == unix.S_IFREG {
			target, _ := os.Readlink(name)
			t.Errorf("descriptor %s still open on a spill file (%s)", fd.Name(), target)
		}
	}
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) == nil && st.Bfree != st.Blocks && st.Type == unix.TMPFS_MAGIC && files == 0 {
		t.Errorf("%s: %d of %d blocks still used", dir, st.Blocks-st.Bfree, st.Blocks)
	}
}

// spoolEnv starts both adapters with a 64 KiB --spool-mem in dir, a
// budget of 1 GiB, whatever the disk holds.
func spoolEnv(t *testing.T, dir string) (*testEnv, *compute.DiskBudget, *syncbuf.Buffer) {
	disk := compute.NewDiskBudget(1 << 30)
	logs := &syncbuf.Buffer{}
	env := startEnv(t, envConfig{logs: logs, engine: engine.Config{
		MaxJobs: 64, Spool: compute.SpoolConfig{MemBytes: 64 << 10, Dir: dir, Disk: disk},
	}})
	return env, disk, logs
}

// checkSpoolServes runs a job that spills (tac of 192 KiB, under a
// 256 KiB tmpfs), on both adapters, and wants its whole result: the
// spool works again.
func checkSpoolServes(t *testing.T, env *testEnv) {
	t.Helper()
	input := spoolLines(7, 192<<10)
	want := oracle.Output(t, input, "timeout", "10", "tac")
	if out, err := runSpillJob(t, env, "tac", input, false); err != nil || string(out) != want {
		t.Errorf("gRPC tac once the spool is back: %v, %d bytes (want %d)", err, len(out), len(want))
	}
	if out, err := tcpSpillJob(t, env.tcpAddr, "tac", input, false); err != nil || string(out) != want {
		t.Errorf("TCP tac once the spool is back: %v, %.80q", err, out)
	}
	for range 2 {
		if oc := env.obs.nextOutcome(t); oc != OutcomeOK {
			t.Errorf("outcome %s", oc)
		}
	}
}

// TestSpoolDiskFull: the file system of the spool holds 256 KiB, the
// budget 1 GiB: jobs whose spills do not fit fail RESOURCE_EXHAUSTED
// "spool: no space left ...", never with part of their result, and the
// cause (ENOSPC) is in the log. It was INTERNAL "internal error", and the
// log said "spool: write failed: spool: write failed" (the write-behind's
// error, wrapped twice, lost its cause).
func TestSpoolDiskFull(t *testing.T) {
	dir, _ := mountTmpfs(t, "size", "256k")
	env, disk, logs := spoolEnv(t, dir)
	spoolFaultCheck(t, env, disk, dir, 0, append(spillPaths, spillSecondStage), spillSize, false, codes.ResourceExhausted,
		"spool: no space left for spill files on the server")
	if !strings.Contains(logs.String(), "no space left on device") {
		t.Errorf("the log does not name the cause:\n%.2000s", logs)
	}
	if strings.Contains(logs.String(), "write failed: spool: write failed") {
		t.Errorf("the log wraps the error in itself:\n%.2000s", logs)
	}
	checkSpoolServes(t, env)
}

// TestSpoolNoInodes: a spool whose file system has no inode left fails
// at the spill file's create (ENOSPC, with no byte written): the same
// RESOURCE_EXHAUSTED as a full disk; once an inode is free, jobs spill
// again. It was INTERNAL "internal error".
func TestSpoolNoInodes(t *testing.T) {
	dir, _ := mountTmpfs(t, "size", "64m", "nr_inodes", "16")
	var fill []string
	for i := 0; ; i++ {
		name := filepath.Join(dir, fmt.Sprint("fill", i))
		f, err := os.Create(name)
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
		f.Close()
		fill = append(fill, name)
	}
	env, disk, logs := spoolEnv(t, dir)
	spoolFaultCheck(t, env, disk, dir, len(fill), spillPaths, spillSize, true, codes.ResourceExhausted,
		"spool: no space left for spill files on the server")
	if !strings.Contains(logs.String(), "cannot create spill file: open "+dir+": no space left on device") {
		t.Errorf("the log does not name the cause:\n%.2000s", logs)
	}
	for _, name := range fill {
		if err := os.Remove(name); err != nil {
			t.Fatal(err)
		}
	}
	checkSpoolServes(t, env)
}

// TestSpoolDirBroken: the spool's directory removed, replaced by a file,
// or its file system made read-only after the start: every job that
// spills fails UNAVAILABLE "spool: spill files cannot be written on this
// server" (another server may run it), the directory never named to the
// client; the disk budget says Unusable (the daemon's /readyz) until a
// spill file can be made again, and then jobs run as before.
func TestSpoolDirBroken(t *testing.T) {
	const msg = "spool: spill files cannot be written on this server"
	parent := t.TempDir()
	dir := filepath.Join(parent, "spool")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	env, disk, logs := spoolEnv(t, dir)
	breakers := []struct {
		name      string
		brk, mend func() error
	}{
		{"removed", func() error { return os.Remove(dir) }, func() error { return os.Mkdir(dir, 0o700) }},
		{"a file", func() error {
			if err := os.Remove(dir); err != nil {
				return err
			}
			return os.WriteFile(dir, nil, 0o600)
		}, func() error {
			if err := os.Remove(dir); err != nil {
				return err
			}
			return os.Mkdir(dir, 0o700)
		}},
	}
	for _, b := range breakers {
		t.Run(b.name, func(t *testing.T) {
			if err := b.brk(); err != nil {
				t.Fatal(err)
			}
			spoolFaultCheck(t, env, disk, dir, 0, spillPaths, spillSize, true, codes.Unavailable, msg)
			if !disk.Unusable() {
				t.Error("the budget does not say the spool is unusable")
			}
			if err := b.mend(); err != nil {
				t.Fatal(err)
			}
			checkSpoolServes(t, env)
			if disk.Unusable() {
				t.Error("the budget still says the spool is unusable")
			}
		})
	}
	if log := logs.String(); !strings.Contains(log, "open "+dir+": no such file or directory") || !strings.Contains(log, "not a directory") {
		t.Errorf("the log does not name the causes:\n%.2000s", log)
	}
	// A fault of the server's is logged at error level, as INTERNAL is.
	if log := logs.String(); !strings.Contains(log, `level=ERROR msg="internal error" err="spool: spill files cannot be written`) ||
		!strings.Contains(log, `level=ERROR msg="tcp job failed"`) {
		t.Errorf("no error-level line for the fault:\n%.2000s", log)
	}
}

// TestSpoolReadOnly: a spool whose file system turns read-only (as ext4
// does on I/O errors: errors=remount-ro) fails the jobs that spill
// UNAVAILABLE, and they run again once it is writable.
func TestSpoolReadOnly(t *testing.T) {
	dir, mfd := mountTmpfs(t, "size", "64m")
	env, disk, logs := spoolEnv(t, dir)
	remountTmpfs(t, mfd, true)
	spoolFaultCheck(t, env, disk, dir, 0, spillPaths, spillSize, true, codes.Unavailable, "spool: spill files cannot be written on this server")
	remountTmpfs(t, mfd, false)
	checkSpoolServes(t, env)
	if !strings.Contains(logs.String(), "read-only file system") {
		t.Errorf("the log does not name the cause:\n%.2000s", logs)
	}
}
