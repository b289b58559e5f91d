package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/halfclose/halfclose/internal/syncbuf"
	"github.com/halfclose/halfclose/internal/testenv"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// hungDir returns the root of a FUSE file system that never answers
// (its /dev/fuse is never read), mounted nowhere (fsmount): any file
// made in it waits, as on a disk failing in D state or an NFS server
// gone, until release closes /dev/fuse (the wait then fails ENOTCONN).
// It skips the test without root or FUSE.
func hungDir(t *testing.T) (dir string, release func()) {
	t.Helper()
	dev, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no FUSE: %v", err)
	}
	fs, err := unix.Fsopen("fuse", unix.FSOPEN_CLOEXEC)
	if err != nil {
		unix.Close(dev)
		t.Skipf("cannot make a FUSE mount (root, fsopen): %v", err)
	}
	defer unix.Close(fs)
	for _, kv := range [][2]string{{"fd", fmt.Sprint(dev)}, {"rootmode", "40000"}, {"user_id", "0"}, {"group_id", "0"}} {
		if err := unix.FsconfigSetString(fs, kv[0], kv[1]); err != nil {
			unix.Close(dev)
			t.Skipf("FUSE %s: %v", kv[0], err)
		}
	}
	mfd := -1
	if err = unix.FsconfigCreate(fs); err == nil {
		mfd, err = unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, 0)
	}
	if err != nil {
		unix.Close(dev)
		t.Skipf("cannot mount FUSE: %v", err)
	}
	closed := false
	release = func() {
		if !closed {
			closed = true
			unix.Close(dev)
		}
	}
	t.Cleanup(func() {
		release()
		unix.Close(mfd)
	})
	return fmt.Sprintf("/proc/self/fd/%d", mfd), release
}

// TestReadyzSpoolHangs: while the spool is marked broken, a /readyz
// whose spill file hangs (the disk failing, not answering) holds the
// only try: every other /readyz meanwhile answers 503 at once. Each
// waited on a spill file of its own, a thread each, so a kubelet's and
// a balancer's probes piled up threads (10000 end the process) and never
// answered. gRPC health's Checks meanwhile answer NOT_SERVING at once
// (they said SERVING).
func TestReadyzSpoolHangs(t *testing.T) {
	hung, release := hungDir(t)
	dir := filepath.Join(t.TempDir(), "spool")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	td := startDaemon(t, "--spool-dir="+dir, "--spool-mem=64KiB", "--log-flush=0")
	t.Cleanup(release) // before the daemon stops: a /readyz may wait on the spool
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if reply, err := tcpJob(t, td.tcpAddr(), nil, "sort\n", spillInput); err != nil || reply != spoolBroken {
		t.Fatalf("sort with the spool dir removed: %q, %v", reply, err)
	}
	// The directory comes back on a disk that hangs.
	if err := os.Symlink(hung, dir); err != nil {
		t.Fatal(err)
	}
	const probes = 8
	codes := make(chan int, probes)
	for range probes {
		go func() {
			resp, err := http.Get("http://" + td.healthAddr() + "/readyz")
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	// One of them tries a spill file, and waits; the others answer.
	for i := range probes - 1 {
		select {
		case code := <-codes:
			if code != http.StatusServiceUnavailable {
				t.Errorf("/readyz while another tries the spool: %d, want 503", code)
			}
		case <-time.After(defaultTestTimeout):
			t.Fatalf("%d of %d /readyz answered while one waits on the spool", i, probes)
		}
	}
	// gRPC health never waits on the spool: every Check answers
	// NOT_SERVING while the try waits.
	hc := healthpb.NewHealthClient(rawGRPC(t, td.grpcAddr(), nil))
	checks := make(chan error, probes)
	for range probes {
		go func() {
			hr, err := hc.Check(testCtx(t), &healthpb.HealthCheckRequest{})
			if err == nil && hr.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
				err = fmt.Errorf("status %v", hr.GetStatus())
			}
			checks <- err
		}()
	}
	for range probes {
		if err := testenv.Recv(t, hangTimeout, "a health check's answer", checks); err != nil {
			t.Errorf("gRPC health Check while a try waits on the spool: %v, want NOT_SERVING", err)
		}
	}
	release()
	if code := testenv.Recv(t, hangTimeout, "the HTTP readiness probe's answer", codes); code != http.StatusServiceUnavailable {
		t.Errorf("the /readyz that waited: %d, want 503", code)
	}
	if !strings.Contains(td.logs.String(), "spill files cannot be created: not ready") {
		t.Errorf("no log line says the server is not ready:\n%s", td.logs)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if got := httpStatus(t, td.healthAddr(), "/readyz"); got != http.StatusOK {
		t.Fatalf("/readyz with the spool dir back: %d, want 200", got)
	}
}

// fullDir is testenv.FullTmpfs: a spill file's create there fails
// ENOSPC. It skips the test without root.
func fullDir(t *testing.T) string {
	t.Helper()
	return testenv.FullTmpfs(t)
}

// TestReadyzSpoolFull: a spool marked broken (its directory removed)
// whose directory comes back full (no inode left) is full, not broken: the
// /readyz whose try meets ENOSPC, which ends the mark, says ready, and the
// log's last word is that it is (docs/operations.md: a full disk leaves
// /readyz alone). That /readyz said 503, and its log line "not ready
// until they can" (err: no space left) was the last: the server was
// ready, its gRPC health SERVING. The daemon is not Run: no try but the
// /readyz's.
func TestReadyzSpoolFull(t *testing.T) {
	full := fullDir(t)
	dir := filepath.Join(t.TempDir(), "spool")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseConfig([]string{"--grpc-addr=127.0.0.1:0", "--tcp-addr=", "--metrics-addr=", "--health-addr=", "--log-format=json", "--log-flush=0", "--spool-dir=" + dir}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	cfg.logOut = logs
	d, err := newServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.grpc.Stop() // its stream workers
		d.closeListeners()
	})
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	sc := cfg.engine.Config().Spool
	if _, err := sc.TempFile(); !errors.Is(err, unix.ENOENT) || !sc.Disk.Unusable() {
		t.Fatalf("a spill file with the spool dir removed: %v, unusable %v", err, sc.Disk.Unusable())
	}
	if d.readyNow() {
		t.Fatal("ready with the spool dir removed")
	}
	if err := os.Symlink(full, dir); err != nil {
		t.Fatal(err)
	}
	if !d.readyNow() || sc.Disk.Unusable() {
		t.Errorf("/readyz with the spool dir back, full: not ready (unusable %v); want ready", sc.Disk.Unusable())
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "spill files can be created again: ready") {
		t.Errorf("the log's last line: %s\nwant that the spool is ready:\n%s", last, logs)
	}
}
