package digest

import (
	"crypto/sha256"
	"hash"
	"runtime"
	"testing"

	"github.com/halfclose/halfclose/compute"
)

// TestB3HelperPanicReachesTheCaller: a panic on one of BLAKE3's helper
// goroutines (here a task whose data is missing) is raised again on the
// goroutine that ran the job, where a stage's or a job's recover fails
// the job; on the helper it ended the process. No helper is left.
func TestB3HelperPanicReachesTheCaller(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	j := &b3Job{tasks: make([]b3Task, 64), key: &[8]uint32{}}
	v := recovered(func() { j.run(true) })
	if v == nil {
		t.Fatal("run returned; want a panic")
	}
	j.wg.Wait() // the helpers end (goleak checks none is left)
}

// panicHash panics on every write.
type panicHash struct{ hash.Hash }

func (panicHash) Write([]byte) (int, error) { panic("boom in a hash") }

// boomAndSHA256 is a MultiHash's algorithms: one that panics, one that
// does not.
func boomAndSHA256() []*Algo {
	return []*Algo{
		{Name: "boom", New: func() hash.Hash { return panicHash{sha256.New()} }},
		{Name: "sha256", New: sha256.New},
	}
}

// recovered runs f and returns what it panicked with (nil: it returned).
func recovered(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

// TestMultiHashPanicReachesTheOwner: a hash that panics on its goroutine
// of a MultiHash no longer ends the process: the owner's Write or Sums
// panics with it (a *compute.HelperPanic), never returning sums, and
// Close still ends every goroutine.
func TestMultiHashPanicReachesTheOwner(t *testing.T) {
	m := NewMultiHash(boomAndSHA256())
	defer m.Close()
	v := recovered(func() {
		for range 8 {
			m.Write(make([]byte, mhBlockSize))
		}
		m.Sums()
	})
	if _, ok := v.(*compute.HelperPanic); !ok {
		t.Fatalf("recovered %v; want a *compute.HelperPanic", v)
	}
}

// TestMultiHashPanicRaisedByClose: a hash's panic that no Write or Sums
// raised (the input ended in an error right after the block was
// dispatched) is raised by Close, after every goroutine ended, so that the
// job's recover logs it. Before, Close dropped it: a server fault that
// left no trace when the job failed for another reason.
func TestMultiHashPanicRaisedByClose(t *testing.T) {
	m := NewMultiHash(boomAndSHA256())
	m.Write(make([]byte, mhBlockSize-1)) // held: not dispatched
	m.cur.buf = append(m.cur.buf, 0)
	m.dispatch() // to the hashes' goroutines; no Write checks after it
	v := recovered(m.Close)
	if _, ok := v.(*compute.HelperPanic); !ok {
		t.Fatalf("Close recovered %v; want a *compute.HelperPanic", v)
	}
}

// TestB3CallerPanicWaitsForHelpers: when a task panics on the goroutine
// that ran the job, run still waits for its helpers before the panic goes
// on (each helper here took a task that panicked too, which it recorded):
// a helper left running read the caller's data after the job had
// given it back. Before, run panicked at once, its helpers still at work.
func TestB3CallerPanicWaitsForHelpers(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	j := &b3Job{tasks: make([]b3Task, 64), key: &[8]uint32{}}
	v := recovered(func() { j.run(true) })
	if _, helper := v.(*compute.HelperPanic); v == nil || helper {
		t.Fatalf("run panicked with %v; want the caller's own panic", v)
	}
	done := j.fault.Load() != nil // a helper's panic: it ran, and is done
	j.wg.Wait()                   // for goleak, when it is not
	if !done {
		t.Error("run's panic went on before its helpers were done")
	}
}
