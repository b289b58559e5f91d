package e2e

import (
	"bytes"
	"compress/gzip"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGzipListFileTime: gzip -lv of a regular file (halfclose gzip -lv <
// FILE) lists the file's modification time where GNU gzip lists its
// fstat of stdin: in place of the epoch, and under -N or -M when no
// member has a nonzero MTIME. The CLI sends the time with the file's
// size (input_file_mtime over gRPC, @mtime over --tcp); GNU reads the
// same file, in the same TZ as the daemon. Members with and without
// MTIME, alone and joined, under -N, -n, -M, -m and their orders, for
// gzip, gunzip and zcat, at instants before the epoch, at it, and after
// 2^32 seconds.
func TestGzipListFileTime(t *testing.T) {
	t.Parallel()
	need(t, "gzip")
	d := launch(t)
	member := func(mtime int64, text string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		if mtime != 0 {
			zw.ModTime = time.Unix(mtime, 0)
		}
		zw.Write([]byte(text))
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	stamped, zero := member(1500000000, "stamped\n"), member(0, "zero\n")
	files := map[string][]byte{
		"stamped":      stamped,
		"zero":         zero,
		"zero+stamped": append(append([]byte{}, zero...), stamped...),
		"stamped+zero": append(append([]byte{}, stamped...), zero...),
	}
	instants := []int64{0, 981173106, -123456789, 5000000000}
	commands := [][]string{
		{"gzip", "-lv"}, {"gzip", "-lvN"}, {"gzip", "-lvn"}, {"gzip", "-lvM"}, {"gzip", "-lvm"},
		{"gzip", "-lvNm"}, {"gzip", "-lvMn"}, {"gunzip", "-lv"}, {"zcat", "-lvM"},
	}
	dir := t.TempDir()
	cases := 0
	for name, data := range files {
		in := filepath.Join(dir, strings.ReplaceAll(name, "+", "-")+".gz")
		if err := os.WriteFile(in, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, sec := range instants {
			at := time.Unix(sec, 0)
			if err := os.Chtimes(in, at, at); err != nil {
				t.Fatal(err)
			}
			for _, argv := range commands {
				want := run(t, "", in, append([]string{need(t, argv[0])}, argv[1:]...)...)
				text := strings.Join(argv, " ")
				for _, cli := range [][]string{
					{bin(t, "halfclose"), "--addr", d.GRPC, text},
					{bin(t, "halfclose"), "--tcp", "--tcp-addr", d.TCP, text},
				} {
					got := run(t, "", in, cli...)
					cases++
					if !bytes.Equal(got.stdout, want.stdout) || got.code != want.code {
						t.Errorf("%s < %s (mtime %d) via %s: got status %d\n%s\nGNU: status %d\n%s", text, name, sec, cli[1], got.code, got.stdout, want.code, want.stdout)
					}
				}
			}
		}
	}
	t.Logf("%d cases", cases)
}

// TestGzipListFileTimeFar: a file time far from now, which tmpfs keeps in
// all 64 bits: 19 digits (@mtime took at most 18, so --tcp refused the
// header line of such a file), and years whose tm_year an int does not
// hold, where GNU's localtime fails and gzip -lv lists "??? ?? ??:??"
// (halfclose listed a date, or Go's overflow of one). Skipped where no
// tmpfs keeps such a time.
func TestGzipListFileTimeFar(t *testing.T) {
	t.Parallel()
	need(t, "gzip")
	dir, err := os.MkdirTemp("/dev/shm", "halfclose-e2e-")
	if err != nil {
		t.Skipf("no /dev/shm: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte("far\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "far.gz")
	if err := os.WriteFile(in, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	d := launch(t)
	const tmMax = 67768036191676799 // the last second of year 2^31-1+1900, UTC
	instants := []int64{
		math.MinInt64, math.MinInt64 + 1, -1 << 62, -67768040609780400, -67768040609740800,
		tmMax - 14*3600, tmMax - 11*3600, tmMax - 11*3600 + 1, tmMax, tmMax + 1, tmMax + 14*3600,
		999999999999999999, 1000000000000000000, 1 << 62, math.MaxInt64,
	}
	cases := 0
	for _, sec := range instants {
		// Not os.Chtimes: its nanoseconds hold ±292 years.
		if err := syscall.UtimesNano(in, []syscall.Timespec{{Sec: sec}, {Sec: sec}}); err != nil {
			t.Skipf("%s: no time %d: %v", dir, sec, err)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(in, &st); err != nil || st.Mtim.Sec != sec {
			t.Skipf("%s does not keep the time %d", dir, sec)
		}
		for _, text := range []string{"gzip -lv", "zcat -lvN"} {
			argv := strings.Fields(text)
			want := run(t, "", in, append([]string{need(t, argv[0])}, argv[1:]...)...)
			for _, cli := range [][]string{
				{bin(t, "halfclose"), "--addr", d.GRPC, text},
				{bin(t, "halfclose"), "--tcp", "--tcp-addr", d.TCP, text},
			} {
				got := run(t, "", in, cli...)
				cases++
				if !bytes.Equal(got.stdout, want.stdout) || got.code != want.code {
					t.Errorf("%s < FILE (mtime %d) via %s: got status %d\n%s%s\nGNU: status %d\n%s", text, sec, cli[1], got.code, got.stdout, got.stderr, want.code, want.stdout)
				}
			}
		}
	}
	t.Logf("%d cases", cases)
}
