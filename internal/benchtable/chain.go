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
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// chainBar is the least acceptable throughput of the full interceptor
// chain relative to none.
const chainBar = 0.8

// chainDuration is how long ghz loads each server, with chainConcurrency
// calls at a time.
var chainDuration = 5 * time.Second

const chainConcurrency = 32

func init() {
	const group = "grpc chain: 1 KiB Digest calls"
	register(Row{
		Group: group, Name: "halfclosed --no-interceptors", Baseline: true,
		Run: func(env *Env) (Result, error) { return chainRow(env, false) },
	})
	register(Row{
		Group: group, Name: "full chain (metrics, logging, auth, recovery)", Bar: chainBar,
		Run: func(env *Env) (Result, error) { return chainRow(env, true) },
	})
}

// chainRow loads a halfclosed of its own with ghz, with the production
// chain (metrics, logging at info to a discarded stderr, bearer auth; rate
// limit off) or with --no-interceptors. Its throughput is calls/s times
// 1 KiB, so the ratio of the two rows is the ratio of calls per second.
func chainRow(env *Env, chain bool) (Result, error) {
	args, auth := []string{"--no-interceptors"}, ""
	if chain {
		const token = "benchmark-token"
		tokens := filepath.Join(env.DataDir, "chain-tokens")
		if err := os.WriteFile(tokens, []byte(token+"\n"), 0o600); err != nil {
			return Result{}, err
		}
		args = []string{"--metrics-addr=127.0.0.1:0", "--auth-token-file=" + tokens}
		auth = "Bearer " + token
	}
	name := "chain-bare.log"
	if chain {
		name = "chain-full.log"
	}
	rps, err := chainLoad(env.BinDir, filepath.Join(env.DataDir, name), env.Runs, args, auth)
	if err != nil {
		return Result{}, err
	}
	return Result{Bytes: int64(rps * 1024), Elapsed: time.Second, Note: fmt.Sprintf("%.0f calls/s", rps)}, nil
}

// chainLoad starts halfclosed with args, runs ghz against it and returns
// the calls per second.
func chainLoad(binDir, logPath string, runs int, args []string, auth string) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(runs)*(chainDuration+time.Minute))
	defer cancel()
	d := exec.CommandContext(ctx, filepath.Join(binDir, "halfclosed"),
		append([]string{"--grpc-addr=127.0.0.1:0", "--tcp-addr=", "--log-format=json"}, args...)...)
	// The log goes to a file, as an operator's would: a pipe read by this
	// process would bill the reader's CPU to the logging under test.
	logf, err := os.Create(logPath)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	d.Stderr = logf
	if err := d.Start(); err != nil {
		return 0, err
	}
	exited := make(chan struct{})
	go func() { d.Wait(); close(exited) }()
	defer func() { d.Process.Signal(os.Interrupt); <-exited }()
	addr, err := chainAddr(logPath, exited)
	if err != nil {
		return 0, err
	}

	data := fmt.Sprintf(`[{"header":{"algorithms":["ALGORITHM_SHA256"]}},{"data":%q}]`,
		base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), 1024)))
	gargs := []string{"--insecure", "--call", "halfclose.v1.ComputeService.Digest", "-d", data,
		"-z", chainDuration.String(), "-c", fmt.Sprint(chainConcurrency), "--connections", "4", "--format", "json", "--disable-template-functions", "--disable-template-data"}
	if auth != "" {
		md, _ := json.Marshal(map[string]string{"authorization": auth})
		gargs = append(gargs, "-m", string(md))
	}
	// Like the other rows: several loads of the same warm server, the best
	// counts (the machine is shared and noisy).
	best := 0.0
	for range max(runs, 1) {
		rps, err := ghzLoad(ctx, binDir, gargs, addr)
		if err != nil {
			return 0, err
		}
		best = max(best, rps)
	}
	return best, nil
}

// ghzLoad runs ghz once and returns the calls per second.
func ghzLoad(ctx context.Context, binDir string, gargs []string, addr string) (float64, error) {
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, "ghz"), append(gargs, addr)...).Output()
	if err != nil {
		return 0, fmt.Errorf("ghz: %w", err)
	}
	var rep struct {
		RPS          float64        `json:"rps"`
		StatusCodes  map[string]int `json:"statusCodeDistribution"`
		ErrorSummary map[string]int `json:"errorDistribution"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		return 0, fmt.Errorf("ghz output: %w", err)
	}
	// ghz cancels the calls in flight when the time is up (Canceled, or
	// Unavailable "transport is closing"): at most chainConcurrency of them.
	cut := 0
	for code, n := range rep.StatusCodes {
		switch code {
		case "OK":
		case "Canceled", "Unavailable":
			cut += n
		default:
			return 0, fmt.Errorf("ghz: %d calls ended %s: %v", n, code, rep.ErrorSummary)
		}
	}
	if cut > chainConcurrency {
		return 0, fmt.Errorf("ghz: %d calls cut short: %v", cut, rep.ErrorSummary)
	}
	return rep.RPS, nil
}

// chainAddr reads halfclosed's JSON log file until it names its gRPC address.
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
			return "", fmt.Errorf("halfclosed exited before listening: %s", b)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return "", errors.New("halfclosed did not listen within 30s")
}
