package server

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc/codes"
)

// Job outcomes: the values of the "outcome" label of halfclose_jobs_total.
const (
	OutcomeOK          = "ok"          // result sent
	OutcomeInvalid     = "invalid"     // bad header, pipeline or flag
	OutcomeCanceled    = "canceled"    // client cancelled the call
	OutcomeReset       = "reset"       // TCP RST or read error on the raw-TCP adapter
	OutcomeIdle        = "idle"        // idle, header timeout or deadline
	OutcomeLimit       = "limit"       // a limit was hit (RESOURCE_EXHAUSTED)
	OutcomeDataLoss    = "data_loss"   // declared size or digest mismatch
	OutcomeAborted     = "aborted"     // input ended without the proof its client promised (End, @size, @chunked)
	OutcomeUnavailable = "unavailable" // shutting down
	OutcomeDenied      = "denied"      // missing or invalid credential (UNAUTHENTICATED, PERMISSION_DENIED)
	OutcomeInternal    = "internal"    // anything else
)

var outcomes = [...]string{
	OutcomeOK, OutcomeInvalid, OutcomeCanceled, OutcomeReset, OutcomeIdle,
	OutcomeLimit, OutcomeDataLoss, OutcomeAborted, OutcomeUnavailable, OutcomeDenied, OutcomeInternal,
}

// Command label values that are not command names.
const (
	// CommandPipeline labels a job of more than one stage.
	CommandPipeline = "pipeline"
	// CommandOther replaces a name that is not a registered command, so
	// client-chosen text never becomes a label value (unbounded series).
	CommandOther = "other"
)

// OutcomeForCode maps the gRPC status code a job ended with to its outcome
// label. OutcomeReset has no code: the raw-TCP adapter passes it directly.
func OutcomeForCode(c codes.Code) string {
	switch c {
	case codes.OK:
		return OutcomeOK
	case codes.InvalidArgument:
		return OutcomeInvalid
	case codes.Canceled:
		return OutcomeCanceled
	case codes.DeadlineExceeded:
		return OutcomeIdle
	case codes.ResourceExhausted:
		return OutcomeLimit
	case codes.DataLoss:
		return OutcomeDataLoss
	case codes.Unavailable:
		return OutcomeUnavailable
	case codes.Unauthenticated, codes.PermissionDenied:
		return OutcomeDenied
	default:
		return OutcomeInternal
	}
}

// builtinCommands are the commands the "command" label names one by one;
// any other name counts as CommandOther, which keeps the label's values few.
var builtinCommands = builtin.Registry()

// Metrics holds halfclose's own metrics and the gRPC server metrics, all
// registered on one registry. A nil *Metrics is valid and records nothing,
// so code paths need no "metrics enabled" checks.
type Metrics struct {
	jobs        *prometheus.CounterVec
	inputBytes  prometheus.Counter
	outputBytes prometheus.Counter
	duration    *prometheus.HistogramVec
	inFlight    prometheus.Gauge
	tcpConns    prometheus.Gauge
	grpcConns   prometheus.Gauge
	tcpTotal    prometheus.Counter
	refused     *prometheus.CounterVec
	wait        *prometheus.HistogramVec
	waiting     prometheus.Gauge
	spoolDisk   prometheus.GaugeFunc
	reloads     *prometheus.CounterVec
	certExpiry  prometheus.GaugeFunc
	grpc        *GRPCMetrics

	// disk is the spill files' disk budget halfclose_spool_disk_bytes
	// reads (SpoolDisk); nil reads 0.
	disk atomic.Pointer[compute.DiskBudget]
	// tls is the key pair halfclose_tls_cert_not_after_seconds reads
	// (TLSCert); nil reads 0.
	tls atomic.Pointer[ServerTLS]

	knownCommand func(string) bool // for tests; default: a builtin command

	// The series of each command label value, looked up once: a label
	// lookup hashes the values and takes a lock, twice a job. The values
	// are few (the registry's commands, pipeline, other).
	commands sync.Map // command → *commandSeries
	waits    sync.Map // waitKey → prometheus.Observer of halfclose_job_wait_seconds
}

type waitKey struct {
	adapter  string
	admitted bool
}

