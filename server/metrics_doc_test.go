package server

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// docs/operations.md's metrics table names every halfclose_ metric
// NewMetrics registers, with its type and labels, and no other.
func TestOperationsDocMetrics(t *testing.T) {
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]string{} // name: "type labels"
	row := regexp.MustCompile("(?m)^\\| `(halfclose_[a-z_]+)` \\| ([a-z]+) \\| ([^|]*)\\|")
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		labels := strings.Fields(strings.NewReplacer("`", "", ",", " ").Replace(m[3]))
		slices.Sort(labels)
		documented[m[1]] = m[2] + " " + strings.Join(labels, ",")
	}

	var rec collectorRecorder
	NewMetrics(&rec)
	registered := map[string]string{}
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	varLabels := regexp.MustCompile(`variableLabels: \{([^}]*)\}`)
	for _, c := range rec {
		ch := make(chan *prometheus.Desc, 8)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			s := d.String()
			name := fqName.FindStringSubmatch(s)
			if name == nil {
				t.Fatalf("no name in %s", s)
			}
			if !strings.HasPrefix(name[1], "halfclose_") {
				continue // grpc-go-prometheus's, documented in the text
			}
			var labels []string
			if l := varLabels.FindStringSubmatch(s); l != nil && l[1] != "" {
				labels = strings.Split(l[1], ",")
			}
			slices.Sort(labels)
			registered[name[1]] = metricType(c) + " " + strings.Join(labels, ",")
		}
	}
	for name, want := range registered {
		if got, ok := documented[name]; !ok {
			t.Errorf("docs/operations.md has no row for %s (%s)", name, want)
		} else if got != want {
			t.Errorf("docs/operations.md: %s is %q, registered %q (type labels)", name, got, want)
		}
	}
	for name := range documented {
		if _, ok := registered[name]; !ok {
			t.Errorf("docs/operations.md documents %s, which is not registered", name)
		}
	}
}

// collectorRecorder is a Registerer that keeps what is registered.
type collectorRecorder []prometheus.Collector

func (r *collectorRecorder) Register(c prometheus.Collector) error {
	*r = append(*r, c)
	return nil
}
func (r *collectorRecorder) MustRegister(cs ...prometheus.Collector) { *r = append(*r, cs...) }
func (r *collectorRecorder) Unregister(prometheus.Collector) bool    { return false }

// metricType is the Prometheus type of one of NewMetrics' collectors.
func metricType(c prometheus.Collector) string {
	switch c.(type) {
	case *prometheus.CounterVec, prometheus.Counter:
		if _, gauge := c.(prometheus.Gauge); !gauge {
			return "counter"
		}
	case *prometheus.HistogramVec, prometheus.Histogram:
		return "histogram"
	}
	if _, ok := c.(interface{ Set(float64) }); ok {
		return "gauge"
	}
	if _, ok := c.(*prometheus.GaugeVec); ok {
		return "gauge"
	}
	if f, ok := c.(prometheus.Metric); ok {
		// A GaugeFunc: no Set, but it writes a gauge.
		var d dto.Metric
		if f.Write(&d) == nil && d.Gauge != nil {
			return "gauge"
		}
	}
	return "unknown"
}
