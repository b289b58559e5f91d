package text_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/halfclose/halfclose/compute/internal/computetest"
)

// tzErr: the oracles' time zone could not be made this process's
// (computetest.UseTZ); the tests that list times fail with it.
var tzErr error

func TestMain(m *testing.M) {
	// gzip -lv lists times in the local zone: ours and GNU's the same one.
	tzErr = computetest.UseTZ()
	goleak.VerifyTestMain(m)
}
