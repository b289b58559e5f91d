package text

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/halfclose/halfclose/compute"
)

// TestSortHelperPanicFailsTheJob: sortHeld sorts half the lines on a
// goroutine of its own; a panic in the comparison there (here a sorter
// without its done flag) is the sort's internal error, not the end of the
// process.
func TestSortHelperPanicFailsTheJob(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	s := &sorter{ctx: context.Background(), o: &sortOpts{lineCmp: true, eol: '\n'}}
	for i := range 4 * sortParallelMin {
		s.lines = append(s.lines, lineEntry(fmt.Appendf(nil, "%05d", (i*7919)%10007), 0))
	}
	err := s.sortHeld()
	if compute.CodeOf(err) != compute.CodeInternal {
		t.Fatalf("err = %v; want an internal error", err)
	}
}
