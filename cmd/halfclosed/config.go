package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/cli"
	"github.com/halfclose/halfclose/internal/flagenv"
	"github.com/halfclose/halfclose/internal/hostport"
	"github.com/halfclose/halfclose/server"
)

// config is everything halfclosed is told by flags and HALFCLOSE_* variables.
type config struct {
	grpcAddr       string
	tcpAddr        string
	peerIPv6Prefix int
	tcpRoutes      flagenv.Strings
	metricsAddr    string
	healthAddr     string
	pprof          bool
	maxInputBytes  flagenv.Bytes
	maxJobs        int
	jobWait        time.Duration
	maxConns       int
	headerTimeout  time.Duration
	idleTimeout    time.Duration
	maxHeaderBytes flagenv.Bytes
	maxMsgBytes    flagenv.Bytes
	maxLineBytes   flagenv.Bytes
	spoolMem       flagenv.Bytes
	spoolDir       string
	spoolDisk      flagenv.Bytes
	shutdownGrace  time.Duration
	drainDelay     time.Duration
	tlsCert        string
	tlsKey         string
	tlsClientCA    string
	authTokenFile  string
	rateLimit      float64
	rateBurst      int
	logLevel       string
	logFormat      string
	logFlush       time.Duration
	gcPercent      int
	memoryLimit    flagenv.Bytes
	requireEnd     bool
	tcpSendfile    bool
	tcpRawAccept   string
	tcpRecvLowat   flagenv.Bytes
	tcpFinWait     time.Duration
	// Fairness and the gRPC edge (issue 13).
	maxJobsPerPeer     derivedInt // unset: derived from --max-jobs
	maxRequestsPerPeer derivedInt // unset: derived from --max-conns
	grpcMaxStreams     int
	grpcMaxConns       int
	grpcConnsPerPeer   derivedInt // unset: derived from --grpc-max-conns
	grpcConnIdle       time.Duration
	grpcMaxRequests    derivedInt // unset: derived from --max-jobs
	maxMetadataBytes   flagenv.Bytes
	tcpInsecure        bool

	keepaliveMinTime time.Duration
	// noInterceptors drops the gRPC middleware, for the benchmark that
	// measures its cost; a hidden flag.
	noInterceptors bool
	// help, version and generate ask for text instead of a server.
	help, version bool
	generate      string
	// printLimits asks for the memory bounds of a checked configuration
	// instead of a server (gc.go, writeLimits).
	printLimits bool

	// logOut receives the log; nil is os.Stderr. Not a flag: tests set it.
	logOut io.Writer
	// commands are the commands served: builtin.Registry(). Not a flag:
	// tests add their own commands to it.
	commands *compute.Registry

	// envVars are the flags set from their variables, for errors found
	// at start to name them (a listener, a certificate).
	envVars flagenv.Vars
	// unknownEnv are the HALFCLOSE_ variables no flag reads, warned of
	// at start.
	unknownEnv []envWarning

	// Made by validate from the flags above.
	engine    *engine.Engine
	routeList []route // --tcp-route, each pipeline compiled once
}

// defaultHealthAddr is --health-addr's default: on, and loopback, like
// the other listeners' defaults (the port follows the gRPC and TCP ones).
const defaultHealthAddr = "127.0.0.1:50053"

// route is one --tcp-route.
type route struct {
	addr, pipeline string
	compiled       *engine.Pipeline
}

// parseConfig reads the flags and HALFCLOSE_* variables. A bad command line
// is a usageError; with --help, --version or --generate the config is
// returned unchecked, for main to answer.
func parseConfig(args []string, stderr io.Writer) (*config, error) {
	c := defaultConfig()
	spec := newSpec(c)
	fs := spec.Flags
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		return nil, usageError{cli.ParseError(fs, err)}
	}
	// --help, --version and --generate read no variable: a bad one
	// failed them, and its error's hint was --help.
	if c.help || c.version || c.generate != "" {
		return c, nil
	}
	// After the command line: a flag given there wins, and its variable
	// is not read (nor added to, for --tcp-route).
	vars, err := flagenv.Apply(fs, envPrefix, spec.NoEnvNames()...)
	if err != nil {
		return nil, usageError{cli.EnvError(fs, err)}
	}
	c.envVars = vars
	c.unknownEnv = unknownEnv(spec, os.Environ())
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Errorf("unexpected argument %q (halfclosed takes only flags)", fs.Arg(0))}
	}
	if err := c.validate(); err != nil {
		// A value from a variable is named by it: the flag alone sent
		// the reader to a command line without it.
		return nil, usageError{vars.Name(err)}
	}
	return c, nil
}

