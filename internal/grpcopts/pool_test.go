package grpcopts

import (
	"testing"

	"go.uber.org/goleak"
)

// Buffers come in power-of-two classes of at least the size asked for,
// with the length asked for; what is put back is reused by its class only.
func TestDirtyPool(t *testing.T) {
	p := &dirtyPool{}
	for _, n := range []int{1, 1024, 1025, 16384, 16385, 4 << 20} {
		b := p.Get(n)
		if len(*b) != n || cap(*b) < n || cap(*b)&(cap(*b)-1) != 0 {
			t.Fatalf("Get(%d): len %d cap %d", n, len(*b), cap(*b))
		}
		p.Put(b)
	}
	big := p.Get(4<<20 + 1)
	if len(*big) != 4<<20+1 {
		t.Fatalf("Get(4 MiB + 1): len %d", len(*big))
	}
	p.Put(big) // not pooled: not a class size
	odd := make([]byte, 3000)
	p.Put(&odd)
	if b := p.Get(2048); cap(*b) != 2048 {
		t.Fatalf("Get(2048) after a foreign Put: cap %d", cap(*b))
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
