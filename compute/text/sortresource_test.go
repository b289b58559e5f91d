package text_test

import (
	"bytes"
	"fmt"
	"math/big"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
)

// sortResourceErrorKinds are the reasons GNU sort gives for a value of
// -S, --parallel or --batch-size it refuses, most specific first: ours
// must give the same one.
var sortResourceErrorKinds = []string{"invalid suffix in", "must be nonzero", "minimum", "too large", "invalid"}

func sortResourceErrorKind(msg string) string {
	for _, k := range sortResourceErrorKinds {
		if strings.Contains(msg, k) {
			return k
		}
	}
	return ""
}

// diffSortResource runs argv through GNU sort and the engine over in: a
// value GNU takes sorts as GNU does (the flag changes nothing of the
// output), and one GNU refuses is INVALID_ARGUMENT for GNU's reason.
func diffSortResource(t *testing.T, in []byte, value string, argv ...string) {
	t.Helper()
	want, stderr, code := computetest.GNUStatusStderr(t, in, argv...)
	got, err := computetest.RunPipeline(t, shquote.Join(argv), in)
	switch {
	case code == 0 && err != nil && bits.UintSize == 32 && strings.Contains(err.Error(), "too large") && past32(value):
		// GNU here is 64-bit: a size from 2^32 bytes on is too large for
		// a 32-bit GNU's size_t, as for ours (docs/protocol.md).
	case code == 0 && err != nil:
		t.Errorf("%q: GNU sorts, ours: %v", argv, err)
	case code == 0 && !bytes.Equal(got, want):
		t.Errorf("%q: output differs from GNU's\nours %q\nGNU  %q", argv, computetest.Trunc(got), computetest.Trunc(want))
	case code != 0 && err == nil:
		t.Errorf("%q: GNU refuses it (%s), ours sorted", argv, bytes.TrimSpace(stderr))
	case code != 0:
		if compute.CodeOf(err) != compute.CodeInvalid {
			t.Errorf("%q: err %v, want INVALID_ARGUMENT", argv, err)
		}
		if wk, gk := sortResourceErrorKind(string(stderr)), sortResourceErrorKind(err.Error()); wk == "" || wk != gk {
			t.Errorf("%q: ours %q, GNU %q: not the same reason", argv, err, bytes.TrimSpace(stderr))
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", value)) {
			t.Errorf("%q: error %q does not name the value", argv, err)
		}
	}
}

// past32 reports whether GNU sort's -S value, which 64-bit GNU took, is
// 2^32 bytes or more (or a share of the memory, which may be), as the
// coreutils manual reads it: blanks and a '+', a number of KiB, or bytes
// with 'b', or 1024^n with a letter (a letter alone is 1 of it).
func past32(value string) bool {
	v := strings.TrimLeft(value, " \t\n\v\f\r")
	v = strings.TrimPrefix(v, "+")
	digits := strings.TrimRight(v, "bkKmMgGtTPEZY%")
	unit := v[len(digits):]
	if digits == "" {
		digits = "1"
	}
	n, ok := new(big.Int).SetString(digits, 10)
	if !ok || len(unit) > 1 {
		return false
	}
	power := map[string]int{"": 1, "b": 0, "k": 1, "K": 1, "m": 2, "M": 2, "g": 3, "G": 3, "t": 4, "T": 4, "P": 5, "E": 6, "Z": 7, "Y": 8}
	if unit == "%" {
		return true
	}
	n.Lsh(n, uint(10*power[unit]))
	return n.BitLen() > 32
}

// TestSortResourceFlagsLikeGNU: -S, --parallel and --batch-size take
// what GNU sort takes, and refuse what it refuses for its reason.
func TestSortResourceFlagsLikeGNU(t *testing.T) {
	in := []byte("b 2\na 10\nc 1\nb 2\n\nB 3\n")
	values := map[string][]string{
		"-S": {"0", "1", "10", "+5", " 5", "1b", "10k", "10K", "2M", "1G", "1T", "1P", "1E", "50%", "1%", "0%",
			"", "x", "-5", "10x", "10bb", "10kB", "10KiB", "1Q", "1R", "5%x", "100%%", "k", "b", "%",
			"99999999999999999999", "18014398509481984", "18014398509481983", "17179869184T", "1Z", "1Y",
			"99999999999999999999b", "1000000000000000%"},
		"--parallel":   {"1", "2", "64", "+3", "0", "00", "x", "", "5x", "-1", "1k"},
		"--batch-size": {"2", "16", "1021", "1", "0", "x", "", "5x", "-2", "4294967298", "99999999999999999999"},
	}
	for flag, vals := range values {
		for _, v := range vals {
			if flag == "-S" {
				diffSortResource(t, in, v, "sort", flag, v)
				diffSortResource(t, in, v, "sort", "-rn", "--buffer-size="+v, "-k2")
				continue
			}
			diffSortResource(t, in, v, "sort", "-k2n", flag+"="+v)
		}
	}
	// Abbreviated.
	diffSortResource(t, in, "1x", "sort", "--buf=1x")
	diffSortResource(t, in, "0", "sort", "--paral=0")
	diffSortResource(t, in, "1", "sort", "--batch=1", "-u")
}

// TestSortBufferSizeRandom draws -S values from digits, signs, blanks
// and GNU's and others' suffix letters, against GNU sort.
func TestSortBufferSizeRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(len(t.Name())), 7))
	in := []byte("c\na\nb\n")
	parts := []string{"", " ", "+", "-", "0"}
	suffixes := []string{"", "b", "%", "k", "K", "m", "M", "g", "G", "t", "T", "P", "E", "Z", "Y", "Q", "x", "B", "iB", "kB", "KiB", "%%", "bb", "e"}
	for range 120 {
		var b strings.Builder
		b.WriteString(parts[rng.IntN(len(parts))])
		for range rng.IntN(22) {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		b.WriteString(suffixes[rng.IntN(len(suffixes))])
		diffSortResource(t, in, b.String(), "sort", "-S", b.String())
	}
}
