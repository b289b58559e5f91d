//go:build linux

// The cost of the production interceptor chain, with ghz.

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// chainBar is the least acceptable throughput of the full interceptor
// chain relative to none.
const chainBar = 0.9

// chainDuration is how long ghz loads a server at a time, with
// chainConcurrency calls at a time.
var chainDuration = 2 * time.Second

const chainConcurrency = 32

// chainServers are the servers the chain rows load, in chainRuns.loads'
// order: a bare grpc-go Digest handler (bare.go), halfclosed without its
// interceptors, and halfclosed with them.
const (
	chainBareGRPC = iota
	chainNone
	chainFull
	chainServers
)

// chainRows are the rows of the interceptor chain's cost: against
// halfclosed --no-interceptors (the same daemon but for the chain), and
// against a bare grpc-go handler (grpc.NewServer() and a Digest that
// hashes, bare.go), the comparison issue 14 names.
func chainRows() []Row {
	var rs []Row
	const group = "grpc chain: 1 KiB Digest calls"
	const full = "full chain (metrics, logging, auth, recovery)"
	rs = append(rs, Row{
		Group: group, Name: "halfclosed --no-interceptors", Baseline: true,
		Run: func(env *Env) (Result, error) { return chainRow(env, chainNone, chainNone) },
	})
	rs = append(rs, Row{
		Group: group, Name: full, Bar: chainBar,
		Run: func(env *Env) (Result, error) { return chainRow(env, chainFull, chainNone) },
	})
	const bareGroup = "grpc chain vs bare grpc-go: 1 KiB Digest calls"
	rs = append(rs, Row{
		Group: bareGroup, Name: "bare grpc-go handler (grpc.NewServer(), sha256)", Baseline: true,
		Run: func(env *Env) (Result, error) { return chainRow(env, chainBareGRPC, chainBareGRPC) },
	})
	rs = append(rs, Row{
		Group: bareGroup, Name: "halfclosed --no-interceptors",
		Run: func(env *Env) (Result, error) { return chainRow(env, chainNone, chainBareGRPC) },
	})
	rs = append(rs, Row{
		Group: bareGroup, Name: full, Bar: chainBar,
		Run: func(env *Env) (Result, error) { return chainRow(env, chainFull, chainBareGRPC) },
	})
	return rs
}

// chainRuns is what the chain rows show: their servers are measured
// together, once.
var chainRuns struct {
	once  sync.Once
	loads [chainServers]chainLoads
	err   error
}

// chainLoads are one server's loads: calls/s, the server's CPU time per
// call (from /proc), and ghz's (wait4's rusage), of each.
type chainLoads struct{ rps, cpu, ghzCPU []float64 }

// chainRow returns server, one of those that chainMeasure loads in
// turn, against base, its group's baseline. Its throughput is calls/s
// times 1 KiB, so the ratio of two rows is the ratio of calls per second.
//
// The baseline row is the median of its loads. Another row is that median
// times the median ratio of each of its loads to the baseline's load of
// the same round (paired, as benchstat would): the machine drifts between
// loads, and the paired ratio varied ±0.01 between runs where the ratio
// of the two medians varied ±0.03. The median of its own loads is in the
// note.
func chainRow(env *Env, server, base int) (Result, error) {
	chainRuns.once.Do(func() {
		chainRuns.loads, chainRuns.err = chainMeasure(env)
	})
	if chainRuns.err != nil {
		return Result{}, chainRuns.err
	}
	b, l := chainRuns.loads[base], chainRuns.loads[server]
	rps := median(b.rps)
	note := fmt.Sprintf("%.0f calls/s, median of %d loads; server CPU %s per call, ghz's %s", rps, len(b.rps), cpuPerCall(b.cpu), cpuPerCall(b.ghzCPU))
	if server != base {
		ratios := make([]float64, len(l.rps))
		for i, f := range l.rps {
			ratios[i] = f / b.rps[i]
		}
		slices.Sort(ratios)
		rps *= median(ratios)
		note = fmt.Sprintf("%.0f calls/s, median of %d loads; ratio to the baseline's load of its round: median %.2f, %.2f–%.2f; server CPU %s per call, ghz's %s",
			median(l.rps), len(l.rps), median(ratios), ratios[0], ratios[len(ratios)-1], cpuPerCall(l.cpu), cpuPerCall(l.ghzCPU))
	}
	return Result{Bytes: int64(rps * 1024), Elapsed: time.Second, Rate: true, Note: note}, nil
}

