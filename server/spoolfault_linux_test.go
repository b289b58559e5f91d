package server

import (
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
)

// Spill-file faults under a running server: the file system of
// --spool-dir full below --spool-disk, read-only, removed or replaced by
// a file. A job either gets its whole result (as GNU's) or an error that
// names the spool, with the code docs/operations.md gives ("When the
// spool's disk fails"); never a result from part of its spill.

// mountTmpfs mounts a tmpfs with opts ("size=4m") on a new directory, unmounted
// at cleanup; it skips the test when that cannot be done (not root: CI
// runs as root).
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs for the spool needs root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, opts+",mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs for the spool: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
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

// spillCommands are the stages that spill, each with its GNU oracle
// (argv); gzip's result is checked by GNU gunzip instead.
var spillCommands = []struct {
	pipeline string
	gnu      []string
}{
	{"sort", []string{"sort"}},
	{"sort -r | uniq -c", []string{"sh", "-c", "sort -r | uniq -c"}},
	{"tac", []string{"tac"}},
	{"tail -n 100000", []string{"tail", "-n", "100000"}},
	{"head -n -3", []string{"head", "-n", "-3"}},
	{"cut -c 2-90", []string{"cut", "-c", "2-90"}},
	{"uniq", []string{"uniq"}},
	{"grep a", []string{"grep", "a"}},
	{"base64", []string{"base64"}},
	{"gzip -c", nil},
	{"gzip -c | gunzip -c", []string{"cat"}},
}

