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

// docs/operations.md names every value of the labels whose values are the
// server's own (outcome, reason, file), each in code, and no value the
// server does not use: a new outcome or refusal reason must be explained
// where operators look its series up. The table's rows and the paragraph
// after it are the metrics section, up to "## Logs".
func TestOperationsDocMetricLabels(t *testing.T) {
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	start := strings.Index(text, "## Health, readiness and metrics")
	end := strings.Index(text, "## Logs")
	if start < 0 || end < start {
		t.Fatal("docs/operations.md: no metrics section before ## Logs")
	}
	section := text[start:end]
	row := func(metric string) string {
		m := regexp.MustCompile("(?m)^\\| `" + metric + "` \\|.*$").FindString(section)
		if m == "" {
			t.Fatalf("docs/operations.md has no row for %s", metric)
		}
		return m
	}
	after := func(text, marker string) string {
		i := strings.Index(text, marker)
		if i < 0 {
			t.Fatalf("docs/operations.md: no %q in the metrics section", marker)
		}
		return text[i+len(marker):]
	}
	reloads := row("halfclose_reloads_total")
	// The files are each in parentheses, after their flags:
	// (`file="cert"`), (`client_ca`).
	var files []string
	for _, m := range regexp.MustCompile("\\(`(?:file=\")?([a-z_]+)\"?`\\)").FindAllStringSubmatch(reloads, -1) {
		files = append(files, m[1])
	}
	for _, c := range []struct {
		label          string
		listed, values []string
	}{
		{"outcome", listedValues(after(outcomeParagraph(t, section), "`outcome` is one of")), outcomes[:]},
		{"reason", listedValues(after(row("halfclose_refused_total"), "before their job ran:")), Reasons},
		{"file", files, []string{ReloadCert, ReloadClientCA, ReloadToken}},
		{"result", listedValues(after(reloads, "`result` is")), []string{"ok", "error"}},
	} {
		for _, v := range c.values {
			if !slices.Contains(c.listed, v) {
				t.Errorf("docs/operations.md does not name the %s value `%s`", c.label, v)
			}
		}
		for _, v := range c.listed {
			if !slices.Contains(c.values, v) {
				t.Errorf("docs/operations.md lists the %s value `%s`, which the server does not use", c.label, v)
			}
		}
	}
}

// listedValues returns the items of a list of code spans (`ok`, `invalid`
// (a remark with `code`), `limit`.): the spans outside parentheses, up to
// the end of the sentence (a "." outside them) or of the text. Every other
// item went unchecked when a regexp matched each with the separator on
// both sides (", `x`,": the comma after one was the one before the next).
func listedValues(list string) []string {
	var out []string
	depth := 0
	for i := 0; i < len(list); i++ {
		switch list[i] {
		case '`':
			j := strings.IndexByte(list[i+1:], '`')
			if j < 0 {
				return out
			}
			if depth == 0 {
				out = append(out, list[i+1:i+1+j])
			}
			i += j + 1
		case '(':
			depth++
		case ')':
			depth--
		case '.':
			if depth == 0 {
				return out
			}
		}
	}
	return out
}

// outcomeParagraph returns the paragraph of the metrics section that
// lists the outcomes.
func outcomeParagraph(t *testing.T, section string) string {
	for _, p := range strings.Split(section, "\n\n") {
		if strings.Contains(p, "`outcome` is one of") {
			return p
		}
	}
	t.Fatal("docs/operations.md: no paragraph says \"`outcome` is one of\"")
	return ""
}

// Every metric the docs name anywhere (a query, an alert, the prose) is
// one NewMetrics registers: a renamed metric fails the docs that still
// name it, not only the table. halfclose_grpc, halfclose_tcp and
// halfclose_route are the proxies' upstream names in docs/deploy.md.
func TestDocsMetricMentions(t *testing.T) {
	var rec collectorRecorder
	NewMetrics(&rec)
	registered := map[string]bool{}
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	for _, c := range rec {
		ch := make(chan *prometheus.Desc, 8)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			if m := fqName.FindStringSubmatch(d.String()); m != nil {
				registered[m[1]] = true
			}
		}
	}
	mention := regexp.MustCompile(`\b(?:halfclose|grpc_server)_[a-z_]*[a-z]`)
	for _, name := range []string{"README.md", "docs/cli.md", "docs/clients.md", "docs/deploy.md", "docs/operations.md", "docs/protocol.md"} {
		doc, err := os.ReadFile("../" + name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mention.FindAllString(string(doc), -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
			if !registered[m] && !registered[base] && m != "halfclose_grpc" && m != "halfclose_tcp" && m != "halfclose_route" {
				t.Errorf("%s names the metric %s, which is not registered", name, m)
			}
		}
	}
}
