package server

import "testing"

// BenchmarkH2Scan feeds h2Scan 1 MiB of DATA in 16 KiB frames, as a
// gRPC connection of NewGRPCListener reads it: in the clear (h2c), or
// sealed in TLS records of 16 KiB (tls, the raw side of a TLS
// connection), in reads of 32 KiB (grpc-go's read buffer), and of 1500
// bytes (a read per segment, a slow link's).
func BenchmarkH2Scan(b *testing.B) {
	const size = 1 << 20
	frame := 16 << 10
	h2c := []byte(clientPreface)
	tls := []byte{tlsHandshakeRecord, 3, 1, 0, 100}
	tls = append(tls, make([]byte, 100)...)
	for range size / frame {
		h2c = append(h2c, byte(frame>>16), byte(frame>>8), byte(frame), 0, 0, 0, 0, 0, 1)
		h2c = append(h2c, make([]byte, frame)...)
		tls = append(tls, tlsAppData, 3, 3, byte(frame>>8), byte(frame))
		tls = append(tls, make([]byte, frame)...)
	}
	for _, in := range []struct {
		name string
		b    []byte
	}{{"h2c", h2c}, {"tls", tls}} {
		for _, read := range []int{32 << 10, 1500} {
			b.Run(in.name+"/"+map[int]string{32 << 10: "32KiB", 1500: "1500"}[read], func(b *testing.B) {
				b.SetBytes(int64(len(in.b)))
				for b.Loop() {
					var tr connTraffic
					s := h2Scan{t: &tr}
					for p := in.b; len(p) > 0; {
						k := min(len(p), read)
						s.scan(p[:k])
						p = p[k:]
					}
				}
			})
		}
	}
}
