package digest

import (
	"encoding/binary"
	"math/bits"
)

// SM3 is the hash of GB/T 32905-2016 (ISO/IEC 10118-3:2018), which GNU
// cksum 9 offers as `-a sm3`. It is a Merkle–Damgård hash with SHA-256's
// padding and a 256-bit state; what follows is written from the
// standard's description: the message expansion to 68 + 64 words, then
// 64 rounds whose boolean functions and constant change after round 16.

const (
	sm3Size      = 32
	sm3BlockSize = 64
)

var sm3IV = [8]uint32{
	0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600,
	0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e,
}

// sm3T holds T_j rotated left by j mod 32, the form every round adds.
var sm3T = func() (t [64]uint32) {
	for j := range t {
		c := uint32(0x79cc4519)
		if j >= 16 {
			c = 0x7a879d8a
		}
		t[j] = bits.RotateLeft32(c, j%32)
	}
	return t
}()

// sm3Digest is a running SM3: the state, the bytes of a partial block,
// and the length so far.
type sm3Digest struct {
	v   [8]uint32
	buf [sm3BlockSize]byte
	nx  int    // bytes held in buf
	len uint64 // bytes written
}

func newSM3() *sm3Digest {
	d := new(sm3Digest)
	d.Reset()
	return d
}

func (d *sm3Digest) Reset() {
	d.v = sm3IV
	d.nx = 0
	d.len = 0
}

func (d *sm3Digest) Size() int      { return sm3Size }
func (d *sm3Digest) BlockSize() int { return sm3BlockSize }

func (d *sm3Digest) Write(p []byte) (int, error) {
	n := len(p)
	d.len += uint64(n)
	if d.nx > 0 {
		k := copy(d.buf[d.nx:], p)
		d.nx += k
		p = p[k:]
		if d.nx < sm3BlockSize {
			return n, nil
		}
		sm3Blocks(&d.v, d.buf[:])
		d.nx = 0
	}
	if whole := len(p) &^ (sm3BlockSize - 1); whole > 0 {
		sm3Blocks(&d.v, p[:whole])
		p = p[whole:]
	}
	d.nx = copy(d.buf[:], p)
	return n, nil
}

// Sum appends the digest of what was written to b; d is unchanged.
func (d *sm3Digest) Sum(b []byte) []byte {
	c := *d
	// Padding: 0x80, zeros to 56 bytes mod 64, the length in bits.
	var pad [sm3BlockSize + 8]byte
	pad[0] = 0x80
	k := 55 - int(c.len%sm3BlockSize)
	if k < 0 {
		k += sm3BlockSize
	}
	binary.BigEndian.PutUint64(pad[1+k:], c.len<<3)
	c.Write(pad[:1+k+8])
	for _, w := range c.v {
		b = binary.BigEndian.AppendUint32(b, w)
	}
	return b
}

// sm3Blocks compresses each whole 64-byte block of p into v.
func sm3Blocks(v *[8]uint32, p []byte) {
	var w [68]uint32
	for ; len(p) >= sm3BlockSize; p = p[sm3BlockSize:] {
		for i := range 16 {
			w[i] = binary.BigEndian.Uint32(p[4*i:])
		}
		a, b, c, dd, e, f, g, h := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
		// Rounds 0–15 and 16–63 differ in FF, GG and T: two loops.
		// Round j needs W[j+4]: each round from 12 on expands it first,
		// whose work, independent of the round's, the CPU overlaps with
		// the round's chain of dependent steps (a separate expansion
		// loop before the rounds was 0.8x the speed).
		for j := 0; j < 16; j++ {
			if j >= 12 {
				w[j+4] = sm3Expand(&w, j+4)
			}
			a12 := bits.RotateLeft32(a, 12)
			ss1 := bits.RotateLeft32(a12+e+sm3T[j], 7)
			tt1 := (a ^ b ^ c) + dd + (ss1 ^ a12) + (w[j] ^ w[j+4])
			tt2 := (e ^ f ^ g) + h + ss1 + w[j]
			dd, c, b, a = c, bits.RotateLeft32(b, 9), a, tt1
			h, g, f, e = g, bits.RotateLeft32(f, 19), e, sm3P0(tt2)
		}
		for j := 16; j < 64; j++ {
			w[j+4] = sm3Expand(&w, j+4)
			a12 := bits.RotateLeft32(a, 12)
			ss1 := bits.RotateLeft32(a12+e+sm3T[j], 7)
			tt1 := (a&b | c&(a|b)) + dd + (ss1 ^ a12) + (w[j] ^ w[j+4])
			tt2 := ((f^g)&e ^ g) + h + ss1 + w[j]
			dd, c, b, a = c, bits.RotateLeft32(b, 9), a, tt1
			h, g, f, e = g, bits.RotateLeft32(f, 19), e, sm3P0(tt2)
		}
		v[0] ^= a
		v[1] ^= b
		v[2] ^= c
		v[3] ^= dd
		v[4] ^= e
		v[5] ^= f
		v[6] ^= g
		v[7] ^= h
	}
}

// sm3Expand is the message expansion's word j (16 <= j < 68), from the
// words before it.
func sm3Expand(w *[68]uint32, j int) uint32 {
	return sm3P1(w[j-16]^w[j-9]^bits.RotateLeft32(w[j-3], 15)) ^ bits.RotateLeft32(w[j-13], 7) ^ w[j-6]
}

func sm3P0(x uint32) uint32 { return x ^ bits.RotateLeft32(x, 9) ^ bits.RotateLeft32(x, 17) }
func sm3P1(x uint32) uint32 { return x ^ bits.RotateLeft32(x, 15) ^ bits.RotateLeft32(x, 23) }
