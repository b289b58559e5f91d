package text_test

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/testenv"
)

func TestBase64GNU(t *testing.T) {
	t.Parallel()
	ins := filterInputs()
	for _, n := range []int{1, 2, 3, 4, 56, 57, 58, 76, 77, 98303, 98304, 98305} {
		ins["rand"+strconv.Itoa(n)] = computetest.RandomBytes(uint64(n), n)
	}
	names, all := computetest.SortedInputs(ins)
	for i, name := range names {
		in := all[i]
		t.Run(name, func(t *testing.T) {
			for k, a := range [][]string{{"base64"}, {"base64", "-w", "0"}, {"base64", "-w", "1"},
				{"base64", "-w", "5"}, {"base64", "--wrap=100"}, {"base64", "-w", "+4"}, {"base64", "-"}} {
				if meets(len(in), i, k) {
					diffGNUCfg(t, engine.Config{}, in, a...)
				}
			}
		})
	}
}

func TestBase64DecodeGNU(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"", "\n", "YQ==", "YQ", "YWI", "Y", "YQ=", "YWJj\nYQ", "YQ\nYQ", "YQYQ", "\n\n", "YQ==\n\n",
		"YQ==Y", "YW=j", "Y===", "====", "\nYWJj\n", "YWJj\r\n", "YQ==YQ==", "YR==", "Y Q==",
		"YQ=\n=\n", "=YQ==", "YQ=\x01=", "\x01YQ==", "YW\nJj", "YWJ=\n", "YWI=YWI=", "aGVsbG8gd29ybGQK",
	} {
		for _, a := range [][]string{{"base64", "-d"}, {"base64", "-d", "-i"}, {"base64", "--decode", "--ignore-garbage"}} {
			diffGNUCfg(t, engine.Config{}, []byte(in), a...)
		}
	}
	for name, in := range filterInputs() {
		diffGNUCfg(t, engine.Config{}, in, "base64", "-d", "-i")
		_ = name
	}
}

// TestBase64RoundTrip: sizes up to several 96 KiB encode blocks and 128
// KiB decode buffers; the long run (testenv.Long) goes to 3 MiB.
func TestBase64RoundTrip(t *testing.T) {
	t.Parallel()
	sizes := []int{0, 1, 2, 3, 1000, 4*96<<10 + 1}
	if testenv.Long() {
		sizes = []int{0, 1, 2, 3, 1000, 1 << 20, 3<<20 + 1}
	}
	for _, n := range sizes {
		in := computetest.RandomBytes(uint64(n)+7, n)
		for _, w := range []string{"", " -w 0", " -w 3", " -w 1000"} {
			got, err := computetest.RunPipeline(t, "base64"+w+" | base64 -d", in)
			if err != nil || !bytes.Equal(got, in) {
				t.Fatalf("n=%d%s: round trip failed: %v", n, w, err)
			}
		}
		enc, err := computetest.RunPipeline(t, "base64 -w 0", in)
		if err != nil || string(enc) != base64.StdEncoding.EncodeToString(in) {
			t.Fatalf("n=%d: -w 0 differs from encoding/base64: %v", n, err)
		}
		if want, ok := computetest.GNU(t, enc, "base64", "-d"); !ok || !bytes.Equal(want, in) {
			t.Fatalf("n=%d: GNU cannot decode our output", n)
		}
	}
}

func TestBase64Errors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ text, in, want string }{
		{"base64 -d", "YQ=", "base64: invalid input"},
		{"base64 -d", "a*bc", "base64: invalid input"},
		{"base64 -w x", "", `"x"`},
		{"base64 -w -1", "", `"-1"`},
		{"base64 -w -99999999999999999999", "", "invalid wrap size"},
		{"base64 -w", "", `"-w" needs a value`},
		{"base64 -z", "", `"-z"`},
		{"base64 f", "", `"f"`},
	} {
		_, err := computetest.RunPipeline(t, c.text, []byte(c.in))
		if compute.CodeOf(err) != compute.CodeInvalid || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want CodeInvalid with %q", c.text, err, c.want)
		}
	}
	// A bad byte after several decode buffers of good input: still an
	// error, no output.
	in := append([]byte(base64.StdEncoding.EncodeToString(computetest.RandomBytes(9, 3*128<<10))), '!')
	out, err := computetest.RunPipeline(t, "base64 -d", in)
	if compute.CodeOf(err) != compute.CodeInvalid || len(out) != 0 {
		t.Errorf("late garbage: %d bytes out, err %v", len(out), err)
	}
}

func BenchmarkBase64Encode(b *testing.B) {
	computetest.BenchVsGNU(b, computetest.RandomBytes(1, 32<<20), "base64")
}
func BenchmarkBase64Decode(b *testing.B) {
	computetest.BenchVsGNU(b, wrap76(base64.StdEncoding.EncodeToString(computetest.RandomBytes(1, 24<<20))), "base64", "-d")
}
func BenchmarkBase64DecodeLong(b *testing.B) {
	computetest.BenchVsGNU(b, []byte(base64.StdEncoding.EncodeToString(computetest.RandomBytes(1, 24<<20))), "base64", "-d")
}

// wrap76 wraps s at 76 columns, as base64 encodes.
func wrap76(s string) []byte {
	var out []byte
	for len(s) > 76 {
		out = append(append(out, s[:76]...), '\n')
		s = s[76:]
	}
	return append(append(out, s...), '\n')
}

// TestBase64Blocks: encode widths whose lines are whole groups (encoded
// line by line) and others, decode of long valid text with a bad or
// special byte at block edges, against GNU.
func TestBase64Blocks(t *testing.T) {
	t.Parallel()
	// Every size meets half the widths, in turn (meets), every width
	// half the sizes; the long run every pair.
	for i, n := range []int{57*1724 - 1, 57 * 1724, 57*1724 + 1, 3 * 32768, 200003} {
		in := computetest.RandomBytes(uint64(n)+3, n)
		for k, w := range []string{"76", "4", "8", "12", "3", "64", "1", "0"} {
			if meets(n, i, k) {
				diffGNUCfg(t, engine.Config{}, in, "base64", "-w", w)
			}
		}
	}
	// Special bytes at the start, around the first 128 KiB decode buffer
	// edge and at the end; the long run (testenv.Long) also at the second
	// edge, in a longer text.
	n, positions := 110001, []int{0, 4, 131071, 131072, 131073, 131076}
	if testenv.Long() {
		n, positions = 300000, append(positions, 262144)
	}
	enc := []byte(base64.StdEncoding.EncodeToString(computetest.RandomBytes(5, n)))
	wrapped := wrap76(string(enc))
	at := func(b []byte, i int, s string) []byte {
		return append(append(append([]byte(nil), b[:i]...), s...), b[i:]...)
	}
	// Each special byte at each position goes into both texts, and each
	// of those is decoded with and without -i; by default the two texts
	// take the two modes in turn (every text, mode, byte and position is
	// still met), the long run decodes each both ways.
	k := 0
	for _, i := range append(positions, len(enc)-4) {
		for _, s := range []string{"\r", "YQ==", "=", "!", "\n", " ", "YW=="} {
			for j, in := range [][]byte{at(enc, i, s), at(wrapped, min(i, len(wrapped)), s)} {
				if testenv.Long() || (j+k)%2 == 0 {
					diffGNUCfg(t, engine.Config{}, in, "base64", "-d")
				}
				if testenv.Long() || (j+k)%2 == 1 {
					diffGNUCfg(t, engine.Config{}, in, "base64", "-d", "-i")
				}
			}
			k++
		}
	}
}
