package grep_test

import (
	"bytes"
	"sync"
	"testing"

	"github.com/halfclose/halfclose/compute/grep"
	"github.com/halfclose/halfclose/compute/internal/computetest"
)

// The benchmarks of issue 14's grep goals, on 64 MiB of the log text that
// make bench greps (grep.WriteBenchLog): each reports x_gnu, its speed as a
// multiple of GNU grep's on the same input in the same run.

var (
	benchLogOnce sync.Once
	benchLog     []byte
)

func grepBenchLog() []byte {
	benchLogOnce.Do(func() {
		var b bytes.Buffer
		b.Grow(64 << 20)
		if err := grep.WriteBenchLog(&b, 64<<20); err != nil {
			panic(err)
		}
		benchLog = b.Bytes()
	})
	return benchLog
}

func benchLogGrep(b *testing.B, argv ...string) {
	computetest.BenchVsGNU(b, grepBenchLog(), append([]string{"grep"}, argv...)...)
}

func BenchmarkLogFRare(b *testing.B)     { benchLogGrep(b, "-F", "connection reset") }
func BenchmarkLogFFrequent(b *testing.B) { benchLogGrep(b, "-F", "INFO") }
func BenchmarkLogI(b *testing.B)         { benchLogGrep(b, "-i", "connection reset") }
func BenchmarkLogIFrequent(b *testing.B) { benchLogGrep(b, "-i", "error") }
func BenchmarkLogEAlt(b *testing.B)      { benchLogGrep(b, "-E", "connection reset|timed out|refused") }
func BenchmarkLogC(b *testing.B)         { benchLogGrep(b, "-cF", "connection reset") }
func BenchmarkLogCFrequent(b *testing.B) { benchLogGrep(b, "-c", "INFO") }
func BenchmarkLogV(b *testing.B)         { benchLogGrep(b, "-v", "INFO") }
func BenchmarkLogVC(b *testing.B)        { benchLogGrep(b, "-vc", "INFO") }
func BenchmarkLogO(b *testing.B)         { benchLogGrep(b, "-o", "timed out") }
func BenchmarkLogOFrequent(b *testing.B) { benchLogGrep(b, "-o", "INFO") }