// envPrefix begins halfclosed's variables: HALFCLOSE_MAX_JOBS for
// --max-jobs.
const envPrefix = "HALFCLOSE"

// clientEnvPrefix begins the halfclose client's variables
// (HALFCLOSE_CLIENT_ADDR): the client's own, which it checks itself.
const clientEnvPrefix = "HALFCLOSE_CLIENT_"

// otherEnv are the HALFCLOSE_ variables that no flag of halfclosed
// reads but the project's other programs do: the example clients'
// former name for the client's --addr, and the tests' switches. A
// server started with them must not warn.
var otherEnv = []string{
	"HALFCLOSE_ADDR",               // examples/: --addr's former name
	"HALFCLOSE_TEST_LONG",          // make test-long (internal/testenv)
	"HALFCLOSE_E2E_TOUR_NAMESPACE", // e2e: the tour's namespace
	"HALFCLOSE_GREP_SEED",          // compute/grep: a random test's seed
	"HALFCLOSE_GUNZIP_CASES",       // compute/text: gunzip window cases
	"HALFCLOSE_GUNZIP_SEED",        // compute/text: their seed
	"HALFCLOSE_PPROF_DIR",          // e2e: profiles of the streams test
}

// envWarning is a HALFCLOSE_ variable of the environment that no flag
// reads, and the variables it may have meant.
type envWarning struct {
	name, hint string // hint: compute.DidYouMean's, or ""
}

// text is the warning's words, with its hint: the start's log line and
// --print-limits' stderr say the same.
func (w envWarning) text() string {
	return "environment variable ignored: no flag of halfclosed reads it" + w.hint
}

// unknownEnv lists the HALFCLOSE_ variables of environ that halfclosed
// ignores: none of its flags' (spec), the client's (HALFCLOSE_CLIENT_*)
// or otherEnv. A misspelt one (HALFCLOSE_MAX_JOB=4) was ignored without
// a word and the server started with the default; it is warned of at
// start, the start going on: tools may set such variables.
func unknownEnv(spec *cli.Spec, environ []string) []envWarning {
	skip := spec.NoEnvNames()
	var names []string
	spec.Flags.VisitAll(func(f *flag.Flag) {
		if !slices.Contains(skip, f.Name) {
			names = append(names, flagenv.EnvName(envPrefix, f.Name))
		}
	})
	known := func(name string) bool {
		return slices.Contains(names, name) || slices.Contains(otherEnv, name) || len(name) >= len(clientEnvPrefix) && strings.EqualFold(name[:len(clientEnvPrefix)], clientEnvPrefix)
	}
	var out []envWarning
	for _, name := range flagenv.Unknown(environ, envPrefix, known) {
		out = append(out, envWarning{name: name, hint: compute.DidYouMean(name, names)})
	}
	return out
}

// defaultConfig holds the defaults of the flags whose type has no default
// argument (byte counts), and the commands served.
func defaultConfig() *config {
	return &config{
		maxInputBytes:    engine.DefaultMaxInputBytes,
		maxHeaderBytes:   server.DefaultMaxHeaderBytes,
		tcpRecvLowat:     server.DefaultRecvLowat,
		maxMsgBytes:      server.DefaultMaxMsgBytes,
		maxMetadataBytes: defaultMaxMetadataBytes,
		maxLineBytes:     compute.DefaultMaxLineBytes,
		spoolMem:         compute.DefaultSpoolMem,
		spoolDisk:        compute.DefaultSpoolDisk,
		commands:         builtin.Registry(),
	}
}

