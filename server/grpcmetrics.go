package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
)

// GRPCMetrics are the grpc_server_* metrics: the same names, help, labels
// and series as go-grpc-middleware's providers/prometheus ServerMetrics
// (with the handling-time histogram), which this server used to install.
// GRPCMetrics is the interceptors.ServerReportable of go-grpc-middleware's
// reporting interceptors (interceptors.go); its Reporter is the method's
// series, looked up once per method rather than by label values per call
// (a label lookup hashes its values and takes a lock, several times a
// call), and shared by the method's calls: a call allocates nothing here.
type GRPCMetrics struct {
	started  *prometheus.CounterVec   // grpc_type, grpc_service, grpc_method
	handled  *prometheus.CounterVec   // ... and grpc_code
	received *prometheus.CounterVec   // grpc_type, grpc_service, grpc_method
	sent     *prometheus.CounterVec   // grpc_type, grpc_service, grpc_method
	handling *prometheus.HistogramVec // grpc_type, grpc_service, grpc_method

	methods methodTable
}

func newGRPCMetrics(buckets []float64) *GRPCMetrics {
	labels := []string{"grpc_type", "grpc_service", "grpc_method"}
	return &GRPCMetrics{
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_started_total",
			Help: "Total number of RPCs started on the server.",
		}, labels),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_handled_total",
			Help: "Total number of RPCs completed on the server, regardless of success or failure.",
		}, append(labels[:3:3], "grpc_code")),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_msg_received_total",
			Help: "Total number of RPC stream messages received on the server.",
		}, labels),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_msg_sent_total",
			Help: "Total number of gRPC stream messages sent by the server.",
		}, labels),
		handling: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "grpc_server_handling_seconds",
			Help:    "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
			Buckets: buckets,
		}, labels),
	}
}

// Describe implements prometheus.Collector.
func (m *GRPCMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.started.Describe(ch)
	m.handled.Describe(ch)
	m.received.Describe(ch)
	m.sent.Describe(ch)
	m.handling.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *GRPCMetrics) Collect(ch chan<- prometheus.Metric) {
	m.started.Collect(ch)
	m.handled.Collect(ch)
	m.received.Collect(ch)
	m.sent.Collect(ch)
	m.handling.Collect(ch)
}

// InitializeMetrics makes every series of every method registered on
// server exist at zero: started, received, sent, the histogram, and
// handled for every code.
func (m *GRPCMetrics) InitializeMetrics(server reflection.ServiceInfoProvider) {
	for service, info := range server.GetServiceInfo() {
		for _, mi := range info.Methods {
			typ := string(methodType(mi.IsClientStream, mi.IsServerStream))
			m.started.WithLabelValues(typ, service, mi.Name)
			m.received.WithLabelValues(typ, service, mi.Name)
			m.sent.WithLabelValues(typ, service, mi.Name)
			m.handling.WithLabelValues(typ, service, mi.Name)
			for _, c := range interceptors.AllCodes {
				m.handled.WithLabelValues(typ, service, mi.Name, c.String())
			}
		}
	}
}

// methodType is the grpc_type of a method, as go-grpc-middleware names it.
func methodType(clientStream, serverStream bool) interceptors.GRPCType {
	switch {
	case !clientStream && !serverStream:
		return interceptors.Unary
	case clientStream && !serverStream:
		return interceptors.ClientStream
	case !clientStream && serverStream:
		return interceptors.ServerStream
	}
	return interceptors.BidiStream
}

// methodSeries are one method's series. Each is made (and so appears on
// /metrics) when first used, as with label lookups per call.
type methodSeries struct {
	m                    *GRPCMetrics
	typ, service, method string

	started, received, sent lazyCounter
	handling                atomic.Pointer[prometheus.Observer]
	handled                 [codes.Unauthenticated + 1]lazyCounter // by code
}

type lazyCounter struct {
	p atomic.Pointer[prometheus.Counter]
}

