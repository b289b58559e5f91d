package main

import (
	"cmp"
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/internal/grpcopts"
	"github.com/halfclose/halfclose/server"
)

// Keepalive settings besides --keepalive-min-time: the server pings a
// connection idle for keepaliveTime and drops it when the ping is not
// answered within keepaliveTimeout, so dead peers free their slots.
const (
	keepaliveTime    = time.Minute
	keepaliveTimeout = 20 * time.Second
	// maxStreamWorkers caps the gRPC stream workers (idle goroutines).
	maxStreamWorkers = 256
	// httpShutdownWait bounds the last scrapes and probes after the drain.
	httpShutdownWait = 2 * time.Second
	// httpReadHeaderTimeout bounds a probe's or scrape's request header.
	httpReadHeaderTimeout = 10 * time.Second
	// httpIdleTimeout closes a keep-alive connection of the health or
	// metrics port that has sent no request for this long; net/http's
	// default (none) kept every one open for good, a descriptor and a
	// goroutine each, on a port with no connection limit. Longer than a
	// Prometheus scrape interval (1m by default), so a scraper keeps its
	// connection.
	httpIdleTimeout = 2 * time.Minute
)

// daemon is a configured halfclosed: its listeners are open, nothing is
// served until Run.
type daemon struct {
	cfg    *config
	log    *slog.Logger
	logBuf *logBuffer // nil: lines are written at once
	svc    server.Service
	grpc   *grpc.Server
	health *health.Server
	tcp    *server.TCPServer
	https  []httpEndpoint // --metrics-addr, --health-addr
	ready  atomic.Bool    // /readyz; false from the start of the drain
	// spoolWatched: the start made a spill file, so /readyz also says
	// whether the spool still can (readyNow), and gRPC health follows it
	// (watchSpool); spoolDown is what they saw last, for the log lines
	// of its changes; spoolProbing is set while a /readyz tries a spill
	// file, spoolRetrying while watchSpool does.
	spoolWatched  bool
	spoolMu       sync.Mutex // protects spoolDown, and orders its log lines
	spoolDown     bool
	spoolProbing  atomic.Bool
	spoolRetrying atomic.Bool
	// closing is set when the listeners start to close: a Serve that
	// returns then has not failed.
	closing atomic.Bool
	// endDrainDelay ends --drain-delay early when closed; only tests do.
	endDrainDelay chan struct{}
	// hurried is closed by hurry: a second signal ends the drain delay
	// and the shutdown grace at once.
	hurried   chan struct{}
	hurryOnce sync.Once

	// Each listen address is a socket on each address its host names
	// (listenName): the listeners of one address are served alike, and
	// share every cap.
	grpcL             []*server.GentleListener
	grpcReadBuf       int                   // the read buffer of server.NewGRPCListener's connections
	grpcConns         server.GRPCConnLimits // the caps of server.NewGRPCListener's connections
	tcpL              listeners             // nil when --tcp-addr is empty
	metricsL, healthL listeners             // nil when disabled (or shared)
	routes            []routeListener

	// reloader re-reads the certificate, client CA and token files when
	// they change, every server.ReloadInterval while Run runs; nil when
	// there are none.
	reloader *server.Reloader
}

// httpEndpoint is one of the HTTP servers: metrics (with health), or
// health alone.
type httpEndpoint struct {
	name string // for the "listening" log line
	l    listeners
	srv  *http.Server
}

type routeListener struct {
	l     listeners
	route route
}

// security is what --tls-*, --auth-token-file and --rate-limit load, and
// the per-peer caps both adapters share.
type security struct {
	tls  *server.ServerTLS // nil: plaintext
	auth *server.TokenAuth
	// The stats of the files tls and auth were read from, taken before
	// the read: a change landing during the start is reloaded.
	tlsStamps, caStamps, authStamps server.FileStamps
	limiter                         *server.PeerLimiter
	peerJobs                        *server.PeerCap
	peerRequests                    *server.PeerCap
}

