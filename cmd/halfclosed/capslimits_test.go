package main

import (
	"bufio"
	"bytes"
	"flag"
	"io"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
)

// reportedLimit is a flag of halfclosed that Capabilities reports: the
// Limits field, and the value it must hold when the daemon is started
// with capsLimitArgs.
type reportedLimit struct {
	field protoreflect.Name
	want  any // the field's Go type: int32, int64, float64 or bool
}

// capsLimitArgs starts a daemon with every reported limit away from its
// default, each value apart from the others', so that a field reporting
// another flag's value (or its default) fails.
var capsLimitArgs = []string{
	"--max-input-bytes=1234567", "--max-jobs=9", "--job-wait=1500ms", "--max-conns=40",
	"--header-timeout=2500ms", "--idle-timeout=70s", "--tcp-fin-wait=3100ms", "--max-header-bytes=1000",
	"--max-msg-bytes=128KiB", "--max-line-bytes=7000", "--rate-limit=2.5", "--rate-burst=11",
	"--keepalive-min-time=42s", "--max-jobs-per-peer=3", "--max-requests-per-peer=5",
	"--peer-ipv6-prefix=48", "--grpc-max-streams=33", "--grpc-max-requests=70", "--grpc-max-conns=50",
	"--grpc-max-conns-per-peer=6", "--grpc-conn-idle=90s", "--max-metadata-bytes=3KiB",
	"--spool-disk=77MiB", "--require-end",
}

// reportedLimits are halfclosed's flags that Capabilities reports.
var reportedLimits = map[string]reportedLimit{
	"max-input-bytes":         {"max_input_bytes", int64(1234567)},
	"max-jobs":                {"max_jobs", int32(9)},
	"job-wait":                {"job_wait_ms", int64(1500)},
	"max-conns":               {"max_tcp_conns", int64(40)},
	"header-timeout":          {"header_timeout_ms", int64(2500)},
	"idle-timeout":            {"idle_timeout_ms", int64(70000)},
	"tcp-fin-wait":            {"tcp_fin_wait_ms", int64(3100)},
	"max-header-bytes":        {"max_tcp_header_bytes", int64(1000)},
	"max-msg-bytes":           {"max_msg_bytes", int64(128 << 10)},
	"max-line-bytes":          {"max_line_bytes", int64(7000)},
	"rate-limit":              {"rate_limit_per_second", 2.5},
	"rate-burst":              {"rate_burst", int64(11)},
	"keepalive-min-time":      {"keepalive_min_time_ms", int64(42000)},
	"max-jobs-per-peer":       {"max_jobs_per_peer", int64(3)},
	"max-requests-per-peer":   {"max_requests_per_peer", int64(5)},
	"peer-ipv6-prefix":        {"peer_ipv6_prefix", int32(48)},
	"grpc-max-streams":        {"max_grpc_streams_per_conn", int64(33)},
	"grpc-max-requests":       {"max_grpc_requests", int64(70)},
	"grpc-max-conns":          {"max_grpc_conns", int64(50)},
	"grpc-max-conns-per-peer": {"max_grpc_conns_per_peer", int64(6)},
	"grpc-conn-idle":          {"grpc_conn_idle_ms", int64(90000)},
	"max-metadata-bytes":      {"max_metadata_bytes", int64(3 << 10)},
	"spool-disk":              {"spool_disk_bytes", int64(77 << 20)},
	"require-end":             {"require_end", true},
}

// derivedLimits are Limits fields that no flag sets alone, and what they
// are derived from (TestCapabilitiesLimitsInEffect checks them).
var derivedLimits = map[protoreflect.Name]string{
	"max_grpc_requests_per_peer": "an address's share of --grpc-max-requests",
}

