package digest

import (
	"encoding/binary"
)

// posixCRC is the CRC of POSIX cksum: CRC-32 with polynomial 0x04C11DB7,
// most significant bit first, no initial value, over the data followed by
// its length (least significant byte first, only as many bytes as needed),
// complemented. Its Sum is the 4 bytes of that value, big-endian.
type posixCRC struct {
	crc uint32
	n   uint64
}

var crcTab = func() (t [8][256]uint32) {
	for i := range 256 {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
		t[0][i] = c
	}
	for i := range 256 {
		for k := 1; k < 8; k++ {
			c := t[k-1][i]
			t[k][i] = c<<8 ^ t[0][c>>24]
		}
	}
	return t
}()

// crcUpdate is slicing-by-8 over the MSB-first table.
func crcUpdate(crc uint32, p []byte) uint32 {
	t := &crcTab
	for len(p) >= 8 {
		crc ^= binary.BigEndian.Uint32(p)
		crc = t[7][crc>>24] ^ t[6][crc>>16&0xff] ^ t[5][crc>>8&0xff] ^ t[4][crc&0xff] ^
			t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]]
		p = p[8:]
	}
	for _, b := range p {
		crc = crc<<8 ^ t[0][byte(crc>>24)^b]
	}
	return crc
}

func (c *posixCRC) Write(p []byte) (int, error) {
	c.crc = crcUpdate(c.crc, p)
	c.n += uint64(len(p))
	return len(p), nil
}

func (c *posixCRC) sum32() uint32 {
	crc := c.crc
	for n := c.n; n > 0; n >>= 8 {
		crc = crc<<8 ^ crcTab[0][byte(crc>>24)^byte(n)]
	}
	return ^crc
}

func (c *posixCRC) Sum(b []byte) []byte { return binary.BigEndian.AppendUint32(b, c.sum32()) }
func (c *posixCRC) Reset()              { *c = posixCRC{} }
func (c *posixCRC) Size() int           { return 4 }
func (c *posixCRC) BlockSize() int      { return 8 }