// usageError is a bad command line: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// newSpec defines halfclosed's flags into c and describes them for --help,
// the man page and the completions.
func newSpec(c *config) *cli.Spec {
	fs := flag.NewFlagSet("halfclosed", flag.ContinueOnError)
	fs.StringVar(&c.grpcAddr, "grpc-addr", "127.0.0.1:50051", "gRPC listen address")
	fs.StringVar(&c.tcpAddr, "tcp-addr", "127.0.0.1:50052", "raw-TCP command port address; empty disables")
	fs.Var(&c.tcpRoutes, "tcp-route", "a raw-TCP port whose whole stream is the input of PIPELINE (repeatable; one per line in the variable)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "address for /metrics, /healthz, /readyz; empty disables")
	fs.StringVar(&c.healthAddr, "health-addr", defaultHealthAddr, "address for /healthz and /readyz alone, plain HTTP; empty disables; in a container or pod listen on all interfaces, e.g. :50053")
	fs.BoolVar(&c.pprof, "pprof", false, "serve /debug/pprof on the metrics address")
	fs.Var(&c.maxInputBytes, "max-input-bytes", "input bytes per job")
	fs.IntVar(&c.maxJobs, "max-jobs", engine.DefaultMaxJobs, "jobs running at once")
	fs.DurationVar(&c.jobWait, "job-wait", engine.DefaultQueueWait, "how long a job over --max-jobs waits for a slot (0: refused at once)")
	fs.IntVar(&c.maxConns, "max-conns", server.DefaultMaxConns, "open connections on the TCP adapter")
	fs.DurationVar(&c.headerTimeout, "header-timeout", server.DefaultHeaderTimeout, "time for a new connection's TLS handshake and its TCP header line or gRPC HTTP/2 preface, and for a gRPC stream's first message")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", server.DefaultIdleTimeout, "abort a job whose client sends nothing (or reads nothing of its reply) for this long")
	fs.Var(&c.maxHeaderBytes, "max-header-bytes", "longest TCP header line")
	fs.Var(&c.maxMsgBytes, "max-msg-bytes", "largest gRPC message")
	fs.Var(&c.maxLineBytes, "max-line-bytes", "longest line grep, sort and uniq hold (a longer one fails the job with RESOURCE_EXHAUSTED)")
	fs.Var(&c.spoolMem, "spool-mem", "memory a job's reply or sort buffer holds before spilling to disk (sort rounds a smaller one up to 512KiB)")
	fs.StringVar(&c.spoolDir, "spool-dir", "", "directory for spill files (default: the system temp dir)")
	fs.Var(&c.spoolDisk, "spool-disk", "disk all jobs' spill files may use together")
	fs.DurationVar(&c.drainDelay, "drain-delay", 0, "after SIGTERM, how long to keep serving with /readyz and gRPC health NOT_SERVING before the listeners close (e.g. 5s behind a load balancer)")
	fs.DurationVar(&c.shutdownGrace, "shutdown-grace", 30*time.Second, "how long running jobs may finish once the listeners have closed")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "TLS certificate (PEM) for both adapters; re-read when it or the key changes")
	fs.StringVar(&c.tlsKey, "tls-key", "", "TLS private key (PEM); re-read when it or the certificate changes")
	fs.StringVar(&c.tlsClientCA, "tls-client-ca", "", "CA (PEM) that client certificates must chain to (mTLS); re-read when it changes")
	fs.StringVar(&c.authTokenFile, "auth-token-file", "", "file of bearer tokens, one a line: gRPC metadata, and @token on the TCP command port; re-read when it changes")
	fs.Float64Var(&c.rateLimit, "rate-limit", 0, "jobs per second per peer IP, on both adapters (0: no limit)")
	fs.IntVar(&c.rateBurst, "rate-burst", 20, "burst for --rate-limit")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "text", "text or json")
	fs.IntVar(&c.gcPercent, "gc-percent", defaultGCPercent, "Go GC target: heap growth over live data, in percent, before a collection (GOGC in the environment wins)")
	fs.Var(&c.memoryLimit, "memory-limit", "soft limit of the Go heap; the GC works harder near it (0: twice what --max-jobs one-stage gRPC jobs and the gRPC streams waiting for them may hold, plus 256MiB: see Memory in docs/operations.md; GOMEMLIMIT in the environment wins)")
	fs.DurationVar(&c.logFlush, "log-flush", 100*time.Millisecond, "write info and debug lines in batches at most this old (warnings and errors at once; 0: every line at once)")
	fs.DurationVar(&c.keepaliveMinTime, "keepalive-min-time", 10*time.Second, "shortest interval between a gRPC client's keepalive pings; a client pinging more often is disconnected")
	fs.DurationVar(&c.tcpFinWait, "tcp-fin-wait", server.DefaultFinWait, "after a raw-TCP reply or error line and the server's FIN, how long to read and drop what the client still sends, waiting for its FIN, before closing (a close with input unread resets the connection, and the reply with it)")
	fs.Var(&c.tcpRecvLowat, "tcp-recv-lowat", "once a raw-TCP job's input is past 1MiB, wake its reader only when this much has arrived, 4 times this while the job keeps up with its client (SO_RCVLOWAT; Linux, plain TCP; 0: at every arrival)")
	fs.StringVar(&c.tcpRawAccept, "tcp-raw-accept", server.RawAcceptInline, "which plain raw-TCP ports accept and serve their connections with raw system calls, not through Go's net (Linux amd64 and arm64): inline (route ports whose pipeline is a digest), off, or all (every port; spilled replies then go without sendfile)")
	fs.BoolVar(&c.tcpSendfile, "tcp-sendfile", true, "send the spilled part of a raw-TCP reply from its spill file with sendfile(2) (plain TCP; false: read it into the process and write it)")
	fs.BoolVar(&c.requireEnd, "require-end", false, "every input must prove its end: an End message on gRPC, @size or @chunked on the TCP command port (not compatible with --tcp-route)")
	fs.BoolVar(&c.noInterceptors, "no-interceptors", false, "serve gRPC with no middleware (benchmarks only)")
	fs.Var(&c.maxJobsPerPeer, "max-jobs-per-peer", "jobs one peer IP address may run at once, on both adapters; one over it waits --job-wait for one of its own (default max(16, --max-jobs/4); 0: no cap)")
	fs.IntVar(&c.peerIPv6Prefix, "peer-ipv6-prefix", 64, "IPv6 clients are one peer per this prefix length for the per-peer caps and --rate-limit (1-128; 128: each address)")
	fs.Var(&c.maxRequestsPerPeer, "max-requests-per-peer", "open requests of one peer IP address: TCP connections and gRPC Digest/Run streams, header or not (default max(16, --max-conns/4); 0: no cap)")
	fs.IntVar(&c.grpcMaxStreams, "grpc-max-streams", defaultGRPCMaxStreams, "concurrent streams on one gRPC connection")
	fs.IntVar(&c.grpcMaxConns, "grpc-max-conns", server.DefaultMaxConns, "open gRPC connections; one over it is closed at once")
	fs.Var(&c.grpcMaxRequests, "grpc-max-requests", "gRPC Digest/Run streams open on the server, header or not, a quarter of them per peer IP address, or a peer's jobs and a quarter of those over --max-jobs if more, at least 16 unless --max-jobs-per-peer sets a number (none with --max-requests-per-peer 0); each may hold 8MiB its client sent (default max(64, 4 times --max-jobs); 0: no cap)")
	fs.DurationVar(&c.grpcConnIdle, "grpc-conn-idle", defaultGRPCConnIdle, "close a gRPC connection that has had no call for this long (GOAWAY; clients reconnect at their next call); 0 disables")
	fs.Var(&c.grpcConnsPerPeer, "grpc-max-conns-per-peer", "open gRPC connections of one peer IP address (default max(16, --grpc-max-conns/4), none with --max-requests-per-peer 0; 0: no cap)")
	fs.Var(&c.maxMetadataBytes, "max-metadata-bytes", "largest gRPC request metadata (header list)")
	fs.BoolVar(&c.tcpInsecure, "tcp-insecure", false, "with --auth-token-file: serve the raw-TCP ports without a credential (no @token on the command port; route ports without mTLS)")
	fs.BoolVar(&c.help, "help", false, "show this help and exit")
	fs.BoolVar(&c.help, "h", false, "same as --help")
	fs.BoolVar(&c.version, "version", false, "print the version and exit")
	fs.StringVar(&c.generate, "generate", "", "print the man page or a completion script and exit")
	fs.BoolVar(&c.printLimits, "print-limits", false, "check the other flags, print the memory bounds they set (bytes: a one-stage gRPC job's, the Go heap's soft limit) and exit, opening nothing")
	return serverSpec(fs)
}

