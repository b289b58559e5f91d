package digest

import (
	"fmt"
	"testing"
)

// BenchmarkBlake3GRPC is the CPU per GiB of b3sum's hash fed as a gRPC
// stage feeds it: the segments of 1 MiB messages in 16 KiB frames, the
// message's data starting 9 bytes into its first frame (16375, 63 x 16384,
// 9 bytes), with and without helpers.
func BenchmarkBlake3GRPC(b *testing.B) {
	in := make([]byte, 1<<20)
	for i := range in {
		in[i] = byte(i * 13)
	}
	var segs [][]byte
	off := 0
	for _, n := range append(append([]int{16375}, repeatInt(16384, 63)...), 9) {
		segs = append(segs, in[off:off+n])
		off += n
	}
	const total = 256 << 20
	for _, serial := range []bool{false, true} {
		b.Run(fmt.Sprint("serial=", serial), func(b *testing.B) {
			b.SetBytes(total)
			cpu0 := cpuTime(b)
			for range b.N {
				h := newParallelBlake3()
				h.serial = serial
				for i := 0; i < total; i += len(in) {
					for _, s := range segs {
						h.Write(s)
					}
				}
				h.Sum(nil)
			}
			cpu := cpuTime(b) - cpu0
			b.ReportMetric(cpu.Seconds()/float64(b.N)/total*(1<<30), "cpu-s/GiB")
		})
	}
}

func repeatInt(v, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}
