package main

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHuntOpsFlagBeatsEnv: a flag given on the command line wins over its
// variable: a repeatable one is not added to, and a variable the flag
// overrides is not even parsed.
func TestHuntOpsFlagBeatsEnv(t *testing.T) {
	t.Setenv("HALFCLOSE_TCP_ROUTE", "127.0.0.1:0=wc -l")
	t.Setenv("HALFCLOSE_MAX_JOBS", "lots")
	t.Setenv("HALFCLOSE_IDLE_TIMEOUT", "-5s")
	cfg, err := parseConfig([]string{"--tcp-route=127.0.0.1:0=sha256sum", "--max-jobs=3", "--idle-timeout=7s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.routes(); len(r) != 1 || r[0].pipeline != "sha256sum" {
		t.Errorf("routes = %+v, want the flag's one alone", r)
	}
	if cfg.maxJobs != 3 || cfg.idleTimeout.String() != "7s" {
		t.Errorf("max-jobs %d, idle-timeout %v", cfg.maxJobs, cfg.idleTimeout)
	}
}

// TestHuntOpsRouteVariableCRLF: a route variable written with CRLF (an
// env file from Windows) gives the routes without their CR, and a blank
// CRLF line is no route (it was one, "\r", refused as not ADDR=PIPELINE).
func TestHuntOpsRouteVariableCRLF(t *testing.T) {
	t.Setenv("HALFCLOSE_TCP_ROUTE", "127.0.0.1:0=wc -c\r\n\r\n127.0.0.1:0=sha256sum\r\n")
	cfg, err := parseConfig(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.routes(); len(r) != 2 || r[0].pipeline != "wc -c" || r[1].pipeline != "sha256sum" {
		t.Errorf("routes = %+v", r)
	}
}

// TestHuntOpsBadValues: a bad value, by flag or variable, is refused with
// a message naming the flag (and the variable).
func TestHuntOpsBadValues(t *testing.T) {
	for _, tc := range []struct {
		env, val string // variable and its value, or "" for args
		args     []string
		want     string
	}{
		{args: []string{"--idle-timeout=-1s"}, want: "--idle-timeout must not be negative"},
		{args: []string{"--shutdown-grace=-1s"}, want: "--shutdown-grace must not be negative"},
		{args: []string{"--job-wait=-1ms"}, want: "--job-wait must not be negative"},
		{env: "HALFCLOSE_IDLE_TIMEOUT", val: "-1s", want: "HALFCLOSE_IDLE_TIMEOUT (--idle-timeout) must not be negative"},
		{args: []string{"--rate-limit=NaN"}, want: "--rate-limit"},
		{args: []string{"--max-input-bytes=4i"}, want: "--max-input-bytes: not a byte count"},
		{args: []string{"--max-input-bytes=4iB"}, want: "--max-input-bytes: not a byte count"},
		{env: "HALFCLOSE_SPOOL_DISK", val: "4ib", want: `HALFCLOSE_SPOOL_DISK (--spool-disk): invalid value "4ib": not a byte count`},
		{env: "HALFCLOSE_MAX_JOBS", val: "x", want: `HALFCLOSE_MAX_JOBS (--max-jobs): invalid value "x": not a whole number`},
		{env: "HALFCLOSE_HEADER_TIMEOUT", val: "10", want: `HALFCLOSE_HEADER_TIMEOUT (--header-timeout): invalid value "10": not a duration`},
		// 32-bit HTTP/2 settings wrapped around: 1 stream, 0 bytes.
		{args: []string{"--grpc-max-streams=4294967297"}, want: "--grpc-max-streams must be at least 1 and at most 4294967295"},
		{args: []string{"--max-metadata-bytes=4GiB"}, want: "--max-metadata-bytes must be at least 1KiB and under 4GiB"},
		{args: []string{"--max-jobs=2147483648"}, want: "--max-jobs must be at least 1 and at most 2147483647"},
		{args: []string{"--max-header-bytes=1025KiB"}, want: "--max-header-bytes must be at least 64 and at most 1MiB"},
	} {
		if tc.env != "" {
			t.Setenv(tc.env, tc.val)
		}
		_, err := parseConfig(tc.args, io.Discard)
		if tc.env != "" {
			os.Unsetenv(tc.env)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s %v: %v, want %q", tc.env, tc.val, tc.args, err, tc.want)
		}
		if _, usage := err.(usageError); !usage {
			t.Errorf("%s=%s %v: %T, want a usage error (status 2)", tc.env, tc.val, tc.args, err)
		}
	}
	// The largest values still start.
	for _, args := range [][]string{{"--grpc-max-streams=4294967295"}, {"--max-metadata-bytes=4194303KiB"}, {"--max-jobs=2147483647"}, {"--max-header-bytes=1MiB"}} {
		if _, err := parseConfig(args, io.Discard); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
	// Units that are units still parse.
	for _, v := range []string{"4KiB", "4K", "4KB", "4kib", "4096", "4096B"} {
		cfg, err := parseConfig([]string{"--max-input-bytes=" + v}, io.Discard)
		if err != nil || cfg.maxInputBytes != 4096 {
			t.Errorf("--max-input-bytes=%s: %v, %d", v, err, cfg.maxInputBytes)
		}
	}
}

// TestHuntOpsSpoolDir: a --spool-dir that cannot hold a spill file fails
// the start, naming the flag, before anything listens; it used to start
// and fail every job that spilled with INTERNAL "internal error".
func TestHuntOpsSpoolDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(t.TempDir(), "missing"), file} {
		cfg, err := parseConfig([]string{"--grpc-addr=127.0.0.1:0", "--tcp-addr=127.0.0.1:0", "--health-addr=", "--spool-dir=" + dir}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		cfg.logOut = io.Discard
		d, err := newServer(cfg)
		if err == nil {
			d.closeListeners()
			d.closeLog()
			t.Errorf("--spool-dir=%s: started", dir)
			continue
		}
		if !strings.Contains(err.Error(), "--spool-dir "+dir+": cannot create a spill file") {
			t.Errorf("--spool-dir=%s: %v", dir, err)
		}
	}
	dir := t.TempDir()
	startDaemon(t, "--spool-dir="+dir)
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("the check left %v in the spool dir", left)
	}
}

// TestHuntOpsListenErrorsNameFlag: an address that cannot be listened on
// fails the start with the flag and its value named. It said only "listen
// tcp 127.0.0.1:50053: bind: address already in use", and a second server
// on one host clashes on --health-addr's default, a port its user never
// typed.
func TestHuntOpsListenErrorsNameFlag(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	busy := held.Addr().String()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--health-addr=" + busy}, "--health-addr " + busy + ": listen tcp " + busy + ": bind: address already in use"},
		{[]string{"--metrics-addr=" + busy}, "--metrics-addr " + busy + ": listen tcp " + busy + ": bind: address already in use"},
		{[]string{"--tcp-addr=" + busy}, "--tcp-addr " + busy + ": listen tcp " + busy},
		{[]string{"--grpc-addr=" + busy}, "--grpc-addr " + busy + ": listen tcp " + busy},
		{[]string{"--tcp-route=" + busy + "=wc -l"}, `--tcp-route "` + busy + `=wc -l": listen tcp ` + busy},
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

// TestHuntOpsInfoIgnoresBadVariable: --help, --version and --generate
// answer whatever the HALFCLOSE_* variables hold; a bad one made them fail
// (exit status 2, "Try 'halfclosed --help'", which failed the same way).
// --print-limits checks the flags as a start would, variables included.
func TestHuntOpsInfoIgnoresBadVariable(t *testing.T) {
	t.Setenv("HALFCLOSE_MAX_JOBS", "lots")
	for _, args := range [][]string{{"--help"}, {"-h"}, {"--version"}, {"--generate=man"}} {
		if cfg, err := parseConfig(args, io.Discard); err != nil {
			t.Errorf("%v with a bad HALFCLOSE_MAX_JOBS: %v", args, err)
		} else if !cfg.help && !cfg.version && cfg.generate == "" {
			t.Errorf("%v: nothing to answer", args)
		}
	}
	for _, args := range [][]string{nil, {"--print-limits"}} {
		if _, err := parseConfig(args, io.Discard); err == nil || !strings.Contains(err.Error(), "HALFCLOSE_MAX_JOBS (--max-jobs)") {
			t.Errorf("%v with a bad HALFCLOSE_MAX_JOBS: %v", args, err)
		}
	}
}

// TestHuntOpsHTTPIdleBounded: the health and metrics ports close a
// keep-alive connection that sends no further request, as the gRPC and
// TCP ports bound theirs: net/http's default kept it open for good (a
// client that sent one probe and then nothing was still connected 25 s
// later, and would have been forever), a descriptor and a goroutine each
// on ports with no connection limit.
func TestHuntOpsHTTPIdleBounded(t *testing.T) {
	d := startDaemon(t)
	if len(d.https) != 2 {
		t.Fatalf("%d HTTP endpoints, want metrics and health", len(d.https))
	}
	for _, h := range d.https {
		if h.srv.IdleTimeout <= 0 || h.srv.IdleTimeout < time.Minute {
			// At least a Prometheus scrape interval, so a scraper keeps
			// its connection.
			t.Errorf("%s port: IdleTimeout %v; want at least a minute, and a bound", h.name, h.srv.IdleTimeout)
		}
	}
}
