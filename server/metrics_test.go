package server

import (
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc/codes"
)

// scrape reads reg through NewHTTPHandler's /metrics on a real listener
// and parses the text format.
func scrape(t *testing.T, reg prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	base, c := startHTTP(t, NewHTTPHandler(reg, nil, false))
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics = %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// findMetric returns the series of family name whose labels include want.
func findMetric(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no metric family %s", name)
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

// metricValue is the value of a counter or gauge series; 0 if absent.
func metricValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	m := findMetric(t, fams, name, labels)
	switch {
	case m == nil:
		return 0
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	t.Fatalf("%s%v is not a counter or gauge", name, labels)
	return 0
}

func histCount(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) uint64 {
	t.Helper()
	m := findMetric(t, fams, name, labels)
	if m == nil {
		return 0
	}
	return m.GetHistogram().GetSampleCount()
}

func TestMetricsSequence(t *testing.T) {
	reg := NewRegistry()
	m := NewMetrics(reg)
	m.knownCommand = func(name string) bool { return name == "sha256sum" || name == "wc" }

	m.JobStart("sha256sum").Done(OutcomeOK, 100, 65)
	r := m.JobStart("sha256sum")
	r.Done(OutcomeOK, 1000, 65)
	r.Done(OutcomeInternal, 1, 1) // second Done is ignored
	m.JobStart("wc").Done(OutcomeForCode(codes.ResourceExhausted), 50, 0)
	m.JobStart(CommandPipeline).Done(OutcomeReset, 7, 0)
	m.JobStart("rm -rf /; evil").Done(OutcomeInvalid, 0, 0) // not a command → other
	m.JobStart("wc").Done("bogus", 0, 0)                    // unknown outcome → internal
	m.JobStart("wc")                                        // still running
	m.TCPConnOpened()
	m.TCPConnOpened()
	m.TCPConnOpened()
	m.TCPConnClosed()

	fams := scrape(t, reg)
	jobs := map[[2]string]float64{
		{"sha256sum", "ok"}:       2,
		{"wc", "limit"}:           1,
		{"pipeline", "reset"}:     1,
		{"other", "invalid"}:      1,
		{"wc", "internal"}:        1,
		{"sha256sum", "internal"}: 0,
	}
	for k, want := range jobs {
		got := metricValue(t, fams, "halfclose_jobs_total", map[string]string{"command": k[0], "outcome": k[1]})
		if got != want {
			t.Errorf("halfclose_jobs_total{%s,%s} = %v, want %v", k[0], k[1], got, want)
		}
	}
	for _, s := range fams["halfclose_jobs_total"].GetMetric() {
		for _, l := range s.GetLabel() {
			if strings.Contains(l.GetValue(), "evil") {
				t.Errorf("client text became a label value: %v", s)
			}
		}
	}
	for name, want := range map[string]float64{
		"halfclose_input_bytes_total":     1157,
		"halfclose_output_bytes_total":    130,
		"halfclose_jobs_in_flight":        1,
		"halfclose_tcp_connections":       2,
		"halfclose_tcp_connections_total": 3,
	} {
		if got := metricValue(t, fams, name, nil); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for cmd, want := range map[string]uint64{"sha256sum": 2, "wc": 2, "pipeline": 1, "other": 1} {
		if got := histCount(t, fams, "halfclose_job_duration_seconds", map[string]string{"command": cmd}); got != want {
			t.Errorf("halfclose_job_duration_seconds{%s} count = %d, want %d", cmd, got, want)
		}
	}
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("NewRegistry lacks %s", name)
		}
	}
}

func TestMetricsDefaultCommandLookup(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	// compute has no command called this, so it must be bucketed.
	if r := m.JobStart("no-such-command-xyz"); r.command != CommandOther {
		t.Fatalf("label = %q, want %q", r.command, CommandOther)
	}
	if r := m.JobStart(CommandPipeline); r.command != CommandPipeline {
		t.Fatalf("label = %q", r.command)
	}
}

func TestMetricsNil(t *testing.T) {
	var m *Metrics
	m.JobStart("x").Done(OutcomeOK, 1, 1)
	m.TCPConnOpened()
	m.TCPConnClosed()
	if m.ServerMetrics() != nil {
		t.Fatal("nil Metrics has server metrics")
	}
}

func TestOutcomeForCode(t *testing.T) {
	want := map[codes.Code]string{
		codes.OK: "ok", codes.InvalidArgument: "invalid", codes.Canceled: "canceled",
		codes.DeadlineExceeded: "idle", codes.ResourceExhausted: "limit", codes.DataLoss: "data_loss",
		codes.Unavailable: "unavailable", codes.Internal: "internal", codes.Unknown: "internal",
		codes.PermissionDenied: "denied", codes.Unauthenticated: "denied", codes.NotFound: "internal",
	}
	for c, o := range maps.All(want) {
		if got := OutcomeForCode(c); got != o {
			t.Errorf("OutcomeForCode(%v) = %q, want %q", c, got, o)
		}
	}
}

func TestNewMetricsTwicePanics(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewMetrics(reg)
	defer func() {
		if recover() == nil {
			t.Fatal("second NewMetrics on one registry did not panic")
		}
	}()
	NewMetrics(reg)
}

func BenchmarkJobRecord(b *testing.B) {
	m := NewMetrics(prometheus.NewRegistry())
	m.knownCommand = func(string) bool { return true }
	b.ReportAllocs()
	for b.Loop() {
		m.JobStart("sha256sum").Done(OutcomeOK, 4096, 65)
	}
}

// TestSpoolDiskGauge: halfclose_spool_disk_bytes is what the jobs' shared
// disk budget holds at the scrape (0 before it is set), and back to 0
// once the spill files give their space back.
func TestSpoolDiskGauge(t *testing.T) {
	reg := NewRegistry()
	m := NewMetrics(reg)
	if v := metricValue(t, scrape(t, reg), "halfclose_spool_disk_bytes", nil); v != 0 {
		t.Fatalf("with no budget: %v, want 0", v)
	}
	b := compute.NewDiskBudget(1 << 20)
	m.SpoolDisk(b)
	if err := b.Reserve(300 << 10); err != nil {
		t.Fatal(err)
	}
	if v := metricValue(t, scrape(t, reg), "halfclose_spool_disk_bytes", nil); v != 300<<10 {
		t.Fatalf("with 300 KiB reserved: %v", v)
	}
	b.Release(300 << 10)
	if v := metricValue(t, scrape(t, reg), "halfclose_spool_disk_bytes", nil); v != 0 {
		t.Fatalf("after the release: %v, want 0", v)
	}
}