// cpuPerCall is the median and range of a server's CPU time per call.
func cpuPerCall(us []float64) string {
	if len(us) == 0 {
		return "unknown"
	}
	s := slices.Sorted(slices.Values(us))
	return fmt.Sprintf("%.0f µs (%.0f–%.0f)", median(s), s[0], s[len(s)-1])
}

// chainOrders are the orders of the servers' loads in a round, taken in
// turn: each of the six orders of the three, so that each server follows
// and precedes each other as often, and the machine's drift (it is
// shared) falls on all alike.
var chainOrders = [6][chainServers]int{
	{chainBareGRPC, chainNone, chainFull},
	{chainFull, chainNone, chainBareGRPC},
	{chainNone, chainFull, chainBareGRPC},
	{chainBareGRPC, chainFull, chainNone},
	{chainFull, chainBareGRPC, chainNone},
	{chainNone, chainBareGRPC, chainFull},
}

// chainMeasure starts three servers of its own on loopback — the bare
// grpc-go handler (this program, as serveBare), halfclosed with
// --no-interceptors and halfclosed with the production chain (metrics,
// logging at info to a file, bearer auth; rate limit off) — then loads
// them with ghz in turn, 6×-runs rounds of one short load each, in the
// orders of chainOrders. Each load also reads the server's CPU time (user
// and system, /proc/PID/stat) before and after, for its CPU per call:
// what the chain costs the server, which the calls/s of a machine shared
// with ghz (and, here, with others) only show diluted and noisy.
func chainMeasure(env *Env) (loads [chainServers]chainLoads, err error) {
	const token = "benchmark-token"
	tokens := filepath.Join(env.DataDir, "chain-tokens")
	if err := os.WriteFile(tokens, []byte(token+"\n"), 0o600); err != nil {
		return loads, err
	}
	rounds := 6 * max(env.Runs, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rounds)*chainServers*(chainDuration+30*time.Second))
	defer cancel()

	self, err := os.Executable()
	if err != nil {
		return loads, err
	}
	halfclosed := filepath.Join(env.BinDir, "halfclosed")
	var srvs [chainServers]*chainServer
	for i, argv := range [chainServers][]string{
		chainBareGRPC: {self},
		chainNone:     chainDaemonArgs(halfclosed, "--no-interceptors"),
		chainFull:     chainDaemonArgs(halfclosed, "--metrics-addr=127.0.0.1:0", "--auth-token-file="+tokens),
	} {
		var extraEnv []string
		if i == chainBareGRPC {
			extraEnv = []string{bareEnv + "=127.0.0.1:0"}
		}
		srv, err := startChainServer(ctx, filepath.Join(env.DataDir, fmt.Sprintf("chain-%d.log", i)), extraEnv, argv...)
		if err != nil {
			return loads, err
		}
		defer srv.stop()
		srvs[i] = srv
	}

	data := fmt.Sprintf(`[{"header":{"algorithms":["ALGORITHM_SHA256"]}},{"data":%q}]`,
		base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), 1024)))
	// Every server gets the same calls, token included (the others
	// ignore it): only the server differs, not what ghz does per call.
	md, _ := json.Marshal(map[string]string{"authorization": "Bearer " + token})
	gargs := func(d time.Duration) []string {
		return []string{"--insecure", "--call", "halfclose.v1.ComputeService.Digest", "-d", data, "-m", string(md),
			"-z", d.String(), "-c", fmt.Sprint(chainConcurrency), "--connections", "4",
			"--format", "json", "--disable-template-functions", "--disable-template-data"}
	}
	// A first short load of each warms it up (connections, pools, stacks).
	for _, srv := range srvs {
		if _, _, _, err := ghzLoad(ctx, env.BinDir, gargs(time.Second), srv.addr); err != nil {
			return loads, err
		}
	}
	args := gargs(chainDuration)
	for i := range rounds {
		for _, k := range chainOrders[i%len(chainOrders)] {
			srv := srvs[k]
			cpu0, cpuErr := procCPU(srv.pid)
			rps, calls, ghzCPU, err := ghzLoad(ctx, env.BinDir, args, srv.addr)
			if err != nil {
				return loads, err
			}
			cpu1, cpuErr1 := procCPU(srv.pid)
			loads[k].rps = append(loads[k].rps, rps)
			if cpuErr == nil && cpuErr1 == nil && calls > 0 {
				loads[k].cpu = append(loads[k].cpu, float64((cpu1-cpu0).Microseconds())/float64(calls))
			}
			if calls > 0 {
				loads[k].ghzCPU = append(loads[k].ghzCPU, float64(ghzCPU.Microseconds())/float64(calls))
			}
		}
	}
	return loads, nil
}

