package server

import (
	"io"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewHTTPHandler serves the operations endpoints for --metrics-addr:
//
//	/metrics        Prometheus text format from reg
//	/healthz        200 "ok" while the process runs (liveness)
//	/readyz         200 "ready" when ready() is true, else 503 "not ready"
//	                (readiness: flip it off at the start of a graceful drain);
//	                a nil ready means always ready
//	/debug/pprof/*  the net/http/pprof handlers, only when pprof is true
//
// Everything else is 404.
func NewHTTPHandler(reg prometheus.Gatherer, ready func() bool, pprofOn bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	addHealth(mux, ready)
	if pprofOn {
		mux.HandleFunc("/debug/pprof/", pprof.Index) // also serves the named profiles
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// NewHealthHandler serves /healthz and /readyz alone, as NewHTTPHandler
// does, for --health-addr: probes that need no metrics, and a port that
// shows nothing else.
func NewHealthHandler(ready func() bool) http.Handler {
	mux := http.NewServeMux()
	addHealth(mux, ready)
	return mux
}

func addHealth(mux *http.ServeMux, ready func() bool) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		plain(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ready == nil || ready() {
			plain(w, http.StatusOK, "ready\n")
			return
		}
		plain(w, http.StatusServiceUnavailable, "not ready\n")
	})
}

func plain(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}