// get returns the counter, made by mk the first time.
func (l *lazyCounter) get(mk func() prometheus.Counter) prometheus.Counter {
	if c := l.p.Load(); c != nil {
		return *c
	}
	c := mk() // the same counter however many goroutines race here
	l.p.Store(&c)
	return c
}

func (s *methodSeries) incStarted() {
	s.started.get(func() prometheus.Counter { return s.m.started.WithLabelValues(s.typ, s.service, s.method) }).Inc()
}

func (s *methodSeries) incReceived() {
	s.received.get(func() prometheus.Counter { return s.m.received.WithLabelValues(s.typ, s.service, s.method) }).Inc()
}

func (s *methodSeries) incSent() {
	s.sent.get(func() prometheus.Counter { return s.m.sent.WithLabelValues(s.typ, s.service, s.method) }).Inc()
}

// handledCall records a finished call: handled by code, and its duration.
func (s *methodSeries) handledCall(code codes.Code, seconds float64) {
	mk := func() prometheus.Counter {
		return s.m.handled.WithLabelValues(s.typ, s.service, s.method, code.String())
	}
	if int(code) < len(s.handled) {
		s.handled[code].get(mk).Inc()
	} else {
		mk().Inc()
	}
	o := s.handling.Load()
	if o == nil {
		h := s.m.handling.WithLabelValues(s.typ, s.service, s.method)
		s.handling.Store(&h)
		o = &h
	}
	(*o).Observe(seconds)
}

// ServerReporter implements interceptors.ServerReportable: the call's
// reporter is its method's series.
func (m *GRPCMetrics) ServerReporter(ctx context.Context, c interceptors.CallMeta) (interceptors.Reporter, context.Context) {
	return m.series(c), ctx
}

// series returns the call's method series, the call counted as started.
func (m *GRPCMetrics) series(c interceptors.CallMeta) *methodSeries {
	s := m.methods.get(methodKey{c.Service, c.Method, c.Typ}, m)
	s.incStarted()
	return s
}

// PostCall implements interceptors.Reporter: handled by code, and the
// duration. A code is as grpc-go tells the client (a context error is
// CANCELED or DEADLINE_EXCEEDED), as providers/prometheus has it.
func (s *methodSeries) PostCall(err error, d time.Duration) {
	st, ok := status.FromError(err)
	if !ok {
		st = status.FromContextError(err)
	}
	s.handledCall(st.Code(), d.Seconds())
}

// PostMsgSend implements interceptors.Reporter.
func (s *methodSeries) PostMsgSend(_ any, err error, _ time.Duration) {
	if err == nil {
		s.incSent()
	}
}

// PostMsgReceive implements interceptors.Reporter.
func (s *methodSeries) PostMsgReceive(_ any, err error, _ time.Duration) {
	if err == nil {
		s.incReceived()
	}
}

// methodKey names a method's series.
type methodKey struct {
	service, method string
	typ             interceptors.GRPCType
}

// methodTable maps a method to its series, made once. It only grows by
// the methods grpc-go calls the interceptors for (the registered ones,
// unless an unknown-service handler is installed); past maxMethods, the
// series are looked up but not kept, so a client inventing names cannot
// grow it.
type methodTable struct {
	mu sync.Mutex                                  // serialises writers
	m  atomic.Pointer[map[methodKey]*methodSeries] // copy on write
}

const maxMethods = 1024

func (t *methodTable) get(k methodKey, gm *GRPCMetrics) *methodSeries {
	if m := t.m.Load(); m != nil {
		if s := (*m)[k]; s != nil {
			return s
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var old map[methodKey]*methodSeries
	if p := t.m.Load(); p != nil {
		old = *p
	}
	if s := old[k]; s != nil {
		return s
	}
	s := &methodSeries{m: gm, typ: string(k.typ), service: k.service, method: k.method}
	if len(old) >= maxMethods {
		return s
	}
	next := make(map[methodKey]*methodSeries, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[k] = s
	t.m.Store(&next)
	return s
}