// notReported are halfclosed's flags (and --print-limits' keys) that
// Capabilities does not report, each with the reason.
var notReported = map[string]string{
	"grpc-addr":       "an address: the client dialled it",
	"tcp-addr":        "an address; without it max_tcp_header_bytes is 0",
	"tcp-route":       "addresses and their pipelines; without any (and --tcp-addr) max_tcp_conns and tcp_fin_wait_ms are 0",
	"health-addr":     "the operator's probe endpoint, plain HTTP",
	"metrics-addr":    "the operator's metrics endpoint",
	"pprof":           "the operator's profiling endpoint",
	"spool-mem":       "memory a job holds before spilling: the server's trade of memory for disk, no limit a job meets (spool_disk_bytes is)",
	"spool-dir":       "a path on the server",
	"tcp-sendfile":    "how the server sends a spilled reply; the bytes are the same",
	"tcp-raw-accept":  "how the server accepts and reads; the bytes are the same",
	"tcp-recv-lowat":  "when the server's reader wakes; the bytes are the same",
	"tls-cert":        "a credential: a client learns it by connecting (Capabilities needs it already)",
	"tls-key":         "a credential, the server's secret",
	"tls-client-ca":   "a credential: a client learns it by connecting (Capabilities needs it already)",
	"auth-token-file": "credentials, secret; Capabilities needs a token already",
	"tcp-insecure":    "whether raw-TCP ports want a credential: a client learns it from the error line",
	"log-level":       "the server's log",
	"log-format":      "the server's log",
	"log-flush":       "the server's log",
	"drain-delay":     "a shutdown's timing: clients see health NOT_SERVING, then UNAVAILABLE, whatever it is",
	"shutdown-grace":  "a shutdown's timing: no limit a call meets while the server serves",
	"gc-percent":      "Go runtime tuning",
	"memory-limit":    "Go runtime tuning (the Go heap's soft limit)",
	"no-interceptors": "hidden, for benchmarks only",
	"help":            "information, not a setting",
	"h":               "information, not a setting",
	"version":         "information, not a setting",
	"generate":        "information, not a setting",
	"print-limits":    "information, not a setting",
	// --print-limits' keys.
	"job_memory":        "the server's memory sizing: what a one-stage gRPC job may hold",
	"stream_memory":     "the server's memory sizing: what an open gRPC stream may hold",
	"memory_limit":      "Go runtime tuning (--memory-limit, derived)",
	"memory_limit_from": "where memory_limit came from",
}

// printLimitsReported maps --print-limits' keys that Capabilities reports
// to their Limits fields.
var printLimitsReported = map[string]protoreflect.Name{
	"max_jobs":          "max_jobs",
	"grpc_max_requests": "max_grpc_requests",
}