// newServer builds the servers cfg describes and opens every listener, so
// that a bad address, certificate or token file fails before anything is
// served. On error, nothing is left open.
func newServer(cfg *config) (_ *daemon, err error) {
	d := &daemon{cfg: cfg, endDrainDelay: make(chan struct{}), hurried: make(chan struct{})}
	d.log, d.logBuf = cfg.logger()
	for _, w := range cfg.unknownEnv {
		d.log.Warn(w.text(), "variable", w.name)
	}
	defer func() {
		if err != nil {
			d.closeListeners()
			d.closeLog()
			// A listener, certificate or spool dir from a variable
			// is named by it.
			err = cfg.envVars.Name(err)
		}
	}()
	sec, err := cfg.loadSecurity()
	if err != nil {
		return nil, err
	}
	if err := cfg.checkSpoolDir(d.log); err != nil {
		return nil, err
	}
	d.spoolWatched = !cfg.engine.Config().Spool.Disk.Unusable()
	var (
		metrics *server.Metrics
		reg     *prometheus.Registry
	)
	if cfg.metricsAddr != "" {
		reg = server.NewRegistry()
		metrics = server.NewMetrics(reg)
		metrics.SpoolDisk(cfg.engine.Config().Spool.Disk)
	}
	if err := d.listen(); err != nil {
		return nil, err
	}
	d.newGRPC(sec, metrics)
	d.newTCP(sec, metrics)
	if d.metricsL != nil {
		d.https = append(d.https, httpEndpoint{"metrics", d.metricsL, &http.Server{
			Handler:           server.NewHTTPHandler(reg, d.readyNow, cfg.pprof),
			ReadHeaderTimeout: httpReadHeaderTimeout,
			IdleTimeout:       httpIdleTimeout,
		}})
	}
	if d.healthL != nil {
		d.https = append(d.https, httpEndpoint{"health", d.healthL, &http.Server{
			Handler:           server.NewHealthHandler(d.readyNow),
			ReadHeaderTimeout: httpReadHeaderTimeout,
			IdleTimeout:       httpIdleTimeout,
		}})
	}
	if sec.tls != nil {
		warnCertDates(d.log, cfg.tlsCert, sec.tls.Leaf(), time.Now())
		metrics.TLSCert(sec.tls)
	}
	d.reloader = d.newReloader(sec, metrics)
	if sec.auth != nil && cfg.tcpInsecure && (d.tcpL != nil || len(d.routes) > 0) {
		d.log.Warn("--tcp-insecure: the raw-TCP ports serve anyone who can connect, without a token or client certificate")
	}
	d.ready.Store(true)
	return d, nil
}

// loadSecurity reads the certificates and token file, and makes the rate
// limiter.
func (c *config) loadSecurity() (security, error) {
	var (
		sec security
		err error
	)
	if c.tlsCert != "" {
		sec.tlsStamps = server.Stamps(c.tlsCert, c.tlsKey)
		if c.tlsClientCA != "" {
			sec.caStamps = server.Stamps(c.tlsClientCA)
		}
		if sec.tls, err = server.NewServerTLS(c.tlsCert, c.tlsKey, c.tlsClientCA); err != nil {
			return sec, err
		}
	}
	if c.authTokenFile != "" {
		sec.authStamps = server.Stamps(c.authTokenFile)
		if sec.auth, err = server.LoadTokenFile(c.authTokenFile); err != nil {
			return sec, err
		}
	}
	if c.rateLimit > 0 {
		sec.limiter = server.NewPeerLimiter(c.rateLimit, c.rateBurst)
		sec.limiter.Keys = c.peerKeys()
	}
	sec.peerJobs = server.NewPeerCap(c.jobsPerPeer())
	sec.peerRequests = server.NewPeerCap(c.requestsPerPeer())
	return sec, nil
}

// newReloader watches the files sec was loaded from: a change is read,
// checked and logged as at start, and served only when good (see
// server.Reloader). Nil when there are none.
func (d *daemon) newReloader(sec security, metrics *server.Metrics) *server.Reloader {
	if sec.tls == nil && sec.auth == nil {
		return nil
	}
	r := &server.Reloader{Log: d.log, Metrics: metrics}
	if d.logBuf != nil {
		r.Flush = func() { d.logBuf.Flush() }
	}
	if sec.tls != nil {
		certFile, keyFile, caFile := sec.tls.Files()
		r.Watch(server.ReloadCert, []string{certFile, keyFile}, sec.tlsStamps, func() ([]any, error) {
			leaf, err := sec.tls.ReloadCert()
			if err != nil {
				return nil, err
			}
			warnCertDates(d.log, certFile, leaf, time.Now())
			return []any{"serial", opensslSerial(leaf.SerialNumber), "not_after", leaf.NotAfter.UTC()}, nil
		})
		if caFile != "" {
			r.Watch(server.ReloadClientCA, []string{caFile}, sec.caStamps, func() ([]any, error) {
				return nil, sec.tls.ReloadClientCA()
			})
		}
	}
	if sec.auth != nil {
		r.Watch(server.ReloadToken, []string{sec.auth.Path()}, sec.authStamps, func() ([]any, error) {
			if err := sec.auth.Reload(); err != nil {
				return nil, err
			}
			return []any{"tokens", sec.auth.Len()}, nil
		})
	}
	return r
}