// commandSeries are the job series of one command label value.
type commandSeries struct {
	duration prometheus.Observer
	jobs     [len(outcomes)]atomic.Pointer[prometheus.Counter] // by outcome, as outcomes lists them
}

// series returns command's series; the jobs counter of an outcome is made
// when first used, so that /metrics shows the outcomes that happened.
func (m *Metrics) series(command string) *commandSeries {
	if s, ok := m.commands.Load(command); ok {
		return s.(*commandSeries)
	}
	s, _ := m.commands.LoadOrStore(command, &commandSeries{duration: m.duration.WithLabelValues(command)})
	return s.(*commandSeries)
}

// jobsCounter returns the halfclose_jobs_total series of command and
// outcome (a valid one).
func (m *Metrics) jobsCounter(s *commandSeries, command, outcome string) prometheus.Counter {
	for i, o := range outcomes {
		if o == outcome {
			if c := s.jobs[i].Load(); c != nil {
				return *c
			}
			c := m.jobs.WithLabelValues(command, outcome)
			s.jobs[i].Store(&c)
			return c
		}
	}
	return m.jobs.WithLabelValues(command, outcome)
}

// NewRegistry returns a registry with the Go runtime and process collectors,
// ready for NewMetrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// NewMetrics creates the metrics and registers them on reg; it panics if
// they are already registered there (one Metrics per registry).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "halfclose_jobs_total",
			Help: "Jobs finished, by command and outcome.",
		}, []string{"command", "outcome"}),
		inputBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "halfclose_input_bytes_total",
			Help: "Input bytes read by finished jobs.",
		}),
		outputBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "halfclose_output_bytes_total",
			Help: "Output bytes sent by finished jobs.",
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "halfclose_job_duration_seconds",
			Help:    "Job duration from start to end of reply, by command.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10), // 1ms .. ~4.4min
		}, []string{"command"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "halfclose_jobs_in_flight",
			Help: "Jobs running now.",
		}),
		tcpConns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "halfclose_tcp_connections",
			Help: "Open connections on the raw-TCP adapter.",
		}),
		grpcConns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "halfclose_grpc_connections",
			Help: "Open gRPC connections (of --grpc-max-conns).",
		}),
		tcpTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "halfclose_tcp_connections_total",
			Help: "Connections accepted by the raw-TCP adapter.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "halfclose_refused_total",
			Help: "Requests refused before their job ran, by adapter and reason.",
		}, []string{"adapter", "reason"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "halfclose_job_wait_seconds",
			Help:    "How long jobs waited for their slots (the peer's and the server's), by adapter and whether they got them.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 8), // 0.5ms .. ~8s
		}, []string{"adapter", "admitted"}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "halfclose_jobs_waiting",
			Help: "Jobs waiting for a slot now.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "halfclose_reloads_total",
			Help: "Reloads of a changed certificate, client CA or token file, by file (cert, client_ca, token) and result (ok, error: the previous one is still served).",
		}, []string{"file", "result"}),
		grpc:         newGRPCMetrics(prometheus.ExponentialBuckets(0.001, 4, 10)),
		knownCommand: func(name string) bool { _, ok := builtinCommands.Lookup(name); return ok },
	}
	m.spoolDisk = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "halfclose_spool_disk_bytes",
		Help: "Disk the spill files of running jobs (reply spools, sort runs) hold now, of --spool-disk.",
	}, func() float64 {
		if b := m.disk.Load(); b != nil {
			return float64(b.Used())
		}
		return 0
	})
	m.certExpiry = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "halfclose_tls_cert_not_after_seconds",
		Help: "When the TLS certificate served now expires, in seconds since the Unix epoch (0 without TLS).",
	}, func() float64 {
		if t := m.tls.Load().NotAfter(); !t.IsZero() {
			return float64(t.Unix())
		}
		return 0
	})
	reg.MustRegister(m.jobs, m.inputBytes, m.outputBytes, m.duration, m.inFlight, m.tcpConns, m.grpcConns, m.tcpTotal,
		m.refused, m.wait, m.waiting, m.spoolDisk, m.reloads, m.certExpiry, m.grpc)
	for _, a := range []string{"grpc", "tcp"} {
		for _, r := range Reasons {
			m.refused.WithLabelValues(a, r)
		}
	}
	return m
}

