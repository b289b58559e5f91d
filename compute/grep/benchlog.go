package grep

import (
	"io"
	"math/rand/v2"
	"strconv"
)

// WriteBenchLog writes size bytes of generated service log lines to w —
// the input of grep's benchmarks and of make bench's grep rows. It has
// words of every frequency: INFO on about half the lines, ERROR on one in
// twelve, "timed out" on one in 2,000, "refused" on one in 5,000,
// "connection reset" on one in 10,000 (and "Connection Reset" in other
// cases, for -i).
func WriteBenchLog(w io.Writer, size int64) error {
	r := rand.New(rand.NewPCG(14, 14))
	levels := []string{"INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "DEBUG", "DEBUG", "DEBUG", "WARN", "WARN", "ERROR"}
	comps := []string{"api", "db", "auth", "cache", "worker", "scheduler", "gateway"}
	paths := []string{"/v1/items", "/v1/users", "/v1/jobs", "/healthz", "/v2/search"}
	users := []string{"alice", "bob", "carol", "dave", "eve", "mallory", "trent"}
	rare := []string{"connection reset by peer", "Connection Reset by peer", "CONNECTION RESET"}
	buf := make([]byte, 0, 64<<10)
	for written := int64(0); written < size; {
		buf = buf[:0]
		for len(buf) < 60<<10 {
			buf = append(buf, "2026-12-01T"...)
			buf = appendPad(buf, r.IntN(24))
			buf = append(buf, ':')
			buf = appendPad(buf, r.IntN(60))
			buf = append(buf, ':')
			buf = appendPad(buf, r.IntN(60))
			buf = append(buf, '.')
			buf = strconv.AppendInt(buf, int64(100+r.IntN(900)), 10)
			buf = append(buf, "Z "...)
			buf = append(buf, levels[r.IntN(len(levels))]...)
			buf = append(buf, " ["...)
			buf = append(buf, comps[r.IntN(len(comps))]...)
			buf = append(buf, "] "...)
			switch k := r.IntN(20000); {
			case k < 2:
				buf = append(buf, "upstream "...)
				buf = append(buf, rare[r.IntN(len(rare))]...)
				buf = append(buf, " while reading response header"...)
			case k < 12:
				buf = append(buf, "request to 10.0.3.7:8080 timed out after 30s"...)
			case k < 16:
				buf = append(buf, "dial tcp 10.0.3.9:5432: connect: connection refused"...)
			case k < 8000:
				buf = append(buf, "GET "...)
				buf = append(buf, paths[r.IntN(len(paths))]...)
				buf = append(buf, '/')
				buf = strconv.AppendInt(buf, int64(r.IntN(100000)), 10)
				buf = append(buf, " status="...)
				buf = strconv.AppendInt(buf, int64([]int{200, 200, 200, 201, 304, 404, 500}[r.IntN(7)]), 10)
				buf = append(buf, " took="...)
				buf = strconv.AppendInt(buf, int64(r.IntN(2000)), 10)
				buf = append(buf, "ms"...)
			case k < 13000:
				buf = append(buf, "user="...)
				buf = append(buf, users[r.IntN(len(users))]...)
				buf = append(buf, " session="...)
				buf = strconv.AppendUint(buf, r.Uint64(), 16)
				buf = append(buf, " action=login ok"...)
			case k < 17000:
				buf = append(buf, "cache miss key=item:"...)
				buf = strconv.AppendInt(buf, int64(r.IntN(1000000)), 10)
				buf = append(buf, " size="...)
				buf = strconv.AppendInt(buf, int64(r.IntN(65536)), 10)
			default:
				buf = append(buf, "job "...)
				buf = strconv.AppendUint(buf, uint64(r.Uint32()), 16)
				buf = append(buf, " finished in "...)
				buf = strconv.AppendInt(buf, int64(r.IntN(5000)), 10)
				buf = append(buf, "ms queue=default retries=0"...)
			}
			buf = append(buf, '\n')
		}
		if int64(len(buf)) > size-written {
			buf = buf[:size-written]
		}
		n, err := w.Write(buf)
		written += int64(n)
		if err != nil {
			return err
		}
	}
	return nil
}

func appendPad(b []byte, n int) []byte {
	if n < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(n), 10)
}