// checkSpoolDir creates a spill file in --spool-dir as a job does
// (compute.SpoolConfig.TempFile: on Linux one that never has a name), so
// that a directory that is missing, not a directory or not writable fails
// the start (status 1) rather than every job that spills later
// (UNAVAILABLE). The check created and removed a named file, which a server
// killed between the two left there, and which did not try the jobs' way
// (O_TMPFILE). The default, the system temp dir, only warns: a server
// whose jobs never spill runs without it (and its /readyz does not ask
// the spool: readyNow).
func (c *config) checkSpoolDir(log *slog.Logger) error {
	sc := compute.SpoolConfig{Dir: c.spoolDir}
	if c.engine != nil {
		sc = c.engine.Config().Spool // its disk budget records the result
	}
	dir := cmp.Or(sc.Dir, os.TempDir())
	f, err := sc.TempFile()
	if err == nil {
		f.Close()
	} else {
		err = spoolCause(err) // the system's reason, not the job's "spool: ..."
	}
	switch {
	case err == nil:
		return nil
	case c.spoolDir == "":
		log.Warn("spill files cannot be created in the system temp dir: jobs that spill will fail; set --spool-dir", "dir", dir, "err", err)
		return nil
	}
	return fmt.Errorf("--spool-dir %s: cannot create a spill file: %w", c.spoolDir, err)
}

// spoolCause is the system's reason of a spill file's failure (the
// *os.PathError: "open /spool: no such file or directory"), or err.
func spoolCause(err error) error {
	if pe := (*os.PathError)(nil); errors.As(err, &pe) {
		return pe
	}
	return err
}

// errSpoolProbing is why /readyz says not ready while another /readyz
// still tries a spill file.
var errSpoolProbing = errors.New("the last try to create a spill file has not returned")

// readyNow is /readyz: ready until the drain starts, and while the
// spool can make spill files, if it could at the start. A spool whose
// last spill file could not be created for a reason other than room (the
// directory removed or replaced, the file system read-only or failing:
// compute.DiskBudget.Unusable) fails every job that spills, UNAVAILABLE,
// where another server would run it: a balancer should send the jobs
// elsewhere until it is mended. Each call then tries a spill file, and
// the first that can be made makes the server ready again; a full disk,
// or a lack of descriptors, passes and is no reason (RESOURCE_EXHAUSTED,
// as the --spool-disk budget). The changes are logged.
//
// One /readyz tries at a time; the others meanwhile say not ready, as
// the spool was when the try began. On a spool whose disk hangs (an NFS
// server gone, a disk failing in D state) each try's open waits
// forever, holding a thread: every probe of a kubelet and a balancer
// added one, until the runtime's 10000 threads ended the process.
func (d *daemon) readyNow() bool {
	if !d.ready.Load() {
		return false
	}
	if !d.spoolWatched {
		return true
	}
	if !d.cfg.engine.Config().Spool.Disk.Unusable() {
		d.noteSpool(nil)
		return true
	}
	if !d.spoolProbing.CompareAndSwap(false, true) {
		d.noteSpool(errSpoolProbing)
		return false
	}
	// The try's answer is the mark it leaves: a create that fails for
	// room (ENOSPC: the directory is back, only full) ends it, as one
	// that succeeds does, and a full disk leaves /readyz alone.
	return !d.noteSpool(d.trySpool(&d.spoolProbing))
}

// trySpool creates and closes a spill file, which clears the spool's
// unusable mark when it can (compute.SpoolConfig.TempFile), and then
// ends the try the caller began (trying, which it set).
func (d *daemon) trySpool(trying *atomic.Bool) error {
	defer trying.Store(false)
	sc := d.cfg.engine.Config().Spool
	f, err := sc.TempFile()
	if err == nil {
		f.Close()
	}
	return err
}

// noteSpool logs the spool's changes and reports whether it is down
// (compute.DiskBudget.Unusable). It reads the mark itself, under spoolMu,
// rather than trust its caller's try: a try's result may be stale by
// then (a job's spill file has mended the spool since), and a failure
// may have ended the mark (ENOSPC: full, not broken), so a caller's
// failure logged "not ready" last while the spool was ready. Once it
// returns, the line of the change it saw is written, whoever wrote it
// (a /readyz, watchSpool or its try). err, a try's failure, is the
// cause named when the mark has none.
func (d *daemon) noteSpool(err error) (down bool) {
	disk := d.cfg.engine.Config().Spool.Disk
	d.spoolMu.Lock()
	defer d.spoolMu.Unlock()
	down = disk.Unusable()
	if d.spoolDown == down {
		return down
	}
	d.spoolDown = down
	dir := cmp.Or(d.cfg.engine.Config().Spool.Dir, os.TempDir())
	if !down {
		d.log.Info("spill files can be created again: ready", "dir", dir)
		return down
	}
	if cause := disk.Cause(); cause != nil {
		err = cause
	}
	d.log.Error("spill files cannot be created: not ready until they can", "dir", dir, "err", spoolCause(err))
	return down
}

// spoolRetryEvery is how often watchSpool tries a spill file while the
// spool is unusable.
const spoolRetryEvery = time.Second

