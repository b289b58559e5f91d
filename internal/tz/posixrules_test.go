package tz

import (
	"encoding/binary"
	"testing"
)

// TestReadZoneFileCounts: a posixrules file (whatever TZDIR holds)
// whose counts are more than it holds is not a zone file, also where an
// int has 32 bits (GOARCH=386), where a count of 2^32-1 is -1.
func TestReadZoneFileCounts(t *testing.T) {
	t.Parallel()
	for _, counts := range [][6]uint32{
		{0, 0, 0, 0xFFFFFFFF, 0, 0},
		{0, 0, 0, 0, 0xFFFFFFFF, 0},
		{0, 0, 0, 0, 1, 0xFFFFFFFF},
		{0, 0, 0xFFFFFFFF, 0, 1, 0},
		{0xFFFFFFFF, 0xFFFFFFFF, 0, 0, 0xFFFFFFFF, 0},
		{0, 0, 0, 0x80000000, 0x20000000, 0},
	} {
		for _, version := range []string{"TZif\x00", "TZif2"} {
			b := append([]byte(version), make([]byte, 15)...)
			for _, n := range counts {
				b = binary.BigEndian.AppendUint32(b, n)
			}
			b = append(b, make([]byte, 64)...)
			if _, ok := readZoneFile(b); ok {
				t.Errorf("%q counts %x: read as a zone file", version, counts)
			}
		}
	}
}
