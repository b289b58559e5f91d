package engine

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/spool"
)

// readOnly hides a reader's other methods (io.ReadAll then calls Read).
type readOnly struct{ io.Reader }

// TestReadAheadStartsDuringDirectRead: the gate (on the last stage's
// goroutine) may start the read-ahead while the first stage is between
// its look at the queue (empty, nothing read ahead) and its own read of
// the source. The read-ahead's bytes then come first: the stage must
// read them from the queue, not the source's next bytes past them. The
// hook runs the gate's wait in that window, deterministically; before
// directLocked, the stage returned the bytes after the first 64 KiB
// first.
func TestReadAheadStartsDuringDirectRead(t *testing.T) {
	input := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{3}).Read(input)
	cfg := compute.SpoolConfig{MemBytes: 64 << 10, Dir: t.TempDir(), Disk: compute.NewDiskBudget(1 << 30)}
	reply := spool.New(cfg)
	defer reply.Close()
	r := newReadAhead(context.Background(), NewInput(bytes.NewReader(input), 0), reply, cfg)
	var werr error
	r.beforeDirect = func() {
		r.beforeDirect = nil
		// A write that would spill one read-ahead buffer: it returns
		// once the read-ahead has read that much.
		werr = r.Wait(0, reply.Mem()+readAheadBuf)
	}
	got, err := io.ReadAll(readOnly{r})
	r.close()
	if err != nil || werr != nil {
		t.Fatalf("read: %v; gate: %v", err, werr)
	}
	if !bytes.Equal(got, input) {
		i := 0
		for i < min(len(got), len(input)) && got[i] == input[i] {
			i++
		}
		t.Fatalf("read %d bytes of %d, differing from byte %d", len(got), len(input), i)
	}
}
