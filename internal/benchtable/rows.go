//go:build linux

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"testing"
)

// The rows of issue 2 and issue 14 (digests: the remote sha256sum against
// in-process Go SHA-256 and the local GNU tool) and issue 3 (filters
// through the raw-TCP command port against the local GNU tools).

// goSHA256Row is in-process Go SHA-256 reading the file: the baseline of
// issue 14's transport goals.
func goSHA256Row(group string) Row {
	return Row{
		Group: group, Name: "Go crypto/sha256, in process (read + hash)", Baseline: true,
		Run: func(env *Env) (Result, error) {
			in, err := env.RandomFile()
			if err != nil {
				return Result{}, err
			}
			var sum []byte
			d, cpu, err := env.Best(func(*Rep) error {
				f, err := os.Open(in)
				if err != nil {
					return err
				}
				defer f.Close()
				h := sha256.New()
				if _, err := io.CopyBuffer(struct{ io.Writer }{h}, struct{ io.Reader }{f}, make([]byte, 256<<10)); err != nil {
					return err
				}
				sum = h.Sum(nil)
				return nil
			})
			return Result{Bytes: env.Size, Elapsed: d, OutputSum: SumOf([]byte(hex.EncodeToString(sum) + "  -\n")), CPU: cpu}, err
		},
	}
}

// sha256Rows: issue 14's transport goals against in-process Go SHA-256,
// then issue 2's against GNU sha256sum. Rows timing the same command in
// both groups run it once (Env.TimeCommand remembers).
func sha256Rows() []Row {
	grpcStdin := func(env *Env) (Result, error) {
		in, err := env.RandomFile()
		if err != nil {
			return Result{}, err
		}
		return env.TimeCommand(in, env.Bin("halfclose"), "--addr", env.GRPCAddr, "sha256sum")
	}
	grpcFile := func(env *Env) (Result, error) {
		in, err := env.RandomFile()
		if err != nil {
			return Result{}, err
		}
		res, err := env.TimeCommand(os.DevNull, env.Bin("halfclose"), "--addr", env.GRPCAddr, "sha256sum", in)
		res.Bytes, res.OutputSum = env.Size, nil // the line names the file
		return res, err
	}
	route := func(env *Env) (Result, error) {
		in, err := env.RandomFile()
		if err != nil {
			return Result{}, err
		}
		argv, err := env.nc(env.Routes["sha256sum"])
		if err != nil {
			return Result{}, err
		}
		return env.TimeCommand(in, argv...)
	}
	gnu := func(env *Env) (Result, error) {
		in, err := env.RandomFile()
		if err != nil {
			return Result{}, err
		}
		return env.TimeCommand(in, "sha256sum")
	}
	const g14, g2 = "sha256 vs Go", "sha256 vs GNU"
	return []Row{
		goSHA256Row(g14),
		{Group: g14, Name: "halfclose sha256sum < file (gRPC)", Bar: 0.8, Needs: []string{"sha256sum"}, Run: grpcStdin},
		{Group: g14, Name: "halfclose sha256sum FILE (gRPC)", Bar: 0.8, Needs: []string{"sha256sum"}, Run: grpcFile},
		{Group: g14, Name: "nc -N route=sha256sum < file (TCP)", Bar: 0.9, Needs: []string{"sha256sum"}, Routes: []string{"sha256sum"}, Run: route},
		ncCeiling(g14),
		{Group: g14, Name: "halfclose head -c 0 < file (gRPC): the transport alone", Needs: []string{"head"}, Run: noSum(grpcTransport)},
		{Group: g14, Name: "GNU sha256sum < file", Run: gnu},
		{Group: g14, Name: "Go crypto/sha256, in memory (hash only)", Run: func(env *Env) (Result, error) {
			buf := make([]byte, 1<<20)
			r := testing.Benchmark(func(b *testing.B) {
				b.SetBytes(int64(len(buf)))
				h := sha256.New()
				for b.Loop() {
					h.Write(buf)
				}
			})
			return Result{Bytes: r.Bytes * int64(r.N), Elapsed: r.T, Note: "the CPU ceiling of one core: no I/O"}, nil
		}},

		{Group: g2, Name: "GNU sha256sum < file", Baseline: true, Run: gnu},
		{Group: g2, Name: "halfclose sha256sum < file (gRPC)", Bar: 2, Needs: []string{"sha256sum"}, Run: grpcStdin},
		{Group: g2, Name: "nc -N route=sha256sum < file (TCP)", Bar: 3, Needs: []string{"sha256sum"}, Routes: []string{"sha256sum"}, Run: route},
		{Group: g2, Name: "halfclose --tcp sha256sum < file", Needs: []string{"sha256sum"}, Run: func(env *Env) (Result, error) {
			in, err := env.RandomFile()
			if err != nil {
				return Result{}, err
			}
			return env.TimeCommand(in, env.Bin("halfclose"), "--tcp", "--tcp-addr", env.TCPAddr, "sha256sum")
		}},
	}
}