// watchSpool keeps gRPC health in step with /readyz's spool, until stop
// is closed: the server ("") and halfclose.v1.ComputeService are
// NOT_SERVING while the spool is unusable (compute.DiskBudget.Unusable),
// and SERVING again once a spill file can be created, so that clients
// and balancers that ask gRPC health (grpc-go's health checking Watches;
// grpc_health_probe, a kubelet's grpc probe Check) stop sending jobs
// that would fail UNAVAILABLE here. A Watch gets each change as it
// happens: a job's spill file that could not be created marks the spool
// and wakes this (Changed). While it is marked, a spill file is tried
// every spoolRetryEvery, in a goroutine of its own and only when its
// last try has returned: on a disk that hangs, that goroutine waits in
// its open (a thread; a /readyz's try may hold one more), and no health
// call ever waits on it. Its tries are apart from /readyz's, whose own
// try is its answer: one under way here would have made a /readyz that
// came meanwhile answer 503 on a mended spool. A drain's NOT_SERVING
// (health.Shutdown) stays: grpc-go ignores the statuses set after it.
func (d *daemon) watchSpool(stop <-chan struct{}) {
	disk := d.cfg.engine.Config().Spool.Disk
	down := false // as newGRPC set the statuses
	for {
		changed := disk.Changed()
		if now := disk.Unusable(); now != down {
			down = now
			st := healthpb.HealthCheckResponse_SERVING
			if down {
				st = healthpb.HealthCheckResponse_NOT_SERVING
			}
			d.noteSpool(nil) // logged before a Watch is told
			for _, name := range healthServices {
				d.health.SetServingStatus(name, st)
			}
		}
		if !down {
			select {
			case <-changed:
				continue
			case <-stop:
				return
			}
		}
		if d.spoolRetrying.CompareAndSwap(false, true) {
			go func() {
				d.noteSpool(d.trySpool(&d.spoolRetrying))
			}()
		}
		t := time.NewTimer(spoolRetryEvery)
		select {
		case <-changed:
		case <-t.C:
		case <-stop:
			t.Stop()
			return
		}
		t.Stop()
	}
}

// healthServices are the services gRPC health tells of: the server ("")
// and ComputeService by name, as clients that check their service's
// health ask.
var healthServices = []string{"", apiv1.ComputeService_ServiceDesc.ServiceName}

// spoolHealth is gRPC health whose Check of healthServices says
// NOT_SERVING while the spool is unusable (down), without waiting for
// watchSpool to have set it: a job's spill file that could not be
// created has marked it, whatever a Check asks next.
type spoolHealth struct {
	healthpb.HealthServer
	down func() bool
}

func (h spoolHealth) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	r, err := h.HealthServer.Check(ctx, req)
	if err == nil && r.GetStatus() == healthpb.HealthCheckResponse_SERVING && slices.Contains(healthServices, req.GetService()) && h.down() {
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING}, nil
	}
	return r, err
}

// List tells healthServices NOT_SERVING while the spool is unusable, as
// Check does: a client that lists the statuses sees what one that checks
// them sees.
func (h spoolHealth) List(ctx context.Context, req *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	r, err := h.HealthServer.List(ctx, req)
	if err != nil || !h.down() {
		return r, err
	}
	for _, svc := range healthServices {
		if st := r.GetStatuses()[svc]; st.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			r.Statuses[svc] = &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING}
		}
	}
	return r, nil
}

// listen opens every listener the flags name. An error names the flag
// and its value: a port in use, or one that is not a port, is otherwise
// told as "listen tcp 127.0.0.1:50053: bind: address already in use",
// which does not say that this is --health-addr's default, the usual
// clash of a second server on one host.
func (d *daemon) listen() error {
	gl, err := listenFlag(d.log, "--grpc-addr", d.cfg.grpcAddr)
	if err != nil {
		return err
	}
	// Closed gently after the drain delay: see shutdown.
	for _, l := range gl {
		d.grpcL = append(d.grpcL, server.NewGentleListener(l))
	}
	if d.cfg.tcpAddr != "" {
		if d.tcpL, err = listenFlag(d.log, "--tcp-addr", d.cfg.tcpAddr); err != nil {
			return err
		}
	}
	for _, r := range d.cfg.routes() {
		ls, skipped, err := listenName(r.addr)
		if err != nil {
			return fmt.Errorf("--tcp-route %q: %w", r.addr+"="+r.pipeline, err)
		}
		d.routes = append(d.routes, routeListener{ls, r})
		warnSkipped(d.log, "--tcp-route", r.addr, ls, skipped)
	}
	if d.cfg.metricsAddr != "" {
		if d.metricsL, err = listenFlag(d.log, "--metrics-addr", d.cfg.metricsAddr); err != nil {
			return err
		}
	}
	if d.cfg.healthAddr != "" && !d.cfg.healthOnMetrics() {
		if d.healthL, err = listenFlag(d.log, "--health-addr", d.cfg.healthAddr); err != nil {
			return err
		}
	}
	return nil
}

