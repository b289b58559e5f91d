package main

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/server"
)

func TestConfigEnv(t *testing.T) {
	t.Setenv("HALFCLOSE_TCP_ROUTE", "127.0.0.1:0=sha256sum\n127.0.0.1:0=wc -l")
	t.Setenv("HALFCLOSE_KEEPALIVE_MIN_TIME", "30s")
	t.Setenv("HALFCLOSE_MAX_JOBS", "7")
	t.Setenv("HALFCLOSE_TCP_RAW_ACCEPT", "off")
	cfg, err := parseConfig([]string{"--max-jobs=9"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.routes()) != 2 || cfg.routes()[1].pipeline != "wc -l" {
		t.Errorf("routes = %v", cfg.routes())
	}
	if cfg.keepaliveMinTime != 30*time.Second || cfg.maxJobs != 9 {
		t.Errorf("keepalive %v, max jobs %d (the flag must win over the variable)", cfg.keepaliveMinTime, cfg.maxJobs)
	}
	if cfg.tcpRawAccept != server.RawAcceptOff {
		t.Errorf("--tcp-raw-accept %q from HALFCLOSE_TCP_RAW_ACCEPT=off", cfg.tcpRawAccept)
	}
}

// TestConfigPeerIPv6Prefix: IPv6 peers are keyed by /64 by default,
// by --peer-ipv6-prefix or its variable otherwise.
func TestConfigPeerIPv6Prefix(t *testing.T) {
	cfg, err := parseConfig(nil, io.Discard)
	if err != nil || cfg.peerKeys() != (server.PeerKeys{IPv6Prefix: 64}) {
		t.Fatalf("default: %v, %v", cfg.peerKeys(), err)
	}
	t.Setenv("HALFCLOSE_PEER_IPV6_PREFIX", "128")
	if cfg, err = parseConfig(nil, io.Discard); err != nil || cfg.peerKeys() != (server.PeerKeys{IPv6Prefix: 128}) {
		t.Fatalf("variable 128: %v, %v", cfg.peerKeys(), err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert=c.pem"}, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-client-ca=ca.pem"}, "--tls-client-ca needs --tls-cert"},
		{[]string{"--pprof"}, "--pprof needs --metrics-addr"},
		{[]string{"--rate-limit=-1"}, "--rate-limit must not be negative"},
		{[]string{"--rate-limit=inf"}, "--rate-limit must be finite (0: no limit)"},
		{[]string{"--rate-limit=+Inf"}, "--rate-limit must be finite (0: no limit)"},
		{[]string{"--keepalive-min-time=-1s"}, "--keepalive-min-time must not be negative"},
		{[]string{"--log-flush=-1s"}, "--log-flush must not be negative"},
		{[]string{"--drain-delay=-1s"}, "--drain-delay must not be negative"},
		{[]string{"--gc-percent=0"}, "--gc-percent must be at least 1"},
		{[]string{"--tcp-raw-accept=on"}, `--tcp-raw-accept must be inline, off or all, not "on"`},
		{[]string{"--tcp-fin-wait=0"}, "--tcp-fin-wait must be positive"},
		{[]string{"--tcp-fin-wait=-1s"}, "--tcp-fin-wait must be positive"},
		{[]string{"--memory-limit=-1"}, "-memory-limit: not a byte count"},
		{[]string{"--max-line-bytes=0"}, "--max-line-bytes must be at least 1 and at most 1GiB"},
		{[]string{"--max-line-bytes=2GiB"}, "--max-line-bytes must be at least 1 and at most 1GiB"},
		{[]string{"--tcp-route=nonsense"}, `--tcp-route "nonsense": want ADDR=PIPELINE`},
		{[]string{"--tcp-route=127.0.0.1:0=sha256sum --bogus"}, `sha256sum: unknown flag "--bogus"`},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--require-end", "--tcp-route=127.0.0.1:0=sha256sum"}, "--require-end cannot be used with --tcp-route"},
		// An IPv6 address without brackets: named with the fix before
		// anything listens (it was "too many colons in address" at
		// listen, exit 1).
		{[]string{"--peer-ipv6-prefix=0"}, "--peer-ipv6-prefix must be at least 1 and at most 128"},
		{[]string{"--peer-ipv6-prefix=129"}, "--peer-ipv6-prefix must be at least 1 and at most 128"},
		{[]string{"--grpc-addr=::1:23011"}, `--grpc-addr "::1:23011" is not HOST:PORT: an IPv6 address goes in brackets: [::1]:23011`},
		{[]string{"--tcp-addr=::1:70000"}, `--tcp-addr "::1:70000" is not HOST:PORT: an IPv6 address goes in brackets: [::1]:70000`},
		{[]string{"--health-addr=::"}, `--health-addr "::" is not HOST:PORT: an IPv6 address goes in brackets: [::]:PORT`},
		{[]string{"--metrics-addr=fe80::1%lo:9"}, `--metrics-addr "fe80::1%lo:9" is not HOST:PORT: an IPv6 address goes in brackets: [fe80::1%lo]:9`},
		{[]string{"--tcp-route=::1:7001=wc"}, `--tcp-route "::1:7001=wc": "::1:7001" is not HOST:PORT: an IPv6 address goes in brackets: [::1]:7001 (or [::1:7001]:PORT)`},
		// A URL or gRPC target: halfclosed listens on TCP alone (it
		// failed at listen, exit 1, "lookup tcp///x.sock: unknown port").
		{[]string{"--grpc-addr=unix:///run/h.sock"}, `--grpc-addr "unix:///run/h.sock" is not HOST:PORT: a listen address is a TCP HOST:PORT, not a URL, target or socket path (e.g. 127.0.0.1:50051, [::1]:50051, :50051)`},
		{[]string{"--metrics-addr=http://127.0.0.1:9090"}, `--metrics-addr "http://127.0.0.1:9090" is not HOST:PORT: a listen address is a TCP HOST:PORT, not a URL`},
		{[]string{"--tcp-route=dns:///localhost:7001=wc"}, `--tcp-route "dns:///localhost:7001=wc": "dns:///localhost:7001" is not HOST:PORT: a listen address is a TCP HOST:PORT`},
		// The target forms with no slash, and values that do not split
		// or whose port is no port: they failed at listen, exit 1, as
		// "too many colons in address", "lookup tcp/h.sock: unknown
		// port", "missing port in address", "address 99999: invalid port".
		{[]string{"--grpc-addr=ipv6:[::1]:50051"}, `--grpc-addr "ipv6:[::1]:50051" is not HOST:PORT: a listen address is a TCP HOST:PORT, not a URL`},
		{[]string{"--tcp-addr=IPv4:127.0.0.1:50052"}, `--tcp-addr "IPv4:127.0.0.1:50052" is not HOST:PORT: a listen address is a TCP HOST:PORT, not a URL`},
		{[]string{"--health-addr=dns:localhost:50053"}, `--health-addr "dns:localhost:50053" is not HOST:PORT: a listen address is a TCP HOST:PORT, not a URL`},
		{[]string{"--metrics-addr=unix:h.sock"}, `--metrics-addr "unix:h.sock" is not HOST:PORT: a listen address is a TCP HOST:PORT, not a URL`},
		{[]string{"--tcp-route=unix-abstract:h=wc"}, `--tcp-route "unix-abstract:h=wc": "unix-abstract:h" is not HOST:PORT: a listen address is a TCP HOST:PORT, not a URL`},
		{[]string{"--grpc-addr=localhost"}, `--grpc-addr "localhost" is not HOST:PORT: missing port in address`},
		{[]string{"--tcp-route=127.0.0.1=wc"}, `--tcp-route "127.0.0.1=wc": "127.0.0.1" is not HOST:PORT: missing port in address`},
		{[]string{"--health-addr=127.0.0.1:99999"}, `--health-addr "127.0.0.1:99999" is not HOST:PORT: port "99999" is not a port number (0 to 65535) or a service name`},
		{[]string{"--tcp-addr=localhost:nosuchservice"}, `--tcp-addr "localhost:nosuchservice" is not HOST:PORT: port "nosuchservice" is not a port number (0 to 65535) or a service name`},
	} {
		_, err := parseConfig(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestStartErrors: what newServer checks before serving fails with a
// message naming the culprit, and leaves nothing open.
func TestStartErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert=/nonexistent/c.pem", "--tls-key=/nonexistent/k.pem"}, "tls: certificate file"},
		{[]string{"--auth-token-file=" + writeFile(t, "# none\n")}, "no tokens"},
		{[]string{"--grpc-addr=256.0.0.1:1"}, "256.0.0.1"},
	} {
		cfg, err := parseConfig(append([]string{"--grpc-addr=127.0.0.1:0", "--tcp-addr=127.0.0.1:0", "--health-addr=127.0.0.1:0"}, tc.args...), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		cfg.logOut = io.Discard
		if _, err := newServer(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestRoutesAndOps(t *testing.T) {
	d := startDaemon(t, "--tcp-route=127.0.0.1:0=wc -c", "--pprof")
	input := randomBytes(t, 12345)
	reply, err := tcpJob(t, d.routes[0].l.addr(), nil, "", input)
	if err != nil || reply != "12345\n" {
		t.Fatalf("route: %q, %v", reply, err)
	}
	for path, want := range map[string]int{
		"/healthz": http.StatusOK, "/readyz": http.StatusOK, "/debug/pprof/": http.StatusOK, "/nope": http.StatusNotFound,
	} {
		if got := httpStatus(t, d.httpAddr(), path); got != want {
			t.Errorf("GET %s = %d, want %d", path, got, want)
		}
	}
}

// TestHealthAddr: /healthz and /readyz on --health-addr, with nothing
// else there; on by default on loopback; sharing --metrics-addr's
// listener when both name one address.
func TestHealthAddr(t *testing.T) {
	cfg, err := parseConfig(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.healthAddr != "127.0.0.1:50053" || cfg.drainDelay != 0 {
		t.Errorf("defaults: --health-addr %q, --drain-delay %v", cfg.healthAddr, cfg.drainDelay)
	}
	d := startDaemon(t)
	for path, want := range map[string]int{
		"/healthz": http.StatusOK, "/readyz": http.StatusOK, "/metrics": http.StatusNotFound, "/debug/pprof/": http.StatusNotFound,
	} {
		if got := httpStatus(t, d.healthAddr(), path); got != want {
			t.Errorf("GET %s on --health-addr = %d, want %d", path, got, want)
		}
	}
	if !strings.Contains(d.logs.String(), `"msg":"health listening","addr":"`+d.healthAddr()+`"`) {
		t.Errorf("no listening line for the health address:\n%s", d.logs)
	}
	for _, tc := range []struct {
		health, metrics string
		shared          bool
	}{
		{"127.0.0.1:9090", "127.0.0.1:9090", true},
		{":9090", ":9090", true},
		{"127.0.0.1:0", "127.0.0.1:0", false}, // two free ports
		{"127.0.0.1:50053", "127.0.0.1:9090", false},
		{"127.0.0.1:50053", "", false},
	} {
		c := config{healthAddr: tc.health, metricsAddr: tc.metrics}
		if got := c.healthOnMetrics(); got != tc.shared {
			t.Errorf("--health-addr=%s --metrics-addr=%s: shared %v, want %v", tc.health, tc.metrics, got, tc.shared)
		}
	}
	// Disabled: no listener.
	if off := startDaemon(t, "--health-addr="); off.healthAddr() != "" {
		t.Errorf("--health-addr= still listens on %s", off.healthAddr())
	}
}

// The default memory limit is what the jobs' own bounds, and the gRPC
// streams waiting for them, would make the heap reach at GOGC=100, plus
// room for the server; --memory-limit and the variable override it.
func TestGCDefaults(t *testing.T) {
	cfg, err := parseConfig([]string{"--max-jobs=10", "--spool-mem=1MiB"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.gcPercent != 400 || cfg.memoryLimit != 0 {
		t.Errorf("defaults: --gc-percent %d, --memory-limit %d", cfg.gcPercent, cfg.memoryLimit)
	}
	// 10 jobs of one stage live, doubled, + 256 MiB. A job: the reply
	// spool (1 MiB) and its file buffers (4 MiB), the read-ahead (1 MiB),
	// patterns (8 MiB), a stage's buffers (2 MiB), spool budget (1 MiB)
	// and 4 lines of 1 MiB; the gRPC adapter's 8 MiB window and 6 messages
	// of 4 MiB. --grpc-max-requests is 64 (max(64, 4 × 10)): 54 streams
	// may wait for a slot, with their 8 MiB windows (the limit counted
	// only the jobs: 1 GiB of streams more than --max-jobs=1 jobs).
	const job = (1 + 4 + 1 + 8 + 2 + 1 + 4 + 8 + 6*4) << 20
	if got, want := cfg.defaultMemoryLimit(), int64(2*(10*job+54*8<<20)+256<<20); got != want {
		t.Errorf("default memory limit %d, want %d", got, want)
	}
	huge, err := parseConfig([]string{"--max-jobs=1000000000", "--spool-mem=1TiB"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := huge.defaultMemoryLimit(); got != math.MaxInt64 {
		t.Errorf("bounds past any heap: limit %d, want none", got)
	}
	// Byte flags near their largest (4 EiB): the bounds saturate, never
	// wrap (6 messages of 3 EiB wrapped to 2 bytes, a job under the
	// default's; a --spool-mem of 4 EiB to a negative job).
	for _, args := range [][]string{{"--max-msg-bytes=3074457345618258603"}, {"--spool-mem=4194304TiB"}, {"--max-msg-bytes=4194304TiB", "--spool-mem=4194304TiB"}} {
		c, err := parseConfig(args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if job, limit := c.jobHeapBytes(), c.defaultMemoryLimit(); job != math.MaxInt64 || limit != math.MaxInt64 {
			t.Errorf("%v: job memory %d, limit %d, want none (%d)", args, job, limit, int64(math.MaxInt64))
		}
	}
	t.Setenv("HALFCLOSE_MEMORY_LIMIT", "3GiB")
	t.Setenv("HALFCLOSE_GC_PERCENT", "150")
	if cfg, err = parseConfig(nil, io.Discard); err != nil {
		t.Fatal(err)
	}
	if cfg.memoryLimit != 3<<30 || cfg.gcPercent != 150 {
		t.Errorf("from the environment: --memory-limit %d, --gc-percent %d", cfg.memoryLimit, cfg.gcPercent)
	}
}

// TestPrintLimits: --print-limits checks the flags and prints the bounds
// the documents give by hand: job(1) of a one-stage gRPC job is 67 MiB at
// the defaults (docs/operations.md, "Memory": 21 + 14 + 32 MiB), 12 MiB
// less at --max-msg-bytes 2MiB (6 messages of 2 MiB fewer), 3 MiB less at
// --max-line-bytes 256KiB (a stage's 4 lines); the derived heap limit is
// twice the jobs' and the waiting streams' (--grpc-max-requests less
// --max-jobs, 8 MiB each) bound plus 256 MiB: 16 jobs of 67 MiB and 48
// streams, 3168 MiB (it was 2400 MiB, the jobs alone); with no cap on the
// streams, the jobs alone.
func TestPrintLimits(t *testing.T) {
	const mib int64 = 1 << 20 // int64: the limits overflow int on linux/386
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "max_jobs 64\njob_memory 70254592\nmemory_limit 12482248704\nmemory_limit_from --memory-limit\ngrpc_max_requests 256\nstream_memory 8388608\n"},
		{[]string{"--max-jobs=16", "--spool-mem=8MiB"}, fmt.Sprintf("max_jobs 16\njob_memory %d\nmemory_limit %d\nmemory_limit_from --memory-limit\ngrpc_max_requests 64\nstream_memory %d\n", 67*mib, 2*(16*67+48*8)*mib+256*mib, 8*mib)},
		{[]string{"--max-msg-bytes=2MiB", "--grpc-max-requests=0"}, fmt.Sprintf("max_jobs 64\njob_memory %d\nmemory_limit %d\nmemory_limit_from --memory-limit\ngrpc_max_requests 0\nstream_memory %d\n", 55*mib, 64*2*55*mib+256*mib, 8*mib)},
		{[]string{"--max-line-bytes=256KiB", "--memory-limit=1GiB", "--grpc-max-requests=80"}, fmt.Sprintf("max_jobs 64\njob_memory %d\nmemory_limit %d\nmemory_limit_from --memory-limit\ngrpc_max_requests 80\nstream_memory %d\n", 64*mib, 1024*mib, 8*mib)},
	} {
		c, err := parseConfig(append([]string{"--print-limits"}, tc.args...), io.Discard)
		if err != nil || !c.printLimits {
			t.Fatalf("%v: %v", tc.args, err)
		}
		var b strings.Builder
		c.writeLimits(&b)
		if b.String() != tc.want {
			t.Errorf("%v:\n%s\nwant\n%s", tc.args, b.String(), tc.want)
		}
	}
	// The flags are checked as for a start: a bad one is a usage error.
	if _, err := parseConfig([]string{"--print-limits", "--max-jobs=0"}, io.Discard); err == nil {
		t.Errorf("--print-limits --max-jobs=0: no error")
	}
	// GOMEMLIMIT wins over the flags, as at a start.
	t.Setenv("GOMEMLIMIT", "400MiB")
	c, err := parseConfig([]string{"--print-limits", "--memory-limit=1GiB"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	c.writeLimits(&b)
	if !strings.Contains(b.String(), "\nmemory_limit_from GOMEMLIMIT\n") {
		t.Errorf("with GOMEMLIMIT set:\n%s", b.String())
	}
}

// TestCapabilitiesLimitsInEffect: the limits Capabilities reports are the
// ones in force, however they were set: a flag, a HALFCLOSE_* variable, a
// default derived from another flag (the per-peer caps from --max-jobs
// and --max-conns), 0 for a cap turned off. It reported no per-peer cap
// at all, though a client running many jobs meets that one first, nor
// --max-metadata-bytes, which a client sending tokens and tracing
// headers meets.
func TestCapabilitiesLimitsInEffect(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want *apiv1.Limits
	}{
		{nil, nil, &apiv1.Limits{MaxInputBytes: 16 << 30, MaxJobs: 64, MaxMsgBytes: 4 << 20, IdleTimeoutMs: 60000, MaxJobsPerPeer: 16, MaxRequestsPerPeer: 256, PeerIpv6Prefix: 64, MaxMetadataBytes: 16 << 10, MaxGrpcRequests: 256, MaxGrpcRequestsPerPeer: 64, HeaderTimeoutMs: 10000, JobWaitMs: 2000, MaxLineBytes: 1 << 20, MaxTcpHeaderBytes: 4 << 10}},
		{map[string]string{"HALFCLOSE_MAX_JOBS": "10", "HALFCLOSE_MAX_CONNS": "6", "HALFCLOSE_IDLE_TIMEOUT": "0", "HALFCLOSE_MAX_INPUT_BYTES": "1MiB", "HALFCLOSE_PEER_IPV6_PREFIX": "128", "HALFCLOSE_MAX_METADATA_BYTES": "2KiB"},
			[]string{"--max-msg-bytes=64KiB"},
			&apiv1.Limits{MaxInputBytes: 1 << 20, MaxJobs: 10, MaxMsgBytes: 64 << 10, MaxJobsPerPeer: 16, MaxRequestsPerPeer: 16, MaxMetadataBytes: 2 << 10, MaxGrpcRequests: 64, MaxGrpcRequestsPerPeer: 23, HeaderTimeoutMs: 10000, JobWaitMs: 2000, MaxLineBytes: 1 << 20, MaxTcpHeaderBytes: 4 << 10}},
		// No cap on an address's jobs: its share of the streams is the 64
		// jobs and a quarter of the 192 places over them.
		{map[string]string{"HALFCLOSE_MAX_JOBS_PER_PEER": "0"}, []string{"--max-requests-per-peer=3", "--peer-ipv6-prefix=56", "--max-metadata-bytes=1KiB"},
			&apiv1.Limits{MaxInputBytes: 16 << 30, MaxJobs: 64, MaxMsgBytes: 4 << 20, IdleTimeoutMs: 60000, MaxRequestsPerPeer: 3, PeerIpv6Prefix: 56, MaxMetadataBytes: 1 << 10, MaxGrpcRequests: 256, MaxGrpcRequestsPerPeer: 112, HeaderTimeoutMs: 10000, JobWaitMs: 2000, MaxLineBytes: 1 << 20, MaxTcpHeaderBytes: 4 << 10}},
		// Behind a proxy: no share per address; the Deployment's cap.
		{map[string]string{"HALFCLOSE_GRPC_MAX_REQUESTS": "24"}, []string{"--max-requests-per-peer=0", "--max-jobs-per-peer=0"},
			&apiv1.Limits{MaxInputBytes: 16 << 30, MaxJobs: 64, MaxMsgBytes: 4 << 20, IdleTimeoutMs: 60000, PeerIpv6Prefix: 64, MaxMetadataBytes: 16 << 10, MaxGrpcRequests: 24, HeaderTimeoutMs: 10000, JobWaitMs: 2000, MaxLineBytes: 1 << 20, MaxTcpHeaderBytes: 4 << 10}},
		{nil, []string{"--grpc-max-requests=0"},
			&apiv1.Limits{MaxInputBytes: 16 << 30, MaxJobs: 64, MaxMsgBytes: 4 << 20, IdleTimeoutMs: 60000, MaxJobsPerPeer: 16, MaxRequestsPerPeer: 256, PeerIpv6Prefix: 64, MaxMetadataBytes: 16 << 10, HeaderTimeoutMs: 10000, JobWaitMs: 2000, MaxLineBytes: 1 << 20, MaxTcpHeaderBytes: 4 << 10}},
	} {
		t.Run(fmt.Sprint(tc.args, tc.env), func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			d := startDaemon(t, tc.args...)
			caps, err := apiv1.NewComputeServiceClient(rawGRPC(t, d.grpcAddr(), nil)).Capabilities(testCtx(t), &apiv1.CapabilitiesRequest{})
			if err != nil {
				t.Fatal(err)
			}
			// The edge's limits have tests of their own
			// (TestCapabilitiesReportsEveryLimitFlag).
			got := proto.CloneOf(caps.Limits)
			for _, f := range []string{"max_tcp_conns", "rate_limit_per_second", "rate_burst", "max_grpc_streams_per_conn", "max_grpc_conns", "max_grpc_conns_per_peer", "grpc_conn_idle_ms", "keepalive_min_time_ms", "tcp_fin_wait_ms", "spool_disk_bytes", "require_end"} {
				got.ProtoReflect().Clear(got.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(f)))
			}
			if !proto.Equal(got, tc.want) {
				t.Errorf("Capabilities limits %v, want %v", caps.Limits, tc.want)
			}
		})
	}
}

// TestCapabilitiesReportsTimeoutsAndLines: Capabilities reports the
// limits a client meets before or while its job runs, each the value its
// flag or variable gave: --header-timeout (a stream's header message, a
// TCP header line), --job-wait, --max-line-bytes (grep, sort and uniq),
// --max-header-bytes (the command port's header line; 0 without a command
// port). It reported none of them: a client learnt them from a failed
// call.
func TestCapabilitiesReportsTimeoutsAndLines(t *testing.T) {
	for _, tc := range []struct {
		env                         map[string]string
		args                        []string
		header, wait, line, tcpLine int64
	}{
		{nil, []string{"--header-timeout=3500ms", "--job-wait=750ms", "--max-line-bytes=5000", "--max-header-bytes=200"}, 3500, 750, 5000, 200},
		{map[string]string{"HALFCLOSE_HEADER_TIMEOUT": "1m30s", "HALFCLOSE_JOB_WAIT": "12s", "HALFCLOSE_MAX_LINE_BYTES": "64MiB", "HALFCLOSE_MAX_HEADER_BYTES": "64KiB"}, nil, 90000, 12000, 64 << 20, 64 << 10},
		// Routes only: no header line to measure.
		{nil, []string{"--tcp-addr=", "--tcp-route=127.0.0.1:0=wc -c", "--max-header-bytes=300", "--max-line-bytes=1GiB"}, 10000, 2000, 1 << 30, 0},
		// --job-wait 0 refuses at once (the engine took 0 for its 2 s
		// default).
		{map[string]string{"HALFCLOSE_JOB_WAIT": "0"}, nil, 10000, 0, 1 << 20, 4 << 10},
	} {
		t.Run(fmt.Sprint(tc.args, tc.env), func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			d := startDaemon(t, tc.args...)
			caps, err := apiv1.NewComputeServiceClient(rawGRPC(t, d.grpcAddr(), nil)).Capabilities(testCtx(t), &apiv1.CapabilitiesRequest{})
			if err != nil {
				t.Fatal(err)
			}
			l := caps.GetLimits()
			got := []int64{l.GetHeaderTimeoutMs(), l.GetJobWaitMs(), l.GetMaxLineBytes(), l.GetMaxTcpHeaderBytes()}
			want := []int64{tc.header, tc.wait, tc.line, tc.tcpLine}
			if !slices.Equal(got, want) {
				t.Errorf("header_timeout_ms, job_wait_ms, max_line_bytes, max_tcp_header_bytes = %v, want %v", got, want)
			}
		})
	}
}

// TestConfigProxyTurnsOffGRPCShares: behind a proxy every connection and
// stream comes from the proxy's address, and the docs' setting for it,
// --max-requests-per-peer=0, turns off the per-address shares of the gRPC
// caps too, unless they are set: nginx's grpc_pass opens an upstream
// connection per call in flight, and with the old derivation a fleet
// configured as the docs said before --grpc-max-conns-per-peer refused
// its 257th call in flight (a quarter of --grpc-max-conns) while the
// other caps allowed it.
func TestConfigProxyTurnsOffGRPCShares(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		env   string // HALFCLOSE_MAX_REQUESTS_PER_PEER
		conns int
	}{
		{nil, "", 256},
		{[]string{"--max-requests-per-peer=0"}, "", 0},
		{nil, "0", 0},
		{[]string{"--max-requests-per-peer=0", "--grpc-max-conns-per-peer=7"}, "", 7},
		{[]string{"--max-requests-per-peer=5"}, "", 256},
	} {
		if tc.env != "" {
			t.Setenv("HALFCLOSE_MAX_REQUESTS_PER_PEER", tc.env)
		}
		c, err := parseConfig(tc.args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.grpcConnsPerPeerCap(); got != tc.conns {
			t.Errorf("%q env %q: --grpc-max-conns-per-peer %d, want %d", tc.args, tc.env, got, tc.conns)
		}
		if tc.env != "" {
			t.Setenv("HALFCLOSE_MAX_REQUESTS_PER_PEER", "")
		}
	}
}

// TestGRPCRequestsKeepWait: by default --grpc-max-requests leaves room
// over --max-jobs, and an address's share of it over the jobs the address
// may run (--max-jobs-per-peer, or --max-jobs where that is 0), for calls
// to wait --job-wait for a slot, as a job over --max-jobs does
// (docs/operations.md); a cap at --max-jobs refused them at once (the Deployment's first
// setting), and so did a share of a quarter with --max-jobs-per-peer 0
// and --max-jobs 16 or more (16 of 64: the 17th call of an address was
// refused).
func TestGRPCRequestsKeepWait(t *testing.T) {
	for _, jobs := range []int{1, 3, 15, 16, 17, 64, 1000, 1 << 30} { // 1 << 30: 4 × it wrapped an int of 32 bits
		for _, perPeer := range []string{"", "0", "1", "1000000"} {
			args := []string{"--max-jobs=" + fmt.Sprint(jobs)}
			if perPeer != "" {
				args = append(args, "--max-jobs-per-peer="+perPeer)
			}
			c, err := parseConfig(args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			peerJobs := c.jobsPerPeer()
			if peerJobs == 0 || peerJobs > jobs {
				peerJobs = jobs
			}
			n, share := c.grpcRequests(), c.grpcRequestsPerPeer()
			if n <= jobs || share <= peerJobs || share > n {
				t.Errorf("%v: --grpc-max-requests %d, %d an address, leaves no call waiting (%d jobs an address)", args, n, share, peerJobs)
			}
			if share < max(1, n/4) {
				t.Errorf("%v: %d an address of --grpc-max-requests %d, less than a quarter", args, share, n)
			}
		}
	}
	// The Deployment's: 6 an address (a quarter), 2 over its 4 jobs; no
	// share behind a proxy, or without a cap.
	for _, tc := range []struct {
		args  []string
		share int
	}{
		{[]string{"--max-jobs=16", "--max-jobs-per-peer=4", "--grpc-max-requests=24"}, 6},
		{[]string{"--max-jobs=16", "--max-jobs-per-peer=0"}, 28},
		{[]string{"--max-jobs=16", "--grpc-max-requests=16", "--max-jobs-per-peer=0"}, 16},
		// A lone client reaches a small --grpc-max-requests: at least 16
		// an address unless --max-jobs-per-peer sets its jobs (4 jobs and
		// a quarter of the 12 places over them was 7 of 16).
		{[]string{"--max-jobs=4", "--grpc-max-requests=16"}, 16},
		{[]string{"--max-jobs=4", "--grpc-max-requests=16", "--max-jobs-per-peer=0"}, 16},
		{[]string{"--max-jobs=1", "--grpc-max-requests=3"}, 3},
		{[]string{"--max-jobs=4", "--grpc-max-requests=16", "--max-jobs-per-peer=2"}, 5},
		{[]string{"--max-jobs=4", "--grpc-max-requests=40"}, 16},
		{[]string{"--max-requests-per-peer=0"}, 0},
		{[]string{"--grpc-max-requests=0"}, 0},
	} {
		c, err := parseConfig(tc.args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.grpcRequestsPerPeer(); got != tc.share {
			t.Errorf("%v: %d an address, want %d", tc.args, got, tc.share)
		}
	}
}
