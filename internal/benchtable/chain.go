//go:build benchtable_chain

// The build tag keeps this file out of builds until the harness (main.go:
// register, Row, Env, Result) is on the branch; drop it then, and adapt
// the last lines of chainRowInit if Result's fields differ.

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
var chainDuration = 10 * time.Second

const chainConcurrency = 32

func init() {
	register(Row{
		Name:  "grpc interceptor chain: 1 KiB Digest calls/s (chain vs none)",
		Group: "server",
		Run: func(env *Env) (Result, error) {
			r, err := measureChain(os.Getenv("E2E_BIN_DIR"))
			if err != nil {
				return Result{}, err
			}
			return Result{Text: r.String()}, nil
		},
	})
}

// chainResult is the measurement: calls per second with and without the
// middleware.
type chainResult struct {
	Chain, Bare float64
}

func (r chainResult) Ratio() float64 { return r.Chain / r.Bare }

func (r chainResult) String() string {
	verdict := "ok"
	if r.Ratio() < chainBar {
		verdict = fmt.Sprintf("BELOW the %.1fx bar", chainBar)
	}
	return fmt.Sprintf("chain %.0f calls/s, none %.0f calls/s, ratio %.2fx (%s)", r.Chain, r.Bare, r.Ratio(), verdict)
}

// measureChain loads two halfclosed servers in turn with ghz: one with the
// production chain (metrics, logging at info to a discarded stderr, bearer
// auth; rate limit off), one started with --no-interceptors.
func measureChain(binDir string) (chainResult, error) {
	if binDir == "" {
		return chainResult{}, errors.New("E2E_BIN_DIR is not set (make bench sets it)")
	}
	dir, err := os.MkdirTemp("", "halfclose-chain")
	if err != nil {
		return chainResult{}, err
	}
	defer os.RemoveAll(dir)
	const token = "benchmark-token"
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(token+"\n"), 0o600); err != nil {
		return chainResult{}, err
	}
	var res chainResult
	for _, run := range []struct {
		out  *float64
		args []string
		md   string
	}{
		{&res.Bare, []string{"--no-interceptors"}, ""},
		{&res.Chain, []string{"--metrics-addr=127.0.0.1:0", "--auth-token-file=" + tokens}, "Bearer " + token},
	} {
		rps, err := chainLoad(binDir, run.args, run.md)
		if err != nil {
			return res, err
		}
		*run.out = rps
	}
	return res, nil
}

// chainLoad starts halfclosed with args, runs ghz against it and returns
// the calls per second.
func chainLoad(binDir string, args []string, auth string) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), chainDuration+time.Minute)
	defer cancel()
	d := exec.CommandContext(ctx, filepath.Join(binDir, "halfclosed"),
		append([]string{"--grpc-addr=127.0.0.1:0", "--tcp-addr=", "--log-format=json"}, args...)...)
	stderr, err := d.StderrPipe()
	if err != nil {
		return 0, err
	}
	if err := d.Start(); err != nil {
		return 0, err
	}
	defer func() { d.Process.Signal(os.Interrupt); d.Wait() }()
	addr, err := chainAddr(stderr)
	if err != nil {
		return 0, err
	}
	go io.Copy(io.Discard, stderr) // the per-call log lines

	data := fmt.Sprintf(`[{"header":{"algorithms":["ALGORITHM_SHA256"]}},{"data":%q}]`,
		base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), 1024)))
	gargs := []string{"--insecure", "--call", "halfclose.v1.ComputeService.Digest", "-d", data,
		"-z", chainDuration.String(), "-c", fmt.Sprint(chainConcurrency), "--connections", "4", "--format", "json", "--disable-template-functions", "--disable-template-data"}
	if auth != "" {
		md, _ := json.Marshal(map[string]string{"authorization": auth})
		gargs = append(gargs, "-m", string(md))
	}
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

// chainAddr reads halfclosed's JSON log until it names its gRPC address.
func chainAddr(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var l struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "grpc listening" {
			return l.Addr, nil
		}
		if strings.Contains(sc.Text(), `"level":"ERROR"`) {
			return "", errors.New(sc.Text())
		}
	}
	return "", errors.New("halfclosed exited before listening")
}