// chainDaemonArgs is the command line of a halfclosed that chainMeasure
// loads: args after the settings common to both. ghz's calls all come
// from 127.0.0.1: the per-peer caps are off, so that the load measures
// the server, not the fairness policy.
func chainDaemonArgs(halfclosed string, args ...string) []string {
	return append([]string{halfclosed, "--grpc-addr=127.0.0.1:0", "--tcp-addr=", "--health-addr=", "--log-format=json",
		"--max-jobs-per-peer=0", "--max-requests-per-peer=0"}, args...)
}

// chainServer is a server that chainMeasure loads.
type chainServer struct {
	addr string
	pid  int
	stop func()
}

// startChainServer starts argv with extraEnv added to its environment,
// its stderr to logPath (a file, as an operator's log would be: a pipe
// read by this process would bill the reader's CPU to the logging under
// test), and returns it once its log names its gRPC address.
func startChainServer(ctx context.Context, logPath string, extraEnv []string, argv ...string) (*chainServer, error) {
	d := command(ctx, argv[0], argv[1:]...)
	if extraEnv != nil {
		d.Env = append(os.Environ(), extraEnv...)
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	d.Stderr = logf
	if err := d.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	exited := make(chan struct{})
	go func() { d.Wait(); close(exited) }()
	stop := func() { d.Process.Signal(os.Interrupt); <-exited; logf.Close() }
	addr, err := chainAddr(logPath, exited)
	if err != nil {
		stop()
		return nil, err
	}
	return &chainServer{addr: addr, pid: d.Process.Pid, stop: stop}, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ghzLoad runs ghz once and returns the calls per second, the calls
// made and ghz's CPU time (user and system). ghz shares the machine with
// the server: a server that makes ghz spend more a call (its replies'
// timing changes how ghz's goroutines sleep and wake) lowers the calls/s
// too.
func ghzLoad(ctx context.Context, binDir string, gargs []string, addr string) (rps float64, calls int64, cpu time.Duration, err error) {
	cmd := command(ctx, filepath.Join(binDir, "ghz"), append(gargs, addr)...)
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("ghz: %w", err)
	}
	cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	var rep struct {
		Count        int64          `json:"count"`
		RPS          float64        `json:"rps"`
		StatusCodes  map[string]int `json:"statusCodeDistribution"`
		ErrorSummary map[string]int `json:"errorDistribution"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		return 0, 0, 0, fmt.Errorf("ghz output: %w", err)
	}
	// ghz cancels the calls in flight when the time is up (Canceled, or
	// Unavailable "transport is closing"): about chainConcurrency of them
	// (a few more when some were being started); more is a real failure.
	cut := 0
	for code, n := range rep.StatusCodes {
		switch code {
		case "OK":
		case "Canceled", "Unavailable":
			cut += n
		default:
			return 0, 0, 0, fmt.Errorf("ghz: %d calls ended %s: %v", n, code, rep.ErrorSummary)
		}
	}
	if cut > 2*chainConcurrency {
		return 0, 0, 0, fmt.Errorf("ghz: %d calls cut short: %v", cut, rep.ErrorSummary)
	}
	return rep.RPS, rep.Count, cpu, nil
}

// chainAddr reads a server's JSON log file until it names its gRPC address.
func chainAddr(logPath string, exited <-chan struct{}) (string, error) {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		b, err := os.ReadFile(logPath)
		if err != nil {
			return "", err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			var l struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "grpc listening" {
				return l.Addr, nil
			}
			if strings.Contains(sc.Text(), `"level":"ERROR"`) {
				return "", errors.New(sc.Text())
			}
		}
		select {
		case <-exited:
			return "", fmt.Errorf("%s: exited before listening: %s", logPath, b)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("%s: no listening within 30s", logPath)
}
