package main

import (
	"bytes"
	"net"
	"strings"
	"testing"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/client"
)

// TestMetrics runs a known sequence of jobs on both adapters and reads the
// counters back from /metrics.
func TestMetrics(t *testing.T) {
	d := startDaemon(t)
	c := grpcClient(t, d.grpcAddr())
	ctx := testCtx(t)
	m := d.httpAddr()
	var wantIn, wantOut float64

	// Successful jobs, with exact byte counts.
	for _, n := range []int{1000, 3000} {
		if got, err := digest(t, c, randomBytes(t, n)); err != nil || got == "" {
			t.Fatal(err)
		}
		wantIn += float64(n) // a Digest reply is not output
	}
	for _, n := range []int{2000, 0} {
		input := randomBytes(t, n)
		reply, err := tcpJob(t, d.tcpAddr(), nil, "sha256sum\n", input)
		if err != nil || reply != sha256Line(input) {
			t.Fatalf("tcp: %q, %v", reply, err)
		}
		wantIn, wantOut = wantIn+float64(n), wantOut+float64(len(reply))
	}
	var out bytes.Buffer
	sum, err := c.Run(ctx, "wc -l", strings.NewReader("a\nb\nc\n"), &out)
	if err != nil || out.String() != "3\n" {
		t.Fatalf("run: %q, %v", out.String(), err)
	}
	wantIn, wantOut = wantIn+6, wantOut+float64(sum.GetOutputBytes())
	reply, err := tcpJob(t, d.tcpAddr(), nil, "wc -c | sha256sum\n", []byte("12345"))
	if err != nil || reply != sha256Line([]byte("5\n")) {
		t.Fatalf("pipeline: %q, %v", reply, err)
	}
	wantIn, wantOut = wantIn+5, wantOut+float64(len(reply))
	// Several algorithms in one Digest count as "other".
	if _, err := c.Digest(ctx, strings.NewReader("xy"), []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_MD5, apiv1.Algorithm_ALGORITHM_SHA1}, nil); err != nil {
		t.Fatal(err)
	}
	wantIn += 2

	fams := scrape(t, m)
	jobs := func(command, outcome string) float64 {
		return metricValue(fams, "halfclose_jobs_total", map[string]string{"command": command, "outcome": outcome})
	}
	for _, w := range []struct {
		command, outcome string
		n                float64
	}{
		{"sha256sum", "ok", 4}, {"wc", "ok", 1}, {"pipeline", "ok", 1}, {"other", "ok", 1},
		{"sha256sum", "reset", 0}, {"sha256sum", "data_loss", 0},
	} {
		if got := jobs(w.command, w.outcome); got != w.n {
			t.Errorf("halfclose_jobs_total{command=%q,outcome=%q} = %v, want %v", w.command, w.outcome, got, w.n)
		}
	}
	if got := metricValue(fams, "halfclose_input_bytes_total", nil); got != wantIn {
		t.Errorf("input bytes = %v, want %v", got, wantIn)
	}
	if got := metricValue(fams, "halfclose_output_bytes_total", nil); got != wantOut {
		t.Errorf("output bytes = %v, want %v", got, wantOut)
	}
	if got := metricValue(fams, "grpc_server_handled_total", map[string]string{"grpc_method": "Digest", "grpc_code": "OK"}); got != 3 {
		t.Errorf("grpc_server_handled_total{Digest,OK} = %v, want 3", got)
	}
	if got := metricValue(fams, "grpc_server_handled_total", map[string]string{"grpc_method": "Capabilities", "grpc_code": "OK"}); got != 0 {
		t.Errorf("grpc_server_handled_total{Capabilities,OK} = %v, want 0 (initialized)", got)
	}
	if fams["grpc_server_handled_total"] == nil {
		t.Error("no grpc_server_handled_total")
	}

	// Failures: a declared size that does not match, and a TCP client that
	// resets its connection mid-input.
	size := int64(10)
	_, err = c.Digest(ctx, strings.NewReader("short"), sha256Algo, &client.DigestOptions{ExpectedSize: &size})
	if err == nil {
		t.Fatal("size mismatch accepted")
	}
	rst := holdTCP(t, d.tcpAddr(), "sha256sum\n", []byte("partial"))
	waitMetric(t, m, "halfclose_jobs_in_flight", nil, 1)
	rst.(*net.TCPConn).SetLinger(0)
	rst.Close()
	waitMetric(t, m, "halfclose_jobs_total", map[string]string{"command": "sha256sum", "outcome": "reset"}, 1)

	// Jobs refused before they run count too: a bad pipeline on each
	// adapter is "invalid".
	if _, err := c.Run(ctx, "frobnicate", strings.NewReader("x"), &out); err == nil {
		t.Fatal("unknown command accepted")
	}
	if reply, _ := tcpJob(t, d.tcpAddr(), nil, "sha256sum --frob\n", nil); !strings.HasPrefix(reply, "halfclose: error: INVALID_ARGUMENT") {
		t.Fatalf("bad flag: %q", reply)
	}

	waitMetric(t, m, "halfclose_tcp_connections", nil, 0)
	fams = scrape(t, m)
	if got := jobs("other", "invalid"); got != 2 {
		t.Errorf("invalid jobs = %v, want 2", got)
	}
	if got := jobs("sha256sum", "data_loss"); got != 1 {
		t.Errorf("data_loss jobs = %v, want 1", got)
	}
	if got := metricValue(fams, "halfclose_jobs_in_flight", nil); got != 0 {
		t.Errorf("in flight = %v, want 0", got)
	}
	if got := metricValue(fams, "halfclose_tcp_connections_total", nil); got != 5 {
		t.Errorf("tcp connections total = %v, want 5", got)
	}
	if h := fams["halfclose_job_duration_seconds"]; h == nil || len(h.GetMetric()) == 0 {
		t.Error("no job duration histogram")
	}
}

// TestMetricsSpoolDisk: the daemon's halfclose_spool_disk_bytes reads the
// disk budget its jobs' spill files charge (--spool-disk), not one of its
// own.
func TestMetricsSpoolDisk(t *testing.T) {
	d := startDaemon(t, "--spool-disk=1MiB")
	disk := d.cfg.engine.Config().Spool.Disk
	if err := disk.Reserve(12345); err != nil {
		t.Fatal(err)
	}
	defer disk.Release(12345)
	if v := metricValue(scrape(t, d.httpAddr()), "halfclose_spool_disk_bytes", nil); v != 12345 {
		t.Errorf("halfclose_spool_disk_bytes = %v with 12345 bytes of the budget held, want 12345", v)
	}
}