// closeListeners closes the listeners listen opened.
func (d *daemon) closeListeners() {
	for _, l := range d.grpcL {
		l.Close()
	}
	for _, ls := range []listeners{d.tcpL, d.metricsL, d.healthL} {
		ls.close()
	}
	for _, r := range d.routes {
		r.l.close()
	}
}

// newGRPC builds the gRPC server: the ComputeService, health, reflection.
func (d *daemon) newGRPC(sec security, metrics *server.Metrics) {
	cfg := d.cfg
	d.svc = server.NewComputeService(cfg.engine, server.Options{
		IdleTimeout: cfg.idleTimeout,
		MaxMsgBytes: int(cfg.maxMsgBytes),
		Logger:      d.log,
		Observer:    server.NewObserver(metrics),
		RequireEnd:  cfg.requireEnd,
		// The first message of a stream is its header, as the TCP
		// header line is.
		HeaderTimeout: cfg.headerTimeout,
		PeerJobs:      sec.peerJobs,
		PeerRequests:  sec.peerRequests,
		// An address's share of it is off where --max-requests-per-peer
		// is (behind a proxy), and leaves its calls over its jobs room to
		// wait for a slot.
		Streams:  server.NewStreamCap(cfg.grpcRequests(), cfg.grpcRequestsPerPeer()),
		PeerKeys: cfg.peerKeys(),
		// Metadata over --max-metadata-bytes is refused with a status
		// naming the limit; the HTTP/2 layer refuses only what is far
		// over it (MetadataTransportLimit).
		MaxMetadataBytes: int(cfg.maxMetadataBytes),
		// For Capabilities: the line a TCP client's header must fit.
		TCPMaxHeaderBytes: cfg.tcpMaxHeaderBytes(),
		// For Capabilities: what the options below, the connection
		// limiter, the rate limiter and the raw-TCP adapter enforce.
		Edge: cfg.edgeLimits(),
	})
	opts := append(grpcopts.ServerOptions(),
		grpc.InTapHandle(d.svc.TapHandle),
		server.CodecOption(),
		grpc.MaxConcurrentStreams(uint32(cfg.grpcMaxStreams)),
		grpc.MaxHeaderListSize(server.MetadataTransportLimit(int(cfg.maxMetadataBytes))),
		grpc.MaxRecvMsgSize(int(cfg.maxMsgBytes)),
		grpc.MaxSendMsgSize(int(cfg.maxMsgBytes)),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             keepaliveMinTime(cfg.keepaliveMinTime),
			PermitWithoutStream: true,
		}),
		// A connection with no call for --grpc-conn-idle is
		// closed (GOAWAY): it holds a place of --grpc-max-conns and of
		// its address's --grpc-max-conns-per-peer, and a client that
		// leaks connections (a channel made per call, never closed)
		// would otherwise fill its share for good.
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: keepaliveTime, Timeout: keepaliveTimeout, MaxConnectionIdle: cfg.grpcConnIdle}),
		// Calls run on long-lived goroutines whose stacks have grown already
		// (a new goroutine per call grows its stack anew: a few percent of
		// the CPU of small calls); calls past the workers get their own.
		grpc.NumStreamWorkers(uint32(min(cfg.maxJobs, maxStreamWorkers))),
		// A new connection's TLS handshake and HTTP/2 preface must come
		// within --header-timeout, as a TCP connection's handshake and
		// header line: grpc-go's default held a client that sent nothing
		// (or stalled mid-handshake) for 120 s.
		grpc.ConnectionTimeout(cfg.headerTimeout),
	)
	if sec.tls != nil {
		// The connections count the DATA bytes they decrypt: a message
		// still arriving renews its stream's --idle-timeout.
		opts = append(opts, grpc.Creds(server.CountingCreds(credentials.NewTLS(sec.tls.Config("h2")))))
	} else {
		// The connections buffer their own raw reads (server.NewGRPCListener):
		// grpc-go's buffer would copy every byte once more. Under TLS,
		// grpc-go buffers what it decrypts, and the reads go through.
		d.grpcReadBuf = server.GRPCReadBufSize
		opts = append(opts, grpc.ReadBufferSize(0))
	}
	if !cfg.noInterceptors {
		opts = append(opts, server.ChainOptions(server.ChainConfig{
			Logger:    d.log,
			Metrics:   metrics,
			Auth:      sec.auth,
			RateLimit: sec.limiter,
		})...)
	}
	d.grpc = grpc.NewServer(opts...)
	d.grpcConns = server.GRPCConnLimits{
		Max:      cfg.grpcMaxConns,
		PerPeer:  server.NewPeerCap(cfg.grpcConnsPerPeerCap()),
		Keys:     cfg.peerKeys(),
		Logger:   d.log,
		Observer: server.NewObserver(metrics),
		Conns:    metrics.GRPCConns(),
	}
	apiv1.RegisterComputeServiceServer(d.grpc, d.svc)
	d.health = health.NewServer()
	// The server ("") and the service by name (healthServices); the
	// drain turns both NOT_SERVING, and so does an unusable spool
	// (watchSpool).
	d.health.SetServingStatus(apiv1.ComputeService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	// Its Watch calls end with UNAVAILABLE when the drain ends them
	// (shutdown), not to hold the graceful stop for the whole grace.
	healthpb.RegisterHealthServer(d.grpc, server.DrainingHealth(spoolHealth{d.health, func() bool {
		return d.spoolWatched && d.cfg.engine.Config().Spool.Disk.Unusable()
	}}))
	reflection.Register(d.grpc) // v1 and v1alpha
	if sm := metrics.ServerMetrics(); sm != nil {
		sm.InitializeMetrics(d.grpc)
	}
}

