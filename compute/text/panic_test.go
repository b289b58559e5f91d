package text_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/text"
)

// panicWriter panics on every write.
type panicWriter struct{}

func (panicWriter) Write([]byte) (int, error) { panic("boom in the writer") }

// TestSortOutputPanicFailsTheJob: sort's output goroutine (lineOut.run)
// writes to the next stage or the reply; a panic there fails the sort
// with an internal error naming the panic. Before, it reached the top of
// that goroutine and ended the process with every job in it.
func TestSortOutputPanicFailsTheJob(t *testing.T) {
	dir := t.TempDir()
	disk := compute.NewDiskBudget(1 << 30)
	s, err := text.BuildSort(&compute.Env{Spool: compute.SpoolConfig{MemBytes: 64 << 10, Dir: dir, Disk: disk}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	for i := range 100000 { // 600 KB: spills, and fills more than one output buffer
		fmt.Fprintf(&in, "%05d\n", (i*7919)%100000)
	}
	err = s.Run(t.Context(), strings.NewReader(in.String()), panicWriter{})
	if compute.CodeOf(err) != compute.CodeInternal || !strings.Contains(fmt.Sprint(err.(*compute.Error).Err), "boom in the writer") {
		t.Fatalf("err = %v; want an internal error whose cause names the panic", err)
	}
	if disk.Used() != 0 {
		t.Errorf("the disk budget still holds %d bytes", disk.Used())
	}
	assertEmptyDir(t, dir)
}