// SpoolDisk makes halfclose_spool_disk_bytes show what b, the jobs'
// shared disk budget (--spool-disk), holds: it is read at each scrape.
func (m *Metrics) SpoolDisk(b *compute.DiskBudget) {
	if m != nil {
		m.disk.Store(b)
	}
}

// TLSCert makes halfclose_tls_cert_not_after_seconds show the expiry of
// the certificate s serves, read at each scrape (so a reload shows).
func (m *Metrics) TLSCert(s *ServerTLS) {
	if m != nil {
		m.tls.Store(s)
	}
}

// Reloaded counts a reload of file (ReloadCert, ...): ok when err is nil.
func (m *Metrics) Reloaded(file string, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.reloads.WithLabelValues(file, result).Inc()
}

// ServerMetrics returns the grpc_server_* metrics for the interceptors
// (ChainOptions uses it). After registering services, call
// ServerMetrics().InitializeMetrics(grpcServer) so every method's series
// exist at zero from the start.
func (m *Metrics) ServerMetrics() *GRPCMetrics {
	if m == nil {
		return nil
	}
	return m.grpc
}

// JobRecord tracks one running job; finish it with Done.
type JobRecord struct {
	m       *Metrics
	command string
	series  *commandSeries
	start   time.Time
	done    atomic.Bool
}

// JobStart counts a job as in flight. command is the name of the job's
// command, CommandPipeline for several stages; any name that is not a
// registered command is recorded as CommandOther.
func (m *Metrics) JobStart(command string) *JobRecord {
	if m == nil {
		return nil
	}
	if command != CommandPipeline && !m.knownCommand(command) {
		command = CommandOther
	}
	m.inFlight.Inc()
	return &JobRecord{m: m, command: command, series: m.series(command), start: time.Now()}
}

// Done records the job's end: its outcome (one of the Outcome* constants;
// anything else counts as OutcomeInternal) and the bytes it read and wrote.
// Only the first call counts, so a deferred Done after an explicit one is
// harmless.
func (r *JobRecord) Done(outcome string, in, out int64) {
	if r == nil || r.done.Swap(true) {
		return
	}
	if !validOutcome(outcome) {
		outcome = OutcomeInternal
	}
	m := r.m
	m.inFlight.Dec()
	m.jobsCounter(r.series, r.command, outcome).Inc()
	r.series.duration.Observe(time.Since(r.start).Seconds())
	if in > 0 {
		m.inputBytes.Add(float64(in))
	}
	if out > 0 {
		m.outputBytes.Add(float64(out))
	}
}

func validOutcome(o string) bool {
	for _, v := range outcomes {
		if o == v {
			return true
		}
	}
	return false
}

// TCPConnOpened counts an accepted raw-TCP connection.
func (m *Metrics) TCPConnOpened() {
	if m == nil {
		return
	}
	m.tcpConns.Inc()
	m.tcpTotal.Inc()
}

// TCPConnClosed counts a raw-TCP connection closed; call it once per
// TCPConnOpened.
func (m *Metrics) TCPConnClosed() {
	if m == nil {
		return
	}
	m.tcpConns.Dec()
}

// GRPCConns counts gRPC connections opened (+1) and closed (-1); nil
// without metrics (GRPCConnLimits.Conns).
func (m *Metrics) GRPCConns() func(delta int) {
	if m == nil {
		return nil
	}
	return func(delta int) { m.grpcConns.Add(float64(delta)) }
}

// Refused counts a request refused before its job ran (a Reason*).
func (m *Metrics) Refused(adapter, reason string) {
	if m == nil {
		return
	}
	m.refused.WithLabelValues(adapter, reason).Inc()
}

// Waited records how long a job waited for its slots.
func (m *Metrics) Waited(adapter string, d time.Duration, admitted bool) {
	if m == nil {
		return
	}
	k := waitKey{adapter, admitted}
	o, ok := m.waits.Load(k)
	if !ok {
		a := "false"
		if admitted {
			a = "true"
		}
		o, _ = m.waits.LoadOrStore(k, m.wait.WithLabelValues(adapter, a))
	}
	o.(prometheus.Observer).Observe(d.Seconds())
}

// Waiting counts jobs waiting for a slot: +1, then -1.
func (m *Metrics) Waiting(delta int) {
	if m == nil {
		return
	}
	m.waiting.Add(float64(delta))
}