// newTCP builds the raw-TCP adapter of the command port and the routes.
func (d *daemon) newTCP(sec security, metrics *server.Metrics) {
	cfg := d.cfg
	d.tcp = &server.TCPServer{
		Engine:         cfg.engine,
		HeaderTimeout:  cfg.headerTimeout,
		IdleTimeout:    cfg.idleTimeout,
		MaxHeaderBytes: int(cfg.maxHeaderBytes),
		MaxConns:       cfg.maxConns,
		Logger:         d.log,
		Observer:       server.NewObserver(metrics),
		ConnHook:       metrics.ConnHook(),
		RequireEnd:     cfg.requireEnd,
		NoSendFile:     !cfg.tcpSendfile,
		RawAccept:      cfg.tcpRawAccept,
		RecvLowat:      recvLowat(cfg.tcpRecvLowat),
		FinWait:        cfg.tcpFinWait,
		PeerJobs:       sec.peerJobs,
		PeerRequests:   sec.peerRequests,
		PeerKeys:       cfg.peerKeys(),
		// With tokens on gRPC, the command port wants one too (@token),
		// unless client certificates are its credential (mTLS) or the
		// operator said --tcp-insecure. (Route ports have no header: the
		// configuration is refused unless mTLS or --tcp-insecure.)
		Auth:         sec.auth,
		RequireToken: sec.auth != nil && cfg.tlsClientCA == "" && !cfg.tcpInsecure,
	}
	if sec.tls != nil {
		d.tcp.TLSConfig = sec.tls.Config()
	}
	if sec.limiter != nil {
		d.tcp.Allow = sec.limiter.Allow
	}
}

// Run serves until ctx is done, then drains (see shutdown). It returns nil
// after a drain that ctx started, or the error that stopped a server.
func (d *daemon) Run(ctx context.Context) error {
	defer d.closeLog()
	g, gctx := errgroup.WithContext(ctx)
	// The listeners are open: say so at once (the log is otherwise
	// written in batches), for the operator and for scripts waiting on it.
	d.log.Info("grpc listening", append(d.grpcListeners().logAttrs(), "tls", d.cfg.tlsCert != "")...)
	if d.tcpL != nil {
		d.log.Info("tcp command port listening", append(d.tcpL.logAttrs(), "tls", d.cfg.tlsCert != "")...)
	}
	for _, r := range d.routes {
		d.log.Info("tcp route listening", append(r.l.logAttrs(), "pipeline", r.route.pipeline)...)
	}
	for _, h := range d.https {
		attrs := h.l.logAttrs()
		if h.name == "metrics" {
			attrs = append(attrs, "pprof", d.cfg.pprof)
		}
		d.log.Info(h.name+" listening", attrs...)
	}
	if d.logBuf != nil {
		d.logBuf.Flush()
	}

	if d.reloader != nil {
		// Until Run returns: connections are accepted through the drain
		// delay, and get the newest certificate.
		rctx, stopReload := context.WithCancel(context.Background())
		reloadDone := make(chan struct{})
		go func() {
			defer close(reloadDone)
			d.reloader.Run(rctx, server.ReloadInterval)
		}()
		defer func() {
			stopReload()
			<-reloadDone
		}()
	}
	if d.spoolWatched {
		// Until Run returns: an unusable spool is NOT_SERVING through
		// the drain delay too, as the drain made it.
		stopWatch := make(chan struct{})
		watchDone := make(chan struct{})
		go func() {
			defer close(watchDone)
			d.watchSpool(stopWatch)
		}()
		defer func() {
			close(stopWatch)
			<-watchDone
		}()
	}
	// One grpc-go server serves every socket of --grpc-addr, and their
	// connections share the caps (--grpc-max-conns and its share).
	for _, l := range server.NewGRPCListeners(d.grpcL, d.grpcReadBuf, keepaliveTimeout, d.grpcConns) {
		g.Go(func() error {
			err := d.grpc.Serve(l)
			if d.closing.Load() {
				return nil // the listener's drain is over: Accept said closed
			}
			return err
		})
	}
	// The TCP server counts the connections of all its sockets
	// (--max-conns) and stops them all.
	for _, l := range d.tcpL {
		g.Go(func() error { return ignoreClosed(d.tcp.Serve(l)) })
	}
	for _, r := range d.routes {
		for _, l := range r.l {
			g.Go(func() error { return ignoreClosed(d.tcp.ServeRoute(l, r.route.compiled)) })
		}
	}
	for _, h := range d.https {
		for _, l := range h.l {
			g.Go(func() error {
				if err := h.srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
					return err
				}
				return nil
			})
		}
	}
	g.Go(func() error {
		<-gctx.Done()
		d.shutdown(context.Cause(ctx))
		// The probes and scrapes are answered to the end.
		hctx, cancel := context.WithTimeout(context.Background(), httpShutdownWait)
		defer cancel()
		for _, h := range d.https {
			if h.srv.Shutdown(hctx) != nil {
				h.srv.Close()
			}
		}
		return nil
	})
	err := g.Wait()
	if ctx.Err() != nil && (err == nil || errors.Is(err, grpc.ErrServerStopped)) {
		d.log.Info("stopped")
		return nil
	}
	return err
}

