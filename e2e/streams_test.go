package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/internal/testenv"
)

// Idle streams: how much a halfclosed child holds for gRPC Digest streams
// that send nothing (issue 13: 10,000 of them took 226–236 MiB, two
// goroutines each): streams that never send their header, and streams
// whose header started a job that then waits for input. Each stream may
// add idleStreamRSS to the child's resident set (10,000 of them 200 MiB
// with the child's start) and one goroutine. make test opens 4,000
// streams, the long run (testenv.Long) 10,000: the cost per stream is
// the same (about 16 KiB and one goroutine).
const (
	idleConns     = 10
	idleStreamRSS = 19 << 10
)

// idleStreams is the number of streams TestIdleStreamsMemory opens.
func idleStreams() int {
	if testenv.Long() {
		return 10000
	}
	return 4000
}

func TestIdleStreamsMemory(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("opens thousands of streams")
	}
	idleStreams := idleStreams()
	for _, withHeader := range []bool{false, true} {
		name := map[bool]string{false: "no header", true: "header, no data"}[withHeader]
		t.Run(name, func(t *testing.T) {
			d := launch(t, "--metrics-addr", "127.0.0.1:0", "--pprof",
				"--max-jobs", strconv.Itoa(idleStreams),
				"--max-requests-per-peer", strconv.Itoa(2*idleStreams),
				"--grpc-max-requests", strconv.Itoa(8*idleStreams), // a quarter an address
				"--max-jobs-per-peer", "0",
				"--grpc-max-streams", strconv.Itoa(idleStreams/idleConns),
				// Long enough that none of them ends while measured.
				"--header-timeout", "10m", "--idle-timeout", "10m")
			metrics := metricsAddr(t, d)
			base := rss(t, d)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var conns []*grpc.ClientConn
			for range idleConns {
				cc, err := grpc.NewClient(d.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
				if err != nil {
					t.Fatal(err)
				}
				defer cc.Close()
				conns = append(conns, cc)
			}
			hdr := &apiv1.DigestRequest{Message: &apiv1.DigestRequest_Header{Header: &apiv1.DigestHeader{
				Algorithms: []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}}}}
			for i := range idleStreams {
				s, err := apiv1.NewComputeServiceClient(conns[i%idleConns]).Digest(ctx)
				if err != nil {
					t.Fatalf("stream %d: %v", i, err)
				}
				if withHeader {
					if err := s.Send(hdr); err != nil {
						t.Fatalf("stream %d: %v", i, err)
					}
				}
			}
			// Every stream has reached the server: its handler runs (no
			// header), or its job holds a slot (header).
			metric, want := `grpc_server_started_total{grpc_method="Digest",grpc_service="halfclose.v1.ComputeService",grpc_type="client_stream"}`, idleStreams
			if withHeader {
				metric = "halfclose_jobs_in_flight"
			}
			waitMetricValue(t, metrics, metric, float64(want))
			used := rss(t, d)
			goroutines := scrapeValue(t, metrics, "go_goroutines")
			stacks := scrapeValue(t, metrics, "go_memstats_stack_inuse_bytes")
			heap := scrapeValue(t, metrics, "go_memstats_heap_inuse_bytes")
			t.Logf("%d idle Digest streams (%s) on %d connections: RSS %.1f MiB (%.1f MiB at start), %.0f goroutines, stacks %.1f MiB, heap in use %.1f MiB",
				idleStreams, name, idleConns, float64(used)/(1<<20), float64(base)/(1<<20), goroutines, stacks/(1<<20), heap/(1<<20))
			if os.Getenv("HALFCLOSE_PPROF_DIR") != "" {
				for _, p := range []string{"heap", "goroutine"} {
					resp, err := http.Get("http://" + metrics + "/debug/pprof/" + p)
					if err != nil {
						t.Fatal(err)
					}
					f, _ := os.Create(os.Getenv("HALFCLOSE_PPROF_DIR") + "/" + strings.ReplaceAll(name, " ", "") + "." + p)
					io.Copy(f, resp.Body)
					f.Close()
					resp.Body.Close()
				}
			}
			if bound := base + int64(idleStreams)*idleStreamRSS; used > bound {
				t.Errorf("RSS %d MiB, want at most %d MiB (%d MiB at start and %d KiB a stream)", used>>20, bound>>20, base>>20, idleStreamRSS>>10)
			}
			// One goroutine a stream, and the daemon's own (about 40).
			if goroutines > float64(idleStreams)+200 {
				t.Errorf("%.0f goroutines for %d streams, want one a stream", goroutines, idleStreams)
			}
		})
	}
}

// metricsAddr is the daemon's --metrics-addr, read from its log.
func metricsAddr(t *testing.T, d *daemon) string {
	t.Helper()
	deadline := time.Now().Add(defaultTestTimeout)
	for time.Now().Before(deadline) {
		for _, r := range d.log.records() {
			if r["msg"] == "metrics listening" {
				return r["addr"].(string)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no metrics address in the log:\n%s", d.log.String())
	return ""
}

// rss is the daemon's resident set size, in bytes.
func rss(t *testing.T, d *daemon) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/PID/status")
	return 0
}

// scrapeValue returns the value of the sample named series (a metric name
// with its labels, as the text format writes them) on /metrics; -1 when
// there is none.
func scrapeValue(t *testing.T, addr, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return -1
}

// waitMetricValue polls /metrics until series has the value want.
func waitMetricValue(t *testing.T, addr, series string, want float64) {
	t.Helper()
	waitMetricUnless(t, addr, series, want, nil)
}

// waitMetricUnless polls /metrics until series has the value want, and
// fails the test with what ended reports when the thing to be counted
// ended first (nil: nothing can).
func waitMetricUnless(t *testing.T, addr, series string, want float64, ended func() (string, bool)) {
	t.Helper()
	deadline := time.Now().Add(defaultTestTimeout)
	for {
		got := scrapeValue(t, addr, series)
		if got == want {
			return
		}
		if ended != nil {
			if why, ok := ended(); ok {
				t.Fatalf("%s = %v, want %v: %s", series, got, want, why)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after %v, want %v", series, got, defaultTestTimeout, want)
		}
		time.Sleep(20 * time.Millisecond) // polling the metrics, not synchronisation
	}
}
