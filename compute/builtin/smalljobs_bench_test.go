package builtin_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/cputime"
)

// smallJobInput is a log of about 1 KiB (27 lines): the size of a typical
// small job, where what a command allocates per job, not its speed per
// byte, is its cost.
func smallJobInput() []byte {
	levels := []string{"INFO", "DEBUG", "INFO", "ERROR", "WARN", "INFO", "DEBUG"}
	var b bytes.Buffer
	for i := range 27 {
		fmt.Fprintf(&b, "2026-12-03 19:%02d:%02d %s svc=api req=%d took %dms\n",
			i%60, (i*7)%60, levels[i%len(levels)], 1000+i*37, (i*13)%97)
	}
	return b.Bytes()
}

// smallJobs are common command lines, each run as a job of its own.
var smallJobs = []string{
	"sha256sum",
	"md5sum",
	"wc -l",
	"wc",
	"grep -c ERROR",
	"grep ERROR",
	"sort",
	"sort -n",
	"sort -u",
	"sort -k3,3 -k5n",
	"uniq -c",
	"sort | uniq -c",
	"tac",
	"tail -n 5",
	"head -n 5",
	"head -n -5",
	"cut -d' ' -f1",
	"cut -c1-10",
	"tr a-z A-Z",
	"tr -s ' '",
	"base64",
	"base64 -d",
	"gzip -c",
	"gunzip -c",
}

// BenchmarkSmallJobs runs each of smallJobs through engine.Run over a
// small input, reporting the bytes and allocations a job costs, and the
// process's CPU time a job (cpu-ns/op: every goroutine's and the garbage
// collector's, which wall time on a shared machine hides): a command that
// allocates large buffers per job (which Go zeroes, faults in and
// collects) costs far more than its work on small inputs.
func BenchmarkSmallJobs(b *testing.B) {
	in := smallJobInput()
	e := computetest.Engine(engine.Config{})
	for _, text := range smallJobs {
		b.Run(text, func(b *testing.B) {
			input := in
			switch text {
			case "base64 -d":
				input = runOnce(b, "base64", in)
			case "gunzip -c":
				input = runOnce(b, "gzip -c", in)
			}
			p, err := e.Compile(text)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(input)))
			cpu0 := cpuTime()
			for b.Loop() {
				if _, err := e.Run(b.Context(), p, bytes.NewReader(input), computetest.Discard{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// runOnce runs text over in and returns its output.
func runOnce(b *testing.B, text string, in []byte) []byte {
	b.Helper()
	out, err := computetest.RunPipeline(b, text, in)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	d, err := cputime.Process()
	if err != nil {
		return 0
	}
	return d
}