// statusFlushWait is how long the gRPC calls cancelled when the shutdown
// grace ends have to send their UNAVAILABLE status before the connections
// are closed under them.
const statusFlushWait = time.Second

// shutdown drains, failing no job a listener accepted:
//
//  1. readiness (/readyz) and gRPC health turn NOT_SERVING together, and
//     for --drain-delay everything is served as before, so that load
//     balancers, Kubernetes endpoints and clients stop sending here while
//     nothing is refused yet;
//  2. the listeners stop accepting as gently as the kernel allows
//     (server.GentleListener: connections already queued are served, not
//     reset), and gRPC connections get GOAWAY (GracefulStop): refusing a
//     new stream is grpc-go's, which tells its client the stream was never
//     processed, so the client retries it elsewhere; every stream grpc-go
//     accepted runs;
//  3. running jobs have --shutdown-grace to finish; then the rest are
//     cancelled (gRPC: the calls fail with UNAVAILABLE, sent before the
//     connections close; TCP: an error
//     line, or a reset once output started), never with a partial result.
//
// hurry (a second signal) ends the drain delay and the grace at once.
// cause, when a signal ended Run's context, is named in the log.
func (d *daemon) shutdown(cause error) {
	delay, grace := d.cfg.drainDelay, d.cfg.shutdownGrace
	attrs := []any{"drain_delay", delay, "grace", grace}
	var sc signalCause
	if errors.As(cause, &sc) {
		attrs = append(attrs, "signal", sc.sig.String())
	}
	d.log.Info("shutting down", attrs...)
	d.ready.Store(false)
	d.health.Shutdown() // every service NOT_SERVING
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-d.endDrainDelay:
			t.Stop()
		case <-d.hurried:
			t.Stop()
		}
	}
	d.log.Info("closing the listeners")
	d.closing.Store(true)

	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	// A second signal ends the grace now: the jobs are cut as when it
	// runs out (an error, or a reset once output started), never by the
	// process's death, which would end a raw-TCP reply with a FIN.
	go func() {
		select {
		case <-d.hurried:
			cancel()
		case <-sctx.Done():
		}
	}()
	grpcDone := make(chan struct{})
	go func() {
		// The connections the kernel queued go to grpc-go before
		// GracefulStop, which would close (reset) any it is handed after,
		// and StopAccepting waits for grpc-go to begin serving those and
		// the ones it accepted just before (NewGRPCListener holds them).
		var stopping sync.WaitGroup
		for _, l := range d.grpcL {
			stopping.Go(func() { l.StopAccepting(sctx) })
		}
		stopping.Wait()
		// Health Watch and reflection calls run no job and last as
		// long as their clients like: ended now, they do not hold the
		// graceful stop to the end of the grace (grpcurl's Watch did,
		// then was cut by the forced stop).
		d.svc.Drain()
		d.grpc.GracefulStop()
		close(grpcDone)
	}()
	tcpDone := make(chan error, 1)
	go func() { tcpDone <- d.tcp.Shutdown(sctx) }()

	select {
	case <-grpcDone:
	case <-sctx.Done():
		d.log.Warn(d.cutReason() + "; cancelling running gRPC jobs")
		d.svc.Stop() // the jobs end with UNAVAILABLE
		// Their statuses must reach the clients before the connections
		// close, or a client (and a proxy, which turns the cut into a 502
		// or a REFUSED_STREAM) sees a broken connection instead of
		// "server is shutting down": GracefulStop ends by itself once
		// every cancelled stream has sent its status, within about the
		// cancellation's 100 ms. A stream whose client reads none of its
		// output cannot send its status behind that output, so after
		// statusFlushWait the connections are closed anyway.
		t := time.NewTimer(statusFlushWait)
		select {
		case <-grpcDone:
		case <-t.C:
			d.grpc.Stop()
			<-grpcDone
		}
		t.Stop()
	}
	if err := <-tcpDone; err != nil {
		d.log.Warn(d.cutReason() + "; cancelled running TCP jobs")
	}
}

