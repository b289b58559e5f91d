package server

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/halfclose/halfclose/internal/leakcheck"
)

// defaultTestTimeout bounds every RPC and request a test makes, so a hang
// fails the test instead of the whole run.
const defaultTestTimeout = 30 * time.Second

// hangTimeout bounds a wait on the code under test that nothing else
// bounds (testenv.Recv, Within, Until): twice defaultTestTimeout, so that
// the work awaited, whose own calls and deadlines run under
// defaultTestTimeout, fails with its own error first on a slow machine,
// and only a step that would never end reaches this one.
const hangTimeout = 2 * defaultTestTimeout

func TestMain(m *testing.M) {
	// HALFCLOSE_TCP_RAW_ACCEPT=all (or off) runs every test's plain
	// listeners with that --tcp-raw-accept.
	if v := os.Getenv("HALFCLOSE_TCP_RAW_ACCEPT"); v != "" {
		rawAcceptDefault = v
	}
	goleak.VerifyTestMain(registryCheck{m}, leakcheck.Options()...)
}

// registryCheck fails a run that left connections in the traffic
// registry (h2traffic.go): every test's server has stopped by then.
type registryCheck struct{ m *testing.M }

func (r registryCheck) Run() int {
	code := r.m.Run()
	if n := openTraffic(); code == 0 && n != 0 {
		fmt.Fprintf(os.Stderr, "%d connections left in the traffic registry\n", n)
		return 1
	}
	return code
}
