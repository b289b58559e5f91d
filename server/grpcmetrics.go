package server

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
)

// GRPCMetrics are the grpc_server_* metrics: the same names, help, labels
// and series as go-grpc-middleware's providers/prometheus ServerMetrics
// (with the handling-time histogram), which this server used to install.
// They are recorded by the interceptor chain (interceptors.go) through
// series looked up once per method rather than by label values per call:
// a label lookup hashes its values and takes a lock, several times a call.
type GRPCMetrics struct {
	started  *prometheus.CounterVec   // grpc_type, grpc_service, grpc_method
	handled  *prometheus.CounterVec   // ... and grpc_code
	received *prometheus.CounterVec   // grpc_type, grpc_service, grpc_method
	sent     *prometheus.CounterVec   // grpc_type, grpc_service, grpc_method
	handling *prometheus.HistogramVec // grpc_type, grpc_service, grpc_method
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

// streamType is the grpc_type of a stream method; a method registered as
// a stream that streams neither way is a bidi stream to go-grpc-middleware
// (its interceptor never calls a stream unary), and so it is here.
func streamType(info *grpc.StreamServerInfo) interceptors.GRPCType {
	if !info.IsClientStream && !info.IsServerStream {
		return interceptors.BidiStream
	}
	return methodType(info.IsClientStream, info.IsServerStream)
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

// splitMethod splits "/service/method" as go-grpc-middleware does.
func splitMethod(fullMethod string) (service, method string) {
	fullMethod = strings.TrimPrefix(fullMethod, "/")
	if i := strings.Index(fullMethod, "/"); i >= 0 {
		return fullMethod[:i], fullMethod[i+1:]
	}
	return "unknown", "unknown"
}

// methodTable maps a full method name to what the interceptors need of
// it, computed once. It only grows by the methods grpc-go calls the
// interceptors for (the registered ones, unless an unknown-service handler
// is installed); past maxMethods, names are looked up but not kept, so a
// client inventing names cannot grow it.
type methodTable struct {
	mk func(fullMethod string, typ interceptors.GRPCType) *methodInfo

	mu sync.Mutex                             // serialises writers
	m  atomic.Pointer[map[string]*methodInfo] // copy on write
}

const maxMethods = 1024

func (t *methodTable) get(fullMethod string, typ interceptors.GRPCType) *methodInfo {
	if m := t.m.Load(); m != nil {
		if mi := (*m)[fullMethod]; mi != nil && mi.typ == typ {
			return mi
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.m.Load()
	if old != nil {
		if mi := (*old)[fullMethod]; mi != nil && mi.typ == typ {
			return mi
		}
	}
	mi := t.mk(fullMethod, typ)
	if old != nil && len(*old) >= maxMethods {
		return mi
	}
	next := make(map[string]*methodInfo, 1+len(ptrMap(old)))
	for k, v := range ptrMap(old) {
		next[k] = v
	}
	next[fullMethod] = mi
	t.m.Store(&next)
	return mi
}

func ptrMap(m *map[string]*methodInfo) map[string]*methodInfo {
	if m == nil {
		return nil
	}
	return *m
}