// cutReason names what ended the grace, for the log line of the jobs it
// cut: its end, or a second signal.
func (d *daemon) cutReason() string {
	select {
	case <-d.hurried:
		return "second signal"
	default:
		return "shutdown grace over"
	}
}

// hurry ends the drain now: what --drain-delay and --shutdown-grace have
// left is skipped, and the running jobs are cancelled as when the grace
// runs out. main calls it on a second signal.
func (d *daemon) hurry() {
	d.hurryOnce.Do(func() {
		d.log.Warn("second signal: cancelling the running jobs now")
		close(d.hurried)
	})
}

// Addresses of the listeners, for tests; "" when disabled.
func (d *daemon) grpcAddr() string   { return d.grpcL[0].Addr().String() }
func (d *daemon) tcpAddr() string    { return d.tcpL.addr() }
func (d *daemon) httpAddr() string   { return d.metricsL.addr() }
func (d *daemon) healthAddr() string { return d.healthL.addr() }

// grpcListeners are grpcL as listeners.
func (d *daemon) grpcListeners() listeners {
	ls := make(listeners, len(d.grpcL))
	for i, l := range d.grpcL {
		ls[i] = l
	}
	return ls
}

func ignoreClosed(err error) error {
	if errors.Is(err, server.ErrServerClosed) {
		return nil
	}
	return err
}

// logger builds the slog.Logger the flags describe, writing to c.logOut
// (os.Stderr unless a test set it), through a logBuffer unless --log-flush
// is 0.
func (c *config) logger() (*slog.Logger, *logBuffer) {
	level, _ := c.slogLevel()
	hopts := &slog.HandlerOptions{Level: level}
	out := c.logOut
	if out == nil {
		out = os.Stderr
	}
	var buf *logBuffer
	if c.logFlush > 0 {
		buf = newLogBuffer(out, c.logFlush)
		out = buf
	}
	// slog's JSON or text handler's lines, the per-job ones encoded
	// without it (loghandler.go).
	h := newLineHandler(out, c.logFormat == "json", hopts)
	if buf != nil {
		h = flushHandler{h, buf}
	}
	return slog.New(h), buf
}

// closeLog writes out the buffered log lines; later lines go out at once.
func (d *daemon) closeLog() {
	if d.logBuf != nil {
		d.logBuf.Close()
	}
}

// warnCertDates logs a warning when the server's certificate (leaf, from
// file) is out of its dates at start: every client refuses it ("certificate
// has expired or is not yet valid"), while the server's own log said
// nothing. Not a refusal to start: a certificate valid from a minute ahead
// (a clock behind, a fresh renewal) soon is.
func warnCertDates(log *slog.Logger, file string, leaf *x509.Certificate, now time.Time) {
	switch {
	case leaf == nil:
	case now.After(leaf.NotAfter):
		log.Warn("--tls-cert: the certificate has expired: clients will refuse it", "file", file, "not_after", leaf.NotAfter.UTC())
	case now.Before(leaf.NotBefore):
		log.Warn("--tls-cert: the certificate is not valid yet: clients will refuse it until then", "file", file, "not_before", leaf.NotBefore.UTC())
	}
}

// keepaliveMinTime is --keepalive-min-time as grpc-go takes it: there a
// MinTime of 0 is its default of 5 minutes, where --keepalive-min-time 0
// (and Capabilities' keepalive_min_time_ms 0) means pings may come at any
// interval; the shortest MinTime there is says that.
func keepaliveMinTime(d time.Duration) time.Duration {
	if d == 0 {
		return time.Nanosecond
	}
	return d
}

// opensslSerial spells a certificate's serial number as `openssl x509
// -noout -serial` does (upper-case hex, two digits a byte: "0A", not 10),
// so that the reload's log line can be compared with what a new
// connection gets (docs/operations.md, "Rotating certificates and
// tokens"). big.Int's decimal String was another number to the eye:
// 1846...905 for openssl's 2057...57D9.
func opensslSerial(n *big.Int) string {
	sign := ""
	if n.Sign() < 0 {
		sign = "-"
	}
	b := new(big.Int).Abs(n).Bytes()
	if len(b) == 0 {
		b = []byte{0}
	}
	return sign + strings.ToUpper(hex.EncodeToString(b))
}
