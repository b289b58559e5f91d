package builtin_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/halfclose/halfclose/compute/internal/computetest"
)

func TestMain(m *testing.M) {
	// gzip -lv lists times in the local zone: ours and GNU's (gnuFrom's
	// TZ) the same one. Without the zone's data, the local zone stays,
	// and so may differ from GNU's only in a -lv case.
	_ = computetest.UseTZ()
	goleak.VerifyTestMain(m)
}
