package e2e

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
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
