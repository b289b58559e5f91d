package grpcopts

import (
	"math/bits"
	"sync"

	"google.golang.org/grpc/mem"
)

// dirtyPool is a mem.BufferPool of power-of-two size classes whose buffers
// are not zeroed when reused. grpc-go's default pool clears every buffer
// it hands out again; on the receive path each buffer is a frame's
// payload, overwritten whole by the copy that fills it, so clearing it
// first is a pass over every received byte for nothing (a few % of the
// server's CPU per GiB received). Every grpc-go use of the pool fills the
// length it asked for before reading it (frames, message assembly,
// decompression); a buffer's stale bytes past that length are never read.
type dirtyPool struct {
	classes [maxClass + 1]sync.Pool // class c holds buffers of cap 1<<c
}

const (
	minClass = 10 // 1 KiB: smaller requests get a 1 KiB buffer
	maxClass = 22 // 4 MiB: larger ones are allocated and not pooled
)

// DirtyPool is the pool the server and the client give grpc-go.
var DirtyPool mem.BufferPool = &dirtyPool{}

func class(n int) int {
	if n <= 1<<minClass {
		return minClass
	}
	return bits.Len(uint(n - 1))
}

func (p *dirtyPool) Get(n int) *[]byte {
	c := class(n)
	if c > maxClass {
		b := make([]byte, n)
		return &b
	}
	if bp, ok := p.classes[c].Get().(*[]byte); ok {
		*bp = (*bp)[:n]
		return bp
	}
	b := make([]byte, n, 1<<c)
	return &b
}

func (p *dirtyPool) Put(bp *[]byte) {
	c := bits.Len(uint(cap(*bp))) - 1
	if c < minClass || c > maxClass || cap(*bp) != 1<<c {
		return // not one of ours
	}
	p.classes[c].Put(bp)
}