// filterRows: issue 3's filters through the raw-TCP command port.
func filterRows() []Row {
	var rs []Row
	// Issue 3: filters, `nc -N host TCPPORT < (PIPELINE line + file)`
	// against the GNU tool reading the file.
	filter := func(group, pipeline string, argv []string, bar float64, sortInput bool) {
		input := func(env *Env) (string, error) {
			if sortInput {
				return env.LogFile(env.SortSize)
			}
			return env.LogFile(env.Size)
		}
		rs = append(rs, Row{
			Group: group, Name: "GNU " + pipeline + " < log", Baseline: true,
			Run: func(env *Env) (Result, error) {
				in, err := input(env)
				if err != nil {
					return Result{}, err
				}
				// Through a pipe, as the server reads it: GNU wc sizes
				// its columns from fstat when stdin is a regular file.
				return env.TimeCommandHeader("", in, argv...)
			},
		})
		rs = append(rs, Row{
			Group: group, Name: "nc -N < (" + pipeline + " + log) (TCP)", Bar: bar, Needs: []string{argv[0]},
			Run: func(env *Env) (Result, error) {
				in, err := input(env)
				if err != nil {
					return Result{}, err
				}
				nc, err := env.nc(env.TCPAddr)
				if err != nil {
					return Result{}, err
				}
				return env.TimeCommandHeader(pipeline+"\n", in, nc...)
			},
		})
	}
	filter("grep -F", "grep -F ERROR", []string{"grep", "-F", "ERROR"}, 0.5, false)
	filter("grep -E", "grep -E 'ERROR.*(timeout|user)'", []string{"grep", "-E", "ERROR.*(timeout|user)"}, 0.5, false)
	filter("sort", "sort", []string{"sort"}, 0.33, true)
	filter("wc", "wc", []string{"wc"}, 0.5, false)
	return rs
}

// RandomFile is the -size file of random bytes.
func (e *Env) RandomFile() (string, error) {
	return e.File("random", e.Size, func(w io.Writer, size int64) error {
		_, err := io.CopyN(w, rand.NewChaCha8([32]byte{'b', 'e', 'n', 'c', 'h'}), size)
		return err
	})
}

// LogFile is a file of size bytes of generated log text: timestamps,
// levels, a few words, numbers.
func (e *Env) LogFile(size int64) (string, error) {
	return e.File("log", size, writeLog)
}

func writeLog(w io.Writer, size int64) error {
	r := rand.New(rand.NewPCG(1, 2))
	levels := []string{"INFO", "DEBUG", "DEBUG", "WARN", "ERROR"}
	words := []string{"alpha", "beta", "gamma", "delta", "request", "id=42", "user", "session", "timeout", "retry", "cache", "miss", "GET", "/api/v1/jobs"}
	buf := make([]byte, 0, 64<<10)
	for written := int64(0); written < size; {
		buf = buf[:0]
		for len(buf) < 60<<10 {
			buf = append(buf, "2026-11-"...)
			buf = strconv.AppendInt(buf, 10+int64(r.IntN(18)), 10)
			buf = append(buf, ' ')
			buf = strconv.AppendInt(buf, 10+int64(r.IntN(14)), 10)
			buf = append(buf, ':')
			buf = strconv.AppendInt(buf, 10+int64(r.IntN(50)), 10)
			buf = append(buf, ' ')
			buf = append(buf, levels[r.IntN(len(levels))]...)
			for range 3 + r.IntN(8) {
				buf = append(buf, ' ')
				buf = append(buf, words[r.IntN(len(words))]...)
			}
			buf = append(buf, " n="...)
			buf = strconv.AppendInt(buf, int64(r.IntN(1_000_000)), 10)
			buf = append(buf, '\n')
		}
		n, err := w.Write(buf)
		written += int64(n)
		if err != nil {
			return err
		}
	}
	return nil
}

// nc is the OpenBSD nc command line that sends stdin to addr, then FIN.
func (e *Env) nc(addr string) ([]string, error) {
	nc, err := LookPath("nc")
	if err != nil {
		return nil, err
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	return []string{nc, "-N", host, port}, nil
}
