package main

import (
	"flag"

	"github.com/halfclose/halfclose/internal/cli"
)

// serverSpec describes halfclosed's flags (defined in fs by newSpec) for
// --help, the man page and the completions.
func serverSpec(fs *flag.FlagSet) *cli.Spec {
	return &cli.Spec{
		Name:     "halfclosed",
		Summary:  "the halfclose server: remote commands whose reply starts at the end of input",
		Synopsis: []string{"[flags]"},
		Description: `Serves the gRPC ComputeService (Digest, Run, Capabilities, with server
reflection and health) and a raw-TCP adapter over one compute engine. A job
reads its whole input, which ends with the client's half-close (a gRPC
CloseSend or a TCP FIN), and only then replies; a cancel, a reset, a timeout
or a limit aborts it and nothing is computed from partial input.

The raw-TCP command port reads a pipeline on the first line and the input
after it: (echo sha256sum; cat file) | nc -N 127.0.0.1 50052. A route port
(--tcp-route) runs one fixed pipeline over its whole stream. halfclosed
needs no config file; SIGTERM, SIGINT or SIGHUP drains it (--drain-delay,
--shutdown-grace), and a second one ends the drain at once, cutting the
jobs still running with an error.`,
		Flags: fs,
		Groups: []cli.Group{
			{Title: "Listeners", Flags: []string{"grpc-addr", "tcp-addr", "tcp-route", "health-addr", "metrics-addr", "pprof"}},
			{Title: "Limits", Flags: []string{"max-input-bytes", "max-jobs", "job-wait", "max-conns", "header-timeout", "idle-timeout", "tcp-fin-wait", "max-header-bytes", "max-msg-bytes", "max-line-bytes", "rate-limit", "rate-burst", "keepalive-min-time"}},
			{Title: "Fairness", Flags: []string{"max-jobs-per-peer", "max-requests-per-peer", "peer-ipv6-prefix", "grpc-max-streams", "grpc-max-requests", "grpc-max-conns", "grpc-max-conns-per-peer", "grpc-conn-idle", "max-metadata-bytes"}},
			{Title: "Spooling", Flags: []string{"spool-mem", "spool-dir", "spool-disk", "tcp-sendfile"}},
			{Title: "Security", Flags: []string{"tls-cert", "tls-key", "tls-client-ca", "auth-token-file", "tcp-insecure", "require-end"}},
			{Title: "Logging", Flags: []string{"log-level", "log-format", "log-flush"}},
			{Title: "Runtime", Flags: []string{"drain-delay", "shutdown-grace", "gc-percent", "memory-limit", "tcp-recv-lowat", "tcp-raw-accept"}},
			{Title: "Information", Flags: []string{"help", "version", "generate", "print-limits"}},
		},
		Short:     map[string]string{"help": "h"},
		Hidden:    map[string]bool{"no-interceptors": true},
		EnvPrefix: "HALFCLOSE",
		NoEnv:     map[string]bool{"help": true, "version": true, "generate": true, "print-limits": true},
		Values: map[string]string{
			"tls-cert": "file", "tls-key": "file", "tls-client-ca": "file", "auth-token-file": "file",
			"spool-dir":      "dir",
			"log-level":      "debug info warn error",
			"log-format":     "text json",
			"tcp-raw-accept": "inline off all",
			"generate":       "man complete-bash complete-zsh complete-fish",
		},
		ValueNames: map[string]string{
			"grpc-addr": "HOST:PORT", "tcp-addr": "HOST:PORT", "health-addr": "HOST:PORT", "metrics-addr": "HOST:PORT",
			"tcp-route":       "ADDR=PIPELINE",
			"max-input-bytes": "BYTES", "max-header-bytes": "BYTES", "max-msg-bytes": "BYTES", "max-line-bytes": "BYTES", "max-metadata-bytes": "BYTES",
			"spool-mem": "BYTES", "spool-disk": "BYTES", "memory-limit": "BYTES",
			"max-jobs": "N", "max-conns": "N", "rate-burst": "N", "gc-percent": "PERCENT",
			"max-jobs-per-peer": "N", "max-requests-per-peer": "N", "peer-ipv6-prefix": "BITS", "grpc-max-streams": "N", "grpc-max-conns": "N", "grpc-max-requests": "N", "grpc-max-conns-per-peer": "N", "grpc-conn-idle": "DURATION",
			"rate-limit": "PER-SECOND",
			"job-wait":   "DURATION", "header-timeout": "DURATION", "idle-timeout": "DURATION", "tcp-fin-wait": "DURATION",
			"keepalive-min-time": "DURATION", "log-flush": "DURATION", "drain-delay": "DURATION", "shutdown-grace": "DURATION",
			"tls-cert": "FILE", "tls-key": "FILE", "tls-client-ca": "FILE", "auth-token-file": "FILE",
			"spool-dir": "DIR", "log-level": "LEVEL", "log-format": "FORMAT", "generate": "KIND",
		},
		Sections: []cli.Section{
			{Title: "Exit status", Text: `0: stopped by SIGTERM, SIGINT or SIGHUP after the drain (a second signal
included).

1: a listener, certificate, token file or --spool-dir that cannot be used;
nothing was served. Or the output of --help, --version, --generate or
--print-limits could not be written.

2: a bad flag or flag value (a route whose pipeline does not compile
included).`},
			{Title: "Examples", Text: `  halfclosed
  halfclosed --tcp-route 127.0.0.1:7001=sha256sum --metrics-addr 127.0.0.1:9090
  HALFCLOSE_MAX_JOBS=8 halfclosed --tls-cert server.pem --tls-key server-key.pem`},
			{Title: "See also", Text: `halfclose(1); docs/operations.md and docs/protocol.md in the source.`},
		},
	}
}
