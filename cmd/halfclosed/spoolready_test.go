package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/halfclose/halfclose/internal/testenv"
)

// spillInput is sort's input that spills under --spool-mem 64KiB.
var spillInput = bytes.Repeat([]byte("b\na\nc\n"), 120<<10)

const spoolBroken = "halfclose: error: UNAVAILABLE: spool: spill files cannot be written on this server\n"

// TestReadyzFollowsSpool: a --spool-dir removed after the start fails
// the jobs that spill UNAVAILABLE, and /readyz turns 503 (on both
// ports) with one log line naming the cause, so that a balancer sends
// the jobs to servers that can run them; once the directory is back, the
// next /readyz makes a spill file and says ready again, and jobs spill as
// before. /readyz said 200 throughout.
func TestReadyzFollowsSpool(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	td := startDaemon(t, "--spool-dir="+dir, "--spool-mem=64KiB", "--log-flush=0")
	ready := func(want int) {
		t.Helper()
		for _, addr := range []string{td.healthAddr(), td.httpAddr()} {
			if got := httpStatus(t, addr, "/readyz"); got != want {
				t.Fatalf("/readyz on %s: %d, want %d", addr, got, want)
			}
		}
	}
	ready(http.StatusOK)
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	ready(http.StatusOK) // nothing has spilled: nothing is known
	if reply, err := tcpJob(t, td.tcpAddr(), nil, "sort\n", spillInput); err != nil || reply != spoolBroken {
		t.Fatalf("sort with the spool dir removed: %q, %v", reply, err)
	}
	ready(http.StatusServiceUnavailable)
	ready(http.StatusServiceUnavailable)
	if n := strings.Count(td.logs.String(), "spill files cannot be created: not ready"); n != 1 {
		t.Errorf("%d log lines say the server is not ready, want 1:\n%s", n, td.logs)
	}
	if !strings.Contains(td.logs.String(), "no such file or directory") {
		t.Errorf("the log does not name the cause:\n%s", td.logs)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ready(http.StatusOK)
	if !strings.Contains(td.logs.String(), "spill files can be created again: ready") {
		t.Errorf("the log does not say the spool is back:\n%s", td.logs)
	}
	want := strings.Repeat("a\n", 120<<10) + strings.Repeat("b\n", 120<<10) + strings.Repeat("c\n", 120<<10)
	if reply, err := tcpJob(t, td.tcpAddr(), nil, "sort\n", spillInput); err != nil || reply != want {
		t.Fatalf("sort once the spool dir is back: %.80q, %v", reply, err)
	}
}

// TestReadyzIgnoresDefaultSpool: without --spool-dir, a system temp dir
// where no spill file could be made at the start (a warning then) is not
// asked by /readyz, nor by gRPC health (its Check and List): the server
// was started knowing its jobs cannot spill, and stays ready for those
// that do not. (gRPC health's own look at the mark, without the start's
// spool watched, passed every test: Check then said NOT_SERVING here.)
func TestReadyzIgnoresDefaultSpool(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	td := startDaemon(t, "--spool-mem=64KiB")
	if !strings.Contains(td.logs.String(), "spill files cannot be created in the system temp dir") {
		t.Fatalf("no warning at the start:\n%s", td.logs)
	}
	if reply, err := tcpJob(t, td.tcpAddr(), nil, "sort\n", spillInput); err != nil || reply != spoolBroken {
		t.Fatalf("sort with no temp dir: %q, %v", reply, err)
	}
	if got := httpStatus(t, td.healthAddr(), "/readyz"); got != http.StatusOK {
		t.Fatalf("/readyz: %d, want 200", got)
	}
	wantHealth(t, healthpb.NewHealthClient(rawGRPC(t, td.grpcAddr(), nil)), healthpb.HealthCheckResponse_SERVING)
}

// wantHealth checks that gRPC health's Check says want of the server
// ("") and of ComputeService by name.
func wantHealth(t *testing.T, hc healthpb.HealthClient, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	for _, svc := range []string{"", "halfclose.v1.ComputeService"} {
		if hr, err := hc.Check(testCtx(t), &healthpb.HealthCheckRequest{Service: svc}); err != nil || hr.GetStatus() != want {
			t.Fatalf("Check of %q: %v, %v; want %v", svc, hr, err, want)
		}
	}
	lr, err := hc.List(testCtx(t), &healthpb.HealthListRequest{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, svc := range []string{"", "halfclose.v1.ComputeService"} {
		if got := lr.GetStatuses()[svc].GetStatus(); got != want {
			t.Fatalf("List: %q is %v; want %v", svc, got, want)
		}
	}
}

// TestGRPCHealthFollowsSpool: gRPC health says NOT_SERVING of the server
// and of ComputeService while the spool is broken (its directory
// removed: a job that spills fails UNAVAILABLE), to a Check at once and
// to the Watch streams open before, and SERVING again once spill files
// can be made, with no /readyz asked (the server tries a spill file
// itself while the spool is broken), and no job run. It said SERVING
// throughout, /readyz alone turned 503, and a client or balancer that
// asks gRPC health sent every job that spills to the broken server.
func TestGRPCHealthFollowsSpool(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	td := startDaemon(t, "--spool-dir="+dir, "--spool-mem=64KiB", "--log-flush=0")
	cc := rawGRPC(t, td.grpcAddr(), nil)
	hc := healthpb.NewHealthClient(cc)
	watches := [2]healthpb.Health_WatchClient{}
	watches[0], watches[1] = watchHealth(t, testCtx(t), cc)
	wantHealth(t, hc, healthpb.HealthCheckResponse_SERVING)
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if reply, err := tcpJob(t, td.tcpAddr(), nil, "sort\n", spillInput); err != nil || reply != spoolBroken {
		t.Fatalf("sort with the spool dir removed: %q, %v", reply, err)
	}
	wantHealth(t, hc, healthpb.HealthCheckResponse_NOT_SERVING)
	wantNotServing(t, watches[:]...)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, w := range watches {
		if hr, err := w.Recv(); err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health with the spool dir back: %v, %v; want SERVING", hr, err)
		}
	}
	wantHealth(t, hc, healthpb.HealthCheckResponse_SERVING)
	if got := httpStatus(t, td.healthAddr(), "/readyz"); got != http.StatusOK {
		t.Fatalf("/readyz with the spool dir back: %d, want 200", got)
	}
	// Once /readyz has answered, the line of the change it saw is written.
	for _, line := range []string{"spill files cannot be created: not ready", "spill files can be created again: ready"} {
		if n := strings.Count(td.logs.String(), line); n != 1 {
			t.Errorf("%d log lines say %q, want 1:\n%s", n, line, td.logs)
		}
	}
}

// TestGRPCHealthCheckFromMark: a gRPC health Check of the server and of
// ComputeService answers from the spool's mark itself, not from what
// watchSpool has set yet: NOT_SERVING as soon as a spill file's create
// has marked the spool, SERVING once one has cleared it. The daemon is
// not Run, so no watchSpool sets any status: the tests that Run one
// passed with the Check's own look at the mark taken out, watchSpool
// having set NOT_SERVING before their Checks came.
func TestGRPCHealthCheckFromMark(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseConfig([]string{"--grpc-addr=127.0.0.1:0", "--tcp-addr=", "--metrics-addr=", "--health-addr=", "--log-flush=0", "--spool-dir=" + dir}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.logOut = io.Discard
	d, err := newServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- d.grpc.Serve(d.grpcL[0]) }()
	t.Cleanup(func() {
		d.grpc.Stop()
		testenv.Recv(t, hangTimeout, "Serve's return after Stop", served)
		d.closeListeners()
	})
	hc := healthpb.NewHealthClient(rawGRPC(t, d.grpcAddr(), nil))
	wantHealth(t, hc, healthpb.HealthCheckResponse_SERVING)
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	sc := cfg.engine.Config().Spool
	if _, err := sc.TempFile(); err == nil || !sc.Disk.Unusable() {
		t.Fatalf("a spill file with the spool dir removed: %v, unusable %v", err, sc.Disk.Unusable())
	}
	wantHealth(t, hc, healthpb.HealthCheckResponse_NOT_SERVING)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := sc.TempFile()
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	wantHealth(t, hc, healthpb.HealthCheckResponse_SERVING)
}
