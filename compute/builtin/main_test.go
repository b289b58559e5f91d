package builtin_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/halfclose/halfclose/compute/internal/computetest"
)

func TestMain(m *testing.M) {
	// gzip -lv lists times in the local zone: ours and GNU's (gnuFrom's
	// TZ) the same one, a rule that needs no zone data. It fails only
	// on a bad rule, which computetest's TestTZLikeGlibc and
	// compute/text's gzip -l tests report.
	_ = computetest.UseTZ()
	goleak.VerifyTestMain(m)
}
