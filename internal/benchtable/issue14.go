//go:build linux

// Issue 14's rows besides sha256 and grep: the transports alone, b3sum,
// several digests in one call, and small TCP jobs.

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/client"
)

// grpcTransport is `halfclose head -c 0 < file` over gRPC: the transport
// alone (the command discards its input).
func grpcTransport(env *Env) (Result, error) {
	in, err := env.RandomFile()
	if err != nil {
		return Result{}, err
	}
	return env.TimeCommand(in, env.Bin("halfclose"), "--addr", env.GRPCAddr, "head", "-c", "0")
}

// transportRows: the raw-TCP port's transport alone against nc → nc on
// loopback.
func transportRows() []Row {
	const g = "TCP transport alone"
	return []Row{
		{Group: g, Name: "nc -N → nc -l, loopback", Baseline: true, Run: ncToNc},
		{Group: g, Name: "nc -N < ('head -c 0' + file) (TCP port)", Needs: []string{"head"}, Run: func(env *Env) (Result, error) {
			in, err := env.RandomFile()
			if err != nil {
				return Result{}, err
			}
			nc, err := env.nc(env.TCPAddr)
			if err != nil {
				return Result{}, err
			}
			return env.TimeCommandHeader("head -c 0\n", in, nc...)
		}},
		{Group: g, Name: "halfclose head -c 0 < file (gRPC)", Needs: []string{"head"}, Run: grpcTransport},
	}
}

// b3Rows: b3sum over gRPC against the b3sum tool, and against the gRPC
// transport alone.
func b3Rows() []Row {
	b3 := func(env *Env) (Result, error) {
		in, err := env.RandomFile()
		if err != nil {
			return Result{}, err
		}
		return env.TimeCommand(in, env.Bin("halfclose"), "--addr", env.GRPCAddr, "b3sum")
	}
	return []Row{
		{Group: "b3sum", Name: "b3sum tool < file", Baseline: true, Run: func(env *Env) (Result, error) {
			in, err := env.RandomFile()
			if err != nil {
				return Result{}, err
			}
			b3sum, err := LookPath("b3sum")
			if err != nil {
				return Result{}, err
			}
			return env.TimeCommand(in, b3sum)
		}},
		{Group: "b3sum", Name: "halfclose b3sum < file (gRPC)", Bar: 0.35, Needs: []string{"b3sum"}, Run: b3},
		// Outputs differ here by nature: not compared.
		{Group: "b3sum vs transport", Name: "halfclose head -c 0 < file (gRPC)", Baseline: true, Needs: []string{"head"}, Run: noSum(grpcTransport)},
		{Group: "b3sum vs transport", Name: "halfclose b3sum < file (gRPC)", Needs: []string{"b3sum"}, Run: noSum(b3)},
	}
}

// noSum is run without an output digest to compare.
func noSum(run func(env *Env) (Result, error)) func(env *Env) (Result, error) {
	return func(env *Env) (Result, error) {
		r, err := run(env)
		r.OutputSum = nil
		return r, err
	}
}

var fourAlgos = []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256, apiv1.Algorithm_ALGORITHM_SHA1, apiv1.Algorithm_ALGORITHM_MD5, apiv1.Algorithm_ALGORITHM_BLAKE3}

// digestCall times Digest RPCs of the random file with algos, through
// the Go client.
func digestCall(env *Env, algos []apiv1.Algorithm) (Result, error) {
	in, err := env.RandomFile()
	if err != nil {
		return Result{}, err
	}
	c, err := client.Dial(env.GRPCAddr)
	if err != nil {
		return Result{}, err
	}
	defer c.Close()
	var sums []byte
	d, cpu, err := env.Best(func(*Rep) error {
		f, err := os.Open(in)
		if err != nil {
			return err
		}
		defer f.Close()
		resp, err := c.Digest(env.Context(), f, algos, nil)
		if err != nil {
			return err
		}
		sums = nil
		for _, d := range resp.GetDigests() {
			sums = append(sums, d.GetRaw()...)
		}
		return nil
	})
	return Result{Bytes: env.Size, Elapsed: d, OutputSum: SumOf(sums), CPU: cpu}, err
}

