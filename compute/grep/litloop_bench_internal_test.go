package grep

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/internal/cputime"
)

var (
	stageLogOnce sync.Once
	stageLog     []byte
)

// BenchmarkStageLog runs the grep stage alone (no engine, no spool) over
// 64 MiB of the bench log in memory, read 64 KiB at a time, into a
// discarding writer: the search and the output copy of processLit's
// modes. cpu-ms/op is the process's CPU time (getrusage) a run: on a
// shared machine, compare that, old and new alternating.
func BenchmarkStageLog(b *testing.B) {
	stageLogOnce.Do(func() {
		var buf bytes.Buffer
		if err := WriteBenchLog(&buf, 64<<20); err != nil {
			b.Fatal(err)
		}
		stageLog = buf.Bytes()
	})
	for _, argv := range [][]string{
		{"-F", "INFO"}, {"-v", "INFO"}, {"-c", "INFO"}, {"-vc", "INFO"},
		{"-F", "connection reset"}, {"-i", "connection reset"},
		{"-E", "connection reset|timed out|refused"}, {"-o", "timed out"},
	} {
		b.Run(strings.Join(argv, "_"), func(b *testing.B) {
			st, err := buildGrep(&compute.Env{MaxLineBytes: 1 << 20}, argv)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(stageLog)))
			c0 := rusageCPU()
			for b.Loop() {
				if err := st.Run(b.Context(), &chunkReader{stageLog}, discardWriter{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rusageCPU()-c0)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}

// chunkReader reads at most 64 KiB at a time, as the engine's stage reads
// a file or a socket: a copy of 1 MiB or more at once would be memmove's
// non-temporal stores, which leave the text out of the cache.
type chunkReader struct{ b []byte }

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 64<<10)], r.b)
	r.b = r.b[n:]
	return n, nil
}

// rusageCPU is the process's user and system CPU time so far, in ns
// (internal/cputime: syscall.Getrusage kept the package's tests from
// compiling for Windows, which make cross vets).
func rusageCPU() int64 {
	d, err := cputime.Process()
	if err != nil {
		panic(err)
	}
	return int64(d)
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
