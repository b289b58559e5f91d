package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/internal/grpcopts"
)

// TestWaitingStreamsMemory: gRPC streams waiting for a job slot hold
// their windows of what their clients sent, and the server's peak
// resident memory with them stays under the heap limit halfclosed derives
// and prints (--print-limits' memory_limit: twice the jobs' and the
// waiting streams' bound, plus 256 MiB). 48 streams send 8 MiB each
// (less their header) under --max-jobs 1, from one address with the
// address shares off; once the server has read every byte they sent
// (the client wrote them all, and no loopback socket of the server's
// port holds any unread or unacknowledged), VmHWM is compared. The limit
// derived from the jobs alone (318 MiB at these flags) is below what the
// streams hold (384 MiB of data).
func TestWaitingStreamsMemory(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("sends 384 MiB into waiting streams")
	}
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no /proc/net/tcp: Linux's")
	}
	const (
		waiting = 48
		window  = 8 << 20 // grpcopts' stream window
		msgs    = 16
		msgLen  = window/msgs - 64 // under the window with the header
	)
	args := []string{"--max-jobs", "1", "--max-jobs-per-peer", "0", "--max-requests-per-peer", "0",
		"--grpc-max-requests", strconv.Itoa(1 + waiting), "--spool-mem", "1MiB", "--max-line-bytes", "64KiB",
		"--max-msg-bytes", "1MiB", "--gc-percent", "100",
		"--job-wait", "10m", "--header-timeout", "10m", "--idle-timeout", "10m"}
	pl := exec.Command(bin(t, "halfclosed"), append(args, "--print-limits")...)
	pl.Env = cleanEnv() // as the server's: no GOMEMLIMIT, no HALFCLOSE_MEMORY_LIMIT
	out, err := pl.Output()
	if err != nil {
		t.Fatalf("--print-limits: %v", err)
	}
	limits := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, value, _ := strings.Cut(line, " ")
		limits[name], _ = strconv.ParseInt(value, 10, 64)
	}
	bound := limits["memory_limit"]
	if want := 2*(limits["job_memory"]+waiting*window) + 256<<20; bound != want || limits["stream_memory"] != window {
		t.Fatalf("--print-limits:\n%s\nmemory_limit want %d: 2 × (1 job + %d streams of %d) + 256 MiB", out, want, waiting, window)
	}

	d := launch(t, append(args, "--metrics-addr", "127.0.0.1:0")...)
	metrics := metricsAddr(t, d)
	_, port, _ := net.SplitHostPort(d.GRPC)
	var written atomic.Int64
	cc, err := grpc.NewClient(d.GRPC, append(grpcopts.DialOptions(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			return countingConn{c, &written}, err
		}))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	api := apiv1.NewComputeServiceClient(cc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hdr := &apiv1.DigestRequest{Message: &apiv1.DigestRequest_Header{Header: &apiv1.DigestHeader{
		Algorithms: []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}}}}
	data := &apiv1.DigestRequest{Message: &apiv1.DigestRequest_Data{Data: make([]byte, msgLen)}}
	// The job, then the streams that wait for its slot.
	for i := range 1 + waiting {
		s, err := api.Digest(ctx)
		if err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		if err := s.Send(hdr); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		if i == 0 {
			waitMetricValue(t, metrics, "halfclose_jobs_in_flight", 1)
			continue
		}
		for range msgs {
			if err := s.Send(data); err != nil {
				t.Fatalf("stream %d: %v", i, err)
			}
		}
	}
	waitMetricValue(t, metrics, "halfclose_jobs_waiting", waiting)
	// Every data byte is written (each DATA frame of at most 16 KiB adds
	// 9 bytes, each message 5) and read by the server.
	payload := int64(waiting * msgs * (msgLen + 5))
	want := payload + 9*(payload/(16<<10))
	waitFor(t, "the server to read every byte", func() bool {
		return written.Load() >= want && loopbackQueuesEmpty(t, port)
	})
	peak := procStatus(t, d.cmd.Process.Pid, "VmHWM")
	t.Logf("%d streams of %d MiB waiting: peak RSS %d MiB, memory_limit %d MiB (the jobs alone: %d MiB)",
		waiting, window>>20, peak>>20, bound>>20, (2*limits["job_memory"]+256<<20)>>20)
	if peak > bound {
		t.Errorf("peak RSS %d MiB over the printed memory_limit %d MiB", peak>>20, bound>>20)
	}
}

// countingConn counts the bytes written to it.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// loopbackQueuesEmpty reports whether no established IPv4 socket to or
// from port holds bytes not yet acknowledged (tx_queue) or not yet read
// by its process (rx_queue), per /proc/net/tcp, and at least one does
// (a server on IPv6, in /proc/net/tcp6, made it true at once).
func loopbackQueuesEmpty(t *testing.T, port string) bool {
	t.Helper()
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hexPort := fmt.Sprintf(":%04X", p)
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	seen := false
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || fields[3] != "01" {
			continue
		}
		if !strings.HasSuffix(fields[1], hexPort) && !strings.HasSuffix(fields[2], hexPort) {
			continue
		}
		if fields[4] != "00000000:00000000" {
			return false
		}
		seen = true
	}
	return seen
}