// TestCapabilitiesReportsEveryLimitFlag walks every flag of halfclosed
// and every key --print-limits prints: each is reported by Capabilities
// (and then holds the value the daemon was started with), or listed in
// notReported with the reason. A new flag, or a new key, fails it until
// it is one or the other; so does a Limits field no flag accounts for.
// Capabilities omitted --rate-limit, --rate-burst, --grpc-max-streams,
// --max-conns and the other limits of the gRPC edge.
func TestCapabilitiesReportsEveryLimitFlag(t *testing.T) {
	fs := newSpec(defaultConfig()).Flags
	fs.VisitAll(func(f *flag.Flag) {
		_, rep := reportedLimits[f.Name]
		reason, not := notReported[f.Name]
		switch {
		case rep && not:
			t.Errorf("--%s is both reported and listed as not reported", f.Name)
		case !rep && !not:
			t.Errorf("--%s: Capabilities does not report it: add it to Limits (and reportedLimits), or to notReported with the reason", f.Name)
		case not && reason == "":
			t.Errorf("--%s is not reported, with no reason", f.Name)
		}
	})
	for name := range reportedLimits {
		if fs.Lookup(name) == nil {
			t.Errorf("reportedLimits names --%s, which halfclosed has not", name)
		}
	}

	// --print-limits' keys, from its output.
	cfg, err := parseConfig([]string{"--print-limits"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := printInfo(cfg, &out, io.Discard); code != 0 {
		t.Fatalf("--print-limits: exit %d", code)
	}
	keys := 0
	for sc := bufio.NewScanner(&out); sc.Scan(); keys++ {
		key, _, _ := strings.Cut(sc.Text(), " ")
		_, rep := printLimitsReported[key]
		if _, not := notReported[key]; rep == not {
			t.Errorf("--print-limits' %q: in printLimitsReported %v, in notReported %v: want exactly one", key, rep, not)
		}
	}
	if keys < len(printLimitsReported) {
		t.Errorf("--print-limits printed %d lines:\n%s", keys, out.String())
	}

	// Every Limits field is some flag's, or derived.
	claimed := map[protoreflect.Name]string{}
	for name, r := range reportedLimits {
		if other, dup := claimed[r.field]; dup {
			t.Errorf("--%s and --%s both report %s", name, other, r.field)
		}
		claimed[r.field] = name
	}
	fields := (&apiv1.Limits{}).ProtoReflect().Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		_, byFlag := claimed[fd.Name()]
		_, derived := derivedLimits[fd.Name()]
		if byFlag == derived {
			t.Errorf("Limits.%s: reported for a flag %v, derived %v: want exactly one", fd.Name(), byFlag, derived)
		}
	}

	// The values, as the daemon was started.
	d := startDaemon(t, capsLimitArgs...)
	caps, err := apiv1.NewComputeServiceClient(rawGRPC(t, d.grpcAddr(), nil)).Capabilities(testCtx(t), &apiv1.CapabilitiesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	l := caps.GetLimits().ProtoReflect()
	for name, r := range reportedLimits {
		fd := fields.ByName(r.field)
		if fd == nil {
			t.Errorf("--%s: Limits has no field %s", name, r.field)
			continue
		}
		if got := l.Get(fd).Interface(); got != r.want {
			t.Errorf("--%s: Limits.%s = %v (%T), want %v (%T)", name, r.field, got, got, r.want, r.want)
		}
	}
}

// TestCapabilitiesEdgeLimitsOff: the limits of the gRPC edge and the
// raw-TCP adapter are 0 where they are off, as the proto says: no rate
// limit (and then no burst, whatever --rate-burst says), no raw-TCP port
// (no connection cap, no FIN wait), no per-address connection cap, no
// idle close.
func TestCapabilitiesEdgeLimitsOff(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want map[protoreflect.Name]any
	}{
		{nil, map[protoreflect.Name]any{
			"rate_limit_per_second": 0.0, "rate_burst": int64(0), "max_tcp_conns": int64(1024), "tcp_fin_wait_ms": int64(5000),
			"max_grpc_streams_per_conn": int64(100), "max_grpc_conns": int64(1024), "max_grpc_conns_per_peer": int64(256),
			"grpc_conn_idle_ms": int64(300000), "keepalive_min_time_ms": int64(10000), "spool_disk_bytes": int64(4 << 30), "require_end": false,
		}},
		{[]string{"--tcp-addr=", "--rate-burst=9", "--grpc-conn-idle=0", "--grpc-max-conns-per-peer=0", "--keepalive-min-time=0", "--spool-disk=0"}, map[protoreflect.Name]any{
			"rate_limit_per_second": 0.0, "rate_burst": int64(0), "max_tcp_conns": int64(0), "tcp_fin_wait_ms": int64(0), "max_tcp_header_bytes": int64(0),
			"max_grpc_conns_per_peer": int64(0), "grpc_conn_idle_ms": int64(0), "keepalive_min_time_ms": int64(0), "spool_disk_bytes": int64(0),
		}},
		// Routes alone: the raw-TCP adapter's connections are capped,
		// though there is no header line.
		{[]string{"--tcp-addr=", "--tcp-route=127.0.0.1:0=wc -c", "--max-conns=8"}, map[protoreflect.Name]any{
			"max_tcp_conns": int64(8), "tcp_fin_wait_ms": int64(5000), "max_tcp_header_bytes": int64(0),
		}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			d := startDaemon(t, tc.args...)
			caps, err := apiv1.NewComputeServiceClient(rawGRPC(t, d.grpcAddr(), nil)).Capabilities(testCtx(t), &apiv1.CapabilitiesRequest{})
			if err != nil {
				t.Fatal(err)
			}
			l := caps.GetLimits().ProtoReflect()
			for name, want := range tc.want {
				if got := l.Get(l.Descriptor().Fields().ByName(name)).Interface(); got != want {
					t.Errorf("Limits.%s = %v, want %v", name, got, want)
				}
			}
		})
	}
}