// multiDigestRows: one Digest call of four algorithms against the slowest
// of them alone (goal: wall ≤ 1.15x, i.e. a ratio ≥ 0.87).
func multiDigestRows() []Row {
	const g = "Digest sha256+sha1+md5+blake3"
	return []Row{
		{Group: g, Name: "the slowest of the four alone (Digest RPC)", Baseline: true, Daemon: true, Run: func(env *Env) (Result, error) {
			var slowest Result
			var notes []string
			for _, a := range fourAlgos {
				r, err := digestCall(env, []apiv1.Algorithm{a})
				if err != nil {
					return Result{}, err
				}
				notes = append(notes, fmt.Sprintf("%s %.0f MB/s", strings.TrimPrefix(a.String(), "ALGORITHM_"), r.MBps()))
				if r.Elapsed > slowest.Elapsed {
					slowest = r
				}
			}
			slowest.OutputSum = nil
			slowest.Note = "alone: " + strings.Join(notes, ", ")
			return slowest, nil
		}},
		{Group: g, Name: "all four in one Digest call", Bar: 1 / 1.15, Daemon: true, Run: func(env *Env) (Result, error) {
			r, err := digestCall(env, fourAlgos)
			r.OutputSum = nil
			return r, err
		}},
	}
}

// smallJobDuration is how long each small-jobs load runs, with
// smallJobClients connections at a time.
const (
	smallJobDuration = 3 * time.Second
	smallJobClients  = 8
)

// smallTCPRows: 1 KiB sha256sum jobs per second on a TCP route, against
// socat forking sha256sum per connection (goal: ≥ 30x).
func smallTCPRows() []Row {
	const g = "small TCP jobs: 1 KiB sha256sum"
	return []Row{
		{Group: g, Name: "socat TCP-LISTEN,fork EXEC:sha256sum", Baseline: true, Run: func(env *Env) (Result, error) {
			socat, err := LookPath("socat")
			if err != nil {
				return Result{}, err
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return Result{}, err
			}
			addr := l.Addr().String()
			l.Close()
			ctx, cancel := context.WithCancel(env.Context())
			defer cancel()
			// -t 10: after the client's FIN socat waits at most 0.5 s
			// by default for sha256sum's reply, and drops it on a busy
			// machine.
			cmd := command(ctx, socat, "-t", "10", "TCP-LISTEN:"+addr[strings.LastIndex(addr, ":")+1:]+",bind=127.0.0.1,reuseaddr,fork,backlog=128", "EXEC:sha256sum")
			cmd.Env = append(os.Environ(), "LC_ALL=C")
			if err := cmd.Start(); err != nil {
				return Result{}, err
			}
			waited := false
			defer func() {
				if !waited {
					cancel()
					cmd.Wait()
				}
			}()
			for i := 0; ; i++ {
				if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
					c.Close()
					break
				} else if i > 100 {
					return Result{}, fmt.Errorf("socat did not listen: %v", err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			res, err := smallJobs(env, addr)
			// socat's CPU, with that of the sha256sum it forked and
			// reaped (wait4 counts them): the server side.
			cancel()
			cmd.Wait()
			waited = true
			res.CPU.Server, res.CPU.HasServer = cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime(), true
			return res, err
		}},
		{Group: g, Name: "route=sha256sum (TCP)", Bar: 30, Needs: []string{"sha256sum"}, Routes: []string{"sha256sum"}, Run: func(env *Env) (Result, error) {
			return smallJobs(env, env.Routes["sha256sum"])
		}},
	}
}

// smallJobs loads addr with 1 KiB jobs from smallJobClients connections at
// a time for smallJobDuration (smallLoad), checks every reply against the
// first, and returns the rate (as 1 KiB per job).
func smallJobs(env *Env, addr string) (Result, error) {
	input := bytes.Repeat([]byte("0123456789abcdef"), 64)
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return Result{}, err
	}
	var first []byte
	deadline := time.Now().Add(smallJobDuration)
	load := &smallLoad{
		addr:  ta,
		input: input,
		conns: smallJobClients,
		more:  func() bool { return time.Now().Before(deadline) },
		check: func(reply []byte) error {
			if first == nil {
				first = bytes.Clone(reply)
			} else if !bytes.Equal(first, reply) {
				return fmt.Errorf("replies differ: %q, %q", first, reply)
			}
			return nil
		},
		stall: 30 * time.Second,
	}
	self0 := selfCPU()
	d0, derr0 := env.daemonCPU()
	t0 := time.Now()
	n, err := load.run(env.Context())
	elapsed := time.Since(t0)
	d1, derr1 := env.daemonCPU()
	self1 := selfCPU()
	if err != nil {
		return Result{}, err
	}
	if n == 0 {
		return Result{}, fmt.Errorf("no job done")
	}
	var rep Rep // the generator ran in this process
	return Result{Bytes: n * int64(len(input)), Elapsed: elapsed, CPU: rep.cpu(self1-self0, d1-d0, derr0 == nil && derr1 == nil),
		OutputSum: SumOf(first),
		Note:      fmt.Sprintf("%.0f jobs/s, %d connections at a time", float64(n)/elapsed.Seconds(), smallJobClients)}, nil
}
