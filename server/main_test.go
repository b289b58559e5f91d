package server

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

// defaultTestTimeout bounds every RPC and request a test makes, so a hang
// fails the test instead of the whole run.
const defaultTestTimeout = 30 * time.Second

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
