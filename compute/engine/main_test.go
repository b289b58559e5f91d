package engine_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

// defaultTestTimeout bounds a wait on the code under test, so a hang
// fails the test that waited (testenv.Recv) instead of the whole run: it
// is far past anything the awaited step takes on a busy machine.
const defaultTestTimeout = 30 * time.Second

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