// notURL says what a listen address with a slash is not: a URL or a
// gRPC target (unix:///path, dns:///host:port, http://host:port) was
// split at its last colon and failed at listen, exit 1, as "lookup
// tcp///path: unknown port"; halfclosed listens on TCP alone.
const notURL = "a listen address is a TCP HOST:PORT, not a URL, target or socket path (e.g. 127.0.0.1:50051, [::1]:50051, :50051)"

// targetSchemes are gRPC target and URL schemes that have a form with no
// slash: unix:relative.sock, unix-abstract:name, dns:host:port,
// ipv4:1.2.3.4:50051, ipv6:[::1]:50051. Such a value is named as one
// (notURL) only when it is not a HOST:PORT: unix:50051 is the host unix.
var targetSchemes = []string{"dns", "grpc", "http", "https", "ipv4", "ipv6", "passthrough", "tcp", "unix", "unix-abstract", "vsock", "xds"}

// listenAddrProblem says why v, a listen address, is not a TCP HOST:PORT
// that Listen takes, or "" when it is one: before, a value that did not
// split or whose port was no port failed at listen, exit 1, as "too many
// colons in address" (ipv6:[::1]:50051, dns:localhost:50051), "lookup
// tcp/h.sock: unknown port" (unix:h.sock) or "missing port in address".
// The port is checked as Listen checks it (a number up to 65535 or a
// service name, from /etc/services: no DNS).
func listenAddrProblem(v string) string {
	if h := hostport.BracketHint(v); h != "" {
		return h
	}
	if strings.Contains(v, "/") {
		return notURL
	}
	_, port, err := net.SplitHostPort(v)
	if err == nil {
		if _, perr := net.LookupPort("tcp", port); perr == nil {
			return ""
		}
	}
	if scheme, _, ok := strings.Cut(v, ":"); ok && slices.Contains(targetSchemes, strings.ToLower(scheme)) {
		return notURL
	}
	if ae := (*net.AddrError)(nil); errors.As(err, &ae) {
		return ae.Err // "missing port in address", "too many colons in address"
	}
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("port %q is not a port number (0 to 65535) or a service name", port)
}

