package computetest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
)

// RunPipelineStats is RunPipeline with the job's engine.Stats: its exit
// status and the diagnostics its commands reported (compute.Diagnose),
// both zero on error.
func RunPipelineStats(t testing.TB, text string, input []byte) ([]byte, engine.Stats, error) {
	t.Helper()
	e := Engine(engine.Config{})
	p, err := e.Compile(text)
	if err != nil {
		return nil, engine.Stats{}, err
	}
	ctx, cancel := testenv.Context(t)
	defer cancel()
	var out bytes.Buffer
	st, err := e.Run(ctx, p, bytes.NewReader(input), &out)
	return out.Bytes(), st, err
}

// GNUStderr runs a real tool as GNU does (LC_ALL=C, input on stdin, a
// pipe) and returns its stdout, the lines of its stderr (without their
// newlines; GNU gzip writes an empty line before its warning) and its
// exit status.
func GNUStderr(t testing.TB, input []byte, argv ...string) (stdout []byte, stderr []string, status int) {
	t.Helper()
	out, errOut, status := gnuRun(t, input, false, argv...)
	if len(errOut) > 0 {
		stderr = strings.Split(strings.TrimSuffix(string(errOut), "\n"), "\n")
	}
	return out, stderr, status
}
