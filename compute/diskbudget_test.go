package compute

import (
	"errors"
	"sync"
	"testing"
)

// TestDiskBudgetCauseFollowsMark: Cause is the error of the create that
// set the mark while Unusable, and nil while not, however the marks and
// clears of jobs' spill files cross. A mark and a clear that crossed
// (each swapped the mark, then took the lock in the other's order) left
// the spool usable with a Cause, or unusable with none: the server's log
// line named no cause ("err":null).
func TestDiskBudgetCauseFollowsMark(t *testing.T) {
	cause := errors.New("spool: cannot create spill file: no such file or directory")
	for range 5000 {
		b := NewDiskBudget(1)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, c := range []error{cause, nil, cause, nil, cause, nil, cause, nil} {
			wg.Go(func() {
				<-start
				b.setUnusable(c)
			})
		}
		close(start)
		wg.Wait()
		if got := b.Cause(); b.Unusable() != (got != nil) {
			t.Fatalf("Unusable %v with Cause %v", b.Unusable(), got)
		}
	}
}