func (c *config) validate() error {
	var errs []error
	if c.grpcAddr == "" {
		errs = append(errs, errors.New("--grpc-addr must not be empty"))
	}
	// An IPv6 address without its brackets failed at listen, exit 1, with
	// "too many colons in address": a bad flag value, named with the fix.
	for _, a := range []struct{ flag, v string }{{"--grpc-addr", c.grpcAddr}, {"--tcp-addr", c.tcpAddr}, {"--health-addr", c.healthAddr}, {"--metrics-addr", c.metricsAddr}} {
		if a.v == "" {
			continue // disabled (--grpc-addr's is refused above)
		}
		if h := listenAddrProblem(a.v); h != "" {
			errs = append(errs, fmt.Errorf("%s %q is not HOST:PORT: %s", a.flag, a.v, h))
		}
	}
	for _, r := range c.tcpRoutes {
		if a, _, ok := strings.Cut(r, "="); ok && a != "" { // else parseRoute says ADDR=PIPELINE
			if h := listenAddrProblem(a); h != "" {
				errs = append(errs, fmt.Errorf("--tcp-route %q: %q is not HOST:PORT: %s", r, a, h))
			}
		}
	}
	if c.maxJobs < 1 || c.maxJobs > math.MaxInt32 {
		// Capabilities reports it as an int32.
		errs = append(errs, errors.New("--max-jobs must be at least 1 and at most 2147483647"))
	}
	if c.maxConns < 1 {
		errs = append(errs, errors.New("--max-conns must be at least 1"))
	}
	if c.grpcConnIdle < 0 {
		errs = append(errs, errors.New("--grpc-conn-idle must not be negative"))
	}
	if c.grpcMaxConns < 1 {
		errs = append(errs, errors.New("--grpc-max-conns must be at least 1"))
	}
	if c.maxInputBytes < 1 {
		errs = append(errs, errors.New("--max-input-bytes must be at least 1"))
	}
	if c.maxMsgBytes < 64<<10 {
		errs = append(errs, errors.New("--max-msg-bytes must be at least 64KiB"))
	}
	if c.tcpRecvLowat > server.MaxRecvLowat {
		errs = append(errs, errors.New("--tcp-recv-lowat must be at most 16MiB"))
	}
	if c.maxHeaderBytes < 64 || c.maxHeaderBytes > maxMaxHeaderBytes {
		// A header line is held whole while it arrives; past a pipeline's
		// and a token's largest, a longer one cannot be valid.
		errs = append(errs, errors.New("--max-header-bytes must be at least 64 and at most 1MiB"))
	}
	if c.spoolMem < 1 {
		errs = append(errs, errors.New("--spool-mem must be at least 1"))
	}
	if c.maxLineBytes < 1 || c.maxLineBytes > 1<<30 {
		errs = append(errs, errors.New("--max-line-bytes must be at least 1 and at most 1GiB"))
	}
	if c.headerTimeout <= 0 {
		errs = append(errs, errors.New("--header-timeout must be positive"))
	}
	if c.pprof && c.metricsAddr == "" {
		errs = append(errs, errors.New("--pprof needs --metrics-addr"))
	}
	if c.peerIPv6Prefix < 1 || c.peerIPv6Prefix > 128 {
		errs = append(errs, errors.New("--peer-ipv6-prefix must be at least 1 and at most 128"))
	}
	if c.tcpFinWait <= 0 {
		errs = append(errs, errors.New("--tcp-fin-wait must be positive"))
	}
	if c.gcPercent < 1 {
		errs = append(errs, errors.New("--gc-percent must be at least 1"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"idle-timeout", c.idleTimeout}, {"shutdown-grace", c.shutdownGrace}, {"drain-delay", c.drainDelay},
		{"job-wait", c.jobWait}, {"keepalive-min-time", c.keepaliveMinTime}, {"log-flush", c.logFlush},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("--%s must not be negative", d.name))
		}
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if c.tlsClientCA != "" && c.tlsCert == "" {
		errs = append(errs, errors.New("--tls-client-ca needs --tls-cert and --tls-key"))
	}
	if !(c.rateLimit >= 0) || c.rateBurst < 1 { // NaN too
		errs = append(errs, errors.New("--rate-limit must not be negative and --rate-burst must be at least 1"))
	}
	if math.IsInf(c.rateLimit, 1) {
		// rate.Inf lets every call through: no limit, which is 0, where
		// Capabilities reported rate_limit_per_second Infinity (and
		// halfclose commands "+Inf calls a second").
		errs = append(errs, errors.New("--rate-limit must be finite (0: no limit)"))
	}
	if _, err := c.slogLevel(); err != nil {
		errs = append(errs, err)
	}
	switch c.tcpRawAccept {
	case server.RawAcceptInline, server.RawAcceptOff, server.RawAcceptAll:
	default:
		errs = append(errs, fmt.Errorf("--tcp-raw-accept must be inline, off or all, not %q", c.tcpRawAccept))
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format must be text or json, not %q", c.logFormat))
	}
	// Both are HTTP/2 SETTINGS, 32 bits: a larger value wrapped around
	// (4294967297 streams was 1; 4GiB of metadata was 0, every call
	// refused).
	if c.grpcMaxStreams < 1 || int64(c.grpcMaxStreams) > math.MaxUint32 {
		errs = append(errs, errors.New("--grpc-max-streams must be at least 1 and at most 4294967295"))
	}
	if c.maxMetadataBytes < 1<<10 || int64(c.maxMetadataBytes) > math.MaxUint32 {
		errs = append(errs, errors.New("--max-metadata-bytes must be at least 1KiB and under 4GiB"))
	}
	if c.authTokenFile != "" && len(c.tcpRoutes) > 0 && c.tlsClientCA == "" && !c.tcpInsecure {
		errs = append(errs, errors.New("--tcp-route with --auth-token-file: a route port has no header line to carry a token; require client certificates with --tls-client-ca, or serve the routes without a credential with --tcp-insecure"))
	}
	if c.tcpInsecure && c.authTokenFile == "" {
		errs = append(errs, errors.New("--tcp-insecure only makes sense with --auth-token-file"))
	}
	// --no-interceptors drops the rate limiter and the bearer-token check
	// of gRPC calls with the rest of the chain: a server that took them
	// would leave gRPC unlimited and open while Capabilities reported
	// rate_limit_per_second (and the raw-TCP port still asked for a
	// token). No benchmark of the chain wants either.
	if c.noInterceptors && c.rateLimit > 0 {
		errs = append(errs, errors.New("--no-interceptors cannot be used with --rate-limit: the gRPC calls would not be rate limited"))
	}
	if c.noInterceptors && c.authTokenFile != "" {
		errs = append(errs, errors.New("--no-interceptors cannot be used with --auth-token-file: the gRPC calls would not be authenticated"))
	}
	if c.requireEnd && len(c.tcpRoutes) > 0 {
		errs = append(errs, errors.New("--require-end cannot be used with --tcp-route: a route port has no header line to prove the end of input with"))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	c.engine = engine.New(c.engineConfig())
	for _, r := range c.tcpRoutes {
		rt, err := c.parseRoute(r)
		if err != nil {
			errs = append(errs, err)
		}
		c.routeList = append(c.routeList, rt)
	}
	return errors.Join(errs...)
}

// Defaults of the gRPC edge.
const (
	// defaultGRPCMaxStreams is HTTP/2's recommended least value of
	// SETTINGS_MAX_CONCURRENT_STREAMS.
	defaultGRPCMaxStreams = 100
	// defaultGRPCConnIdle is how long a gRPC connection may go without a
	// call: longer than a client's pause between calls, short enough that
	// connections a client leaked give their places back.
	defaultGRPCConnIdle = 5 * time.Minute
	// defaultMaxMetadataBytes is ample for tokens and tracing headers.
	defaultMaxMetadataBytes = 16 << 10
	// maxMaxHeaderBytes bounds --max-header-bytes: far above the longest
	// header that can be valid (a 64 KiB pipeline, a 64 KiB token).
	maxMaxHeaderBytes = 1 << 20
)

// perPeerFloor is the least a derived per-address cap allows: a quarter
// of the server's limit, but never under 16, so that one client alone
// (every client of a test on 127.0.0.1, a script's parallel uploads)
// reaches a small --max-jobs or --max-conns as docs/operations.md
// describes them, and is refused there by that limit, not by a quarter of
// it (--max-jobs 2 gave one address 1 job; --max-conns 2, one connection
// and one gRPC stream).
// The defaults' caps are unchanged (16 of 64 jobs, 256 of 1024
// connections); docs/operations.md, "Fairness".
const perPeerFloor = 16

// derivedPerPeer is a per-address cap derived from the server's limit n.
func derivedPerPeer(n int) int { return max(perPeerFloor, n/4) }

// jobsPerPeer is --max-jobs-per-peer, derived when not set: a quarter of
// the slots (at least perPeerFloor), so that one address cannot take them
// all.
func (c *config) jobsPerPeer() int {
	if c.maxJobsPerPeer.set {
		return c.maxJobsPerPeer.n
	}
	return derivedPerPeer(c.maxJobs)
}

// peerKeys is which addresses are one peer: --peer-ipv6-prefix.
func (c *config) peerKeys() server.PeerKeys {
	return server.PeerKeys{IPv6Prefix: c.peerIPv6Prefix}
}

// requestsPerPeer is --max-requests-per-peer, derived when not set.
func (c *config) requestsPerPeer() int {
	if c.maxRequestsPerPeer.set {
		return c.maxRequestsPerPeer.n
	}
	return derivedPerPeer(c.maxConns)
}

// grpcRequests is --grpc-max-requests, derived when not set; at most
// math.MaxInt (on 32-bit platforms 4 × a --max-jobs of 2^30 wrapped to
// 0, a cap of 64 under the jobs).
func (c *config) grpcRequests() int {
	if c.grpcMaxRequests.set {
		return c.grpcMaxRequests.n
	}
	if c.maxJobs > math.MaxInt/4 {
		return math.MaxInt
	}
	return max(64, 4*c.maxJobs)
}

// grpcRequestsPerPeer is an address's share of --grpc-max-requests: a
// quarter of it, or, if more, the jobs the address may run
// (--max-jobs-per-peer, or --max-jobs where that is 0) and a quarter of
// the places over --max-jobs (at least one), so that a call over the
// address's jobs waits --job-wait for a slot, as a job over --max-jobs
// does (docs/operations.md), where a share of exactly its jobs refused it
// at once (--max-jobs 16 or more with --max-jobs-per-peer 0: the quarter was
// --max-jobs); at least perPeerFloor, as the derived per-address caps,
// unless --max-jobs-per-peer sets a number of jobs (the Deployment's 4 of
// 16 jobs, 6 of 24 streams), so that one client alone reaches a small
// --grpc-max-requests (--max-jobs 4 --grpc-max-requests 16 gave an
// address 7 streams: its 8th call, one over --max-jobs, was refused at
// once, not after --job-wait); never more than the cap. 0: no share,
// where --max-requests-per-peer is 0 (behind a proxy) or there is no cap.
func (c *config) grpcRequestsPerPeer() int {
	n := int64(c.grpcRequests())
	if n <= 0 || c.requestsPerPeer() == 0 {
		return 0
	}
	jobs := int64(c.jobsPerPeer())
	if jobs <= 0 || jobs > int64(c.maxJobs) {
		jobs = int64(c.maxJobs)
	}
	queue := max(1, (n-int64(c.maxJobs))/4)
	share := max(1, n/4, jobs+queue)
	if !c.maxJobsPerPeer.set || c.maxJobsPerPeer.n == 0 {
		share = max(share, perPeerFloor)
	}
	return int(min(n, share))
}

// grpcConnsPerPeerCap is --grpc-max-conns-per-peer, derived when not set:
// none where --max-requests-per-peer is 0, the docs' setting behind a
// proxy, whose one address opens every connection (nginx's grpc_pass one
// per call in flight), as the share of --grpc-max-requests is.
func (c *config) grpcConnsPerPeerCap() int {
	if c.grpcConnsPerPeer.set {
		return c.grpcConnsPerPeer.n
	}
	if c.requestsPerPeer() == 0 {
		return 0
	}
	return derivedPerPeer(c.grpcMaxConns)
}

// queueWait is --job-wait as the engine takes it: there a zero wait is
// the default, and --job-wait 0 (refuse at once) is a negative one.
func queueWait(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// engineConfig is the engine the flags describe.
func (c *config) engineConfig() engine.Config {
	return engine.Config{
		MaxJobs:       c.maxJobs,
		QueueWait:     queueWait(c.jobWait),
		MaxInputBytes: int64(c.maxInputBytes),
		MaxLineBytes:  int(c.maxLineBytes),
		Spool: compute.SpoolConfig{
			MemBytes: int64(c.spoolMem),
			Dir:      c.spoolDir,
			Disk:     compute.NewDiskBudget(int64(c.spoolDisk)),
		},
		Registry: c.commands,
	}
}

// healthOnMetrics reports --health-addr and --metrics-addr naming the
// same address: the metrics server answers the probes, on one listener.
// (Two port-0 addresses are two listeners, each on a port of its own.)
func (c *config) healthOnMetrics() bool {
	_, port, _ := net.SplitHostPort(c.healthAddr)
	return c.healthAddr == c.metricsAddr && port != "0"
}

// tcpMaxHeaderBytes is --max-header-bytes where a command port serves
// (--tcp-addr), 0 where none does: route ports read no header line.
func (c *config) tcpMaxHeaderBytes() int {
	if c.tcpAddr == "" {
		return 0
	}
	return int(c.maxHeaderBytes)
}

// edgeLimits are the limits Capabilities reports that the service does
// not enforce itself, each 0 where it is off: the raw-TCP ones without a
// raw-TCP port, the burst without a rate limit.
func (c *config) edgeLimits() server.EdgeLimits {
	e := server.EdgeLimits{
		GRPCStreamsPerConn:  c.grpcMaxStreams,
		GRPCMaxConns:        c.grpcMaxConns,
		GRPCMaxConnsPerPeer: c.grpcConnsPerPeerCap(),
		GRPCConnIdle:        c.grpcConnIdle,
		KeepaliveMinTime:    c.keepaliveMinTime,
	}
	if c.rateLimit > 0 {
		e.RateLimit, e.RateBurst = c.rateLimit, c.rateBurst
	}
	if c.tcpAddr != "" || len(c.tcpRoutes) > 0 {
		e.TCPMaxConns, e.TCPFinWait = c.maxConns, c.tcpFinWait
	}
	return e
}

// routes are the --tcp-route ports, their pipelines compiled by validate.
func (c *config) routes() []route { return c.routeList }

// parseRoute splits a --tcp-route and compiles its pipeline, once: every
// connection of the port runs that Pipeline.
func (c *config) parseRoute(s string) (route, error) {
	addr, pipeline, ok := strings.Cut(s, "=")
	if !ok || addr == "" || strings.TrimSpace(pipeline) == "" {
		return route{}, fmt.Errorf("--tcp-route %q: want ADDR=PIPELINE, e.g. 127.0.0.1:7001=sha256sum", s)
	}
	p, err := c.engine.Compile(pipeline)
	if err != nil {
		return route{}, fmt.Errorf("--tcp-route %q: %v", s, err)
	}
	return route{addr: addr, pipeline: pipeline, compiled: p}, nil
}

func (c *config) slogLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.logLevel)); err != nil {
		return 0, fmt.Errorf("--log-level must be debug, info, warn or error, not %q", c.logLevel)
	}
	return l, nil
}

// derivedInt is a count flag whose default is derived from other flags:
// unset, it shows no default of its own in --help (the usage text says
// how it is derived). Negative values are refused.
type derivedInt struct {
	n   int
	set bool
}

func (d *derivedInt) String() string {
	if d == nil || !d.set {
		return ""
	}
	return strconv.Itoa(d.n)
}

func (d *derivedInt) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	if n < 0 {
		return fmt.Errorf("%d is negative (0: no cap)", n)
	}
	d.n, d.set = n, true
	return nil
}

// recvLowat is --tcp-recv-lowat as TCPServer.RecvLowat: 0 there is the
// default, < 0 none.
func recvLowat(b flagenv.Bytes) int {
	if b == 0 {
		return -1
	}
	return int(b)
}
