package computetest

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

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

// GNUStderr runs a real tool as GNU does (LC_ALL=C, input on stdin, at
// most 10 seconds) and returns its stdout, the lines of its stderr
// (without their newlines; GNU gzip writes an empty line before its
// warning) and its exit status.
func GNUStderr(t testing.TB, input []byte, argv ...string) (stdout []byte, stderr []string, status int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.Tool(t, argv[0]), argv[1:]...)
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
	cmd.Stdin = bytes.NewReader(input)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("oracle %v: did not finish within 10s", argv)
	case errors.As(err, &ee):
		status = ee.ExitCode()
	case err != nil:
		t.Fatalf("oracle %v: %v", argv, err)
	}
	if errb.Len() > 0 {
		stderr = strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\n")
	}
	return out.Bytes(), stderr, status
}
