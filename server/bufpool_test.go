package server

import "testing"

// The buffer pools of connections take their buffers back without an
// allocation (a *[]byte a Put was one: about 3 a 1 KiB TCP job), and hand
// out whole buffers of their size. (Under -race, sync.Pool drops a
// quarter of what it is given: the averages stay under one.)
func TestBufPoolsAllocateNothing(t *testing.T) {
	for _, c := range []struct {
		name string
		size int
		get  func() []byte
	}{
		{"conn", connBufSize, func() []byte { return getTakeBuf((&connInput{}).takeSize()) }},
		{"bulk", bulkBufSize, func() []byte { return getTakeBuf((&connInput{took: bulkAfter}).takeSize()) }},
	} {
		b := c.get()
		if len(b) != c.size || cap(b) != c.size {
			t.Fatalf("%s: a buffer of %d (cap %d), want %d", c.name, len(b), cap(b), c.size)
		}
		putTakeBuf(b[:10])
		if n := testing.AllocsPerRun(100, func() { putTakeBuf(c.get()[:1]) }); n >= 1 {
			t.Errorf("%s: %v allocations a buffer taken and given back, want none", c.name, n)
		}
	}
	// A slice that does not start its array is not taken: as an array
	// of the pool's size it would reach past its end (a panic).
	b := getConnBuf(connBufSize)
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("putTakeBuf of a slice past its array's start: %v", r)
			}
		}()
		putTakeBuf(b[1:])
	}()
}