// runSpillJob runs pipeline over input on gRPC Run and returns the
// output and its error.
func runSpillJob(t *testing.T, env *testEnv, pipeline string, input []byte) ([]byte, error) {
	stream, err := env.client.Run(jobCtx(t))
	if err != nil {
		return nil, err
	}
	if err := stream.Send(runHeader(pipeline)); err == nil {
		sendChunked(input, 1<<20, func(b []byte) error { return stream.Send(runData(b)) })
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
func tcpSpillJob(t *testing.T, addr, pipeline string, input []byte) ([]byte, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(defaultTestTimeout))
	go func() {
		if _, err := c.Write(append([]byte(pipeline+"\n"), input...)); err == nil {
			c.(*net.TCPConn).CloseWrite()
		}
	}()
	return io.ReadAll(c)
}

// spoolWant is what pipeline prints over input, by the GNU tools.
func spoolWant(t *testing.T, gnu []string, input []byte) []byte {
	if gnu == nil {
		return input // gzip -c: its output, unzipped by GNU, is the input
	}
	return []byte(oracle.Output(t, input, append([]string{"timeout", "10"}, gnu...)...))
}

// checkWhole says whether out is pipeline's whole result.
func checkWhole(t *testing.T, pipeline string, out, want []byte) bool {
	if pipeline == "gzip -c" {
		out = []byte(oracle.Output(t, out, "timeout", "10", "gunzip", "-c"))
	}
	return string(out) == string(want)
}

// spoolFaultCheck runs every spill command at each size over both
// adapters, all at once, and checks each reply: the whole result, or
// exactly the error (code, message) the fault gives. It returns how many
// failed; every failure's outcome must be internal (the server's fault),
// and once the jobs are over nothing of theirs may remain: disk budget,
// files in dir, descriptors of spill files.
func spoolFaultCheck(t *testing.T, env *testEnv, disk *compute.DiskBudget, dir string, sizes []int, code codes.Code, msg string) int {
	t.Helper()
	return spoolFaultCheckFiles(t, env, disk, dir, 0, sizes, code, msg)
}

// spoolFaultCheckFiles is spoolFaultCheck for a dir that holds files of
// its own (none of the jobs').
func spoolFaultCheckFiles(t *testing.T, env *testEnv, disk *compute.DiskBudget, dir string, files int, sizes []int, code codes.Code, msg string) int {
	t.Helper()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures int // protected by mu
	)
	jobs := 0
	for i, c := range spillCommands {
		for j, size := range sizes {
			input := spoolLines(uint64(100*i+j), size)
			want := spoolWant(t, c.gnu, input)
			jobs += 2
			wg.Add(2)
			go func() {
				defer wg.Done()
				out, err := runSpillJob(t, env, c.pipeline, input)
				switch {
				case err == nil && checkWhole(t, c.pipeline, out, want):
				case err == nil:
					t.Errorf("gRPC %q, %d bytes: a clean end with %d bytes of a wrong result", c.pipeline, size, len(out))
				case status.Code(err) != code || status.Convert(err).Message() != msg:
					t.Errorf("gRPC %q, %d bytes: %v, want %v %q", c.pipeline, size, err, code, msg)
				default:
					mu.Lock()
					failures++
					mu.Unlock()
				}
			}()
			go func() {
				defer wg.Done()
				out, err := tcpSpillJob(t, env.tcpAddr, c.pipeline, input)
				line := verdict{code: code, msg: msg}.errorLine()
				switch {
				case err == nil && string(out) == line:
				case err == nil && checkWhole(t, c.pipeline, out, want):
					return
				case err == nil:
					t.Errorf("TCP %q, %d bytes: a clean end with %d bytes that are neither the result nor %q: %.80q", c.pipeline, size, len(out), line, out)
					return
				case errors.Is(err, syscall.ECONNRESET):
					// Cut after its output started: a reset, never an end.
				default:
					t.Errorf("TCP %q, %d bytes: %v", c.pipeline, size, err)
					return
				}
				mu.Lock()
				failures++
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	var bad []string
	for range jobs {
		if oc := env.obs.nextOutcome(t); oc != OutcomeOK && oc != OutcomeInternal {
			bad = append(bad, oc)
		}
	}
	if bad != nil {
		t.Errorf("outcomes %v: a spill file's failure is the server's (internal)", bad)
	}
	if n := disk.Used(); n != 0 {
		t.Errorf("the jobs are over and %d bytes of --spool-disk are still taken", n)
	}
	checkNoSpillLeft(t, dir, files)
	return failures
}

// checkNoSpillLeft fails when dir holds a file but its own (files), or
// the process a descriptor of a file in it (an unlinked spill file not
// closed).
func checkNoSpillLeft(t *testing.T, dir string, files int) {
	t.Helper()
	if left, _ := os.ReadDir(dir); len(left) != files {
		t.Errorf("%s holds %v", dir, left)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(target, dir+"/") {
			t.Errorf("descriptor %s still open on %s", fd.Name(), target)
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

// checkSpoolServes runs a job that spills (tac of 384 KiB, under a
// 1 MiB tmpfs), on both adapters, and wants its whole result: the spool
// works again.
func checkSpoolServes(t *testing.T, env *testEnv) {
	t.Helper()
	input := spoolLines(7, 384<<10)
	want := oracle.Output(t, input, "timeout", "10", "tac")
	if out, err := runSpillJob(t, env, "tac", input); err != nil || string(out) != want {
		t.Errorf("gRPC tac once the spool is back: %v, %d bytes (want %d)", err, len(out), len(want))
	}
	if out, err := tcpSpillJob(t, env.tcpAddr, "tac", input); err != nil || string(out) != want {
		t.Errorf("TCP tac once the spool is back: %v, %.80q", err, out)
	}
	for range 2 {
		if oc := env.obs.nextOutcome(t); oc != OutcomeOK {
			t.Errorf("outcome %s", oc)
		}
	}
}

// TestSpoolDiskFull: the file system of the spool holds 1 MiB, the
// budget 1 GiB: jobs whose spills do not fit, alone or together, fail
// RESOURCE_EXHAUSTED "spool: no space left ...", never with part of
// their result, and the cause (ENOSPC) is in the log. It was INTERNAL
// "internal error", and the log said "spool: write failed: spool: write
// failed" (the write-behind's error, wrapped twice, lost its cause).
func TestSpoolDiskFull(t *testing.T) {
	dir := mountTmpfs(t, "size=1m")
	env, disk, logs := spoolEnv(t, dir)
	failed := spoolFaultCheck(t, env, disk, dir, []int{96 << 10, 3 << 19}, codes.ResourceExhausted,
		"spool: no space left for spill files on the server")
	if failed == 0 {
		t.Error("no job failed: the tmpfs did not fill")
	}
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
	dir := mountTmpfs(t, "size=64m,nr_inodes=16")
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
	if spoolFaultCheckFiles(t, env, disk, dir, len(fill), []int{512 << 10}, codes.ResourceExhausted,
		"spool: no space left for spill files on the server") == 0 {
		t.Error("no job failed")
	}
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
			failed := spoolFaultCheck(t, env, disk, dir, []int{256 << 10}, codes.Unavailable, msg)
			if failed == 0 {
				t.Error("no job failed")
			}
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
	dir := mountTmpfs(t, "size=64m")
	env, disk, logs := spoolEnv(t, dir)
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Skipf("cannot remount the tmpfs read-only: %v", err)
	}
	failed := spoolFaultCheck(t, env, disk, dir, []int{256 << 10}, codes.Unavailable, "spool: spill files cannot be written on this server")
	if failed == 0 {
		t.Error("no job failed")
	}
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT, ""); err != nil {
		t.Fatal(err)
	}
	checkSpoolServes(t, env)
	if !strings.Contains(logs.String(), "read-only file system") {
		t.Errorf("the log does not name the cause:\n%.2000s", logs)
	}
}
