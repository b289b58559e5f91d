package server

import "sync/atomic"

// maxIdleAheadWorkers caps the goroutines parked in aheadWorkers.park
// (a few hundred KiB of grown stacks at most).
const maxIdleAheadWorkers = 64

// aheadWorkers runs the receive-ahead loops (recvAhead.loop) on goroutines
// that wait for the next loop once theirs has ended, instead of a new
// goroutine each: a new one starts with a small stack that a gRPC
// stream's receive grows by copying it, about 1.5 µs a call of 1 KiB
// (issue 14, runtime.newstack under the stream's receive); a reused one
// has the grown stack already. At most maxIdleAheadWorkers wait; a loop
// that finds none waiting gets a new goroutine, as before.
//
// A waiting worker runs nothing and holds nothing of a job, and waits for
// the rest of the process's life: the test packages that run servers tell
// goleak to ignore it (its top function is aheadWorkers.park;
// TestAheadWorkersParkedIgnored holds the name).
type aheadWorkers struct {
	next   chan *recvAhead // unbuffered: a send is taken only by a parked worker
	parked atomic.Int32    // workers parked or about to park
}

var aheadPool = &aheadWorkers{next: make(chan *recvAhead)}

// run runs r.loop on a parked worker, or on a new one when none waits.
func (p *aheadWorkers) run(r *recvAhead) {
	select {
	case p.next <- r:
	default:
		go p.work(r)
	}
}

// work runs r's loop, then the loops handed to it while it is one of the
// first maxIdleAheadWorkers to wait.
func (p *aheadWorkers) work(r *recvAhead) {
	for r != nil {
		r.loop()
		r = p.park()
	}
}

// park waits for the next loop, or returns nil at once when enough
// workers wait already.
func (p *aheadWorkers) park() *recvAhead {
	if p.parked.Add(1) > maxIdleAheadWorkers {
		p.parked.Add(-1)
		return nil
	}
	r := <-p.next
	p.parked.Add(-1)
	return r
}
