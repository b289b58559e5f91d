package grep_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

// defaultTestTimeout bounds a wait on the code under test, so a hang
// fails the test that waited (testenv.Recv) instead of the whole run: it
// is far past anything the awaited step takes on a busy machine.
const defaultTestTimeout = 30 * time.Second

// hangTimeout bounds a wait on the code under test that nothing else
// bounds (testenv.Recv, Within, Until): twice defaultTestTimeout, so that
// the work awaited, whose own calls and deadlines run under
// defaultTestTimeout, fails with its own error first on a slow machine,
// and only a step that would never end reaches this one.
const hangTimeout = 2 * defaultTestTimeout

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
