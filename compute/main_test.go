package compute

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"

	"go.uber.org/goleak"
)

const defaultTestTimeout = 30 * time.Second

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// runPipeline compiles text and runs it over input through an Engine, as an
// adapter would, returning the output.
func runPipeline(t testing.TB, text string, input []byte) ([]byte, error) {
	t.Helper()
	return runPipelineEnv(t, Config{}, text, input)
}

func runPipelineEnv(t testing.TB, cfg Config, text string, input []byte) ([]byte, error) {
	t.Helper()
	e := NewEngine(cfg)
	p, err := e.Compile(text)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	var out bytes.Buffer
	_, err = e.Run(ctx, p, bytes.NewReader(input), &out)
	return out.Bytes(), err
}

// gnu runs a real tool with LC_ALL=C, input on stdin: the oracle. It returns
// stdout and whether the tool exited zero. The test is skipped only when the
// tool is not installed outside CI; in CI a missing tool fails.
func gnu(t testing.TB, input []byte, argv ...string) ([]byte, bool) {
	t.Helper()
	path, err := exec.LookPath(argv[0])
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("oracle %s not installed: %v", argv[0], err)
		}
		t.Skipf("oracle %s not installed", argv[0])
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
	cmd.Stdin = bytes.NewReader(input)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("oracle %v: %v", argv, err)
	}
	return stdout.Bytes(), err == nil
}

// sh runs a shell pipeline locally with LC_ALL=C as the oracle for
// multi-stage pipelines. The text is the test's own, never a request's.
func sh(t testing.TB, input []byte, script string) ([]byte, bool) {
	t.Helper()
	return gnu(t, input, "/bin/sh", "-c", script)
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
