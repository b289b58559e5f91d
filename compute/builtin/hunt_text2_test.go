package builtin_test

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/internal/computetest"
)

// The differences a hand-written acceptance sweep of cut, tr, base64,
// gzip and the digests found (hunt-text2), each compared with GNU gzip
// 1.12 on its own inputs.

// huntGzipMember is one gzip member of data with the header fields given
// (nil: absent), as GNU gzip cannot write them: an extra field, a name or
// comment of any length, a header CRC (broken when badHCRC).
type huntGzipMember struct {
	data                 []byte
	extra, name, comment []byte
	hcrc, badHCRC        bool
	badCRC, badLen       bool
}

func (m huntGzipMember) bytes(t *testing.T) []byte {
	t.Helper()
	flg := byte(0)
	if m.hcrc {
		flg |= 1 << 1
	}
	if m.extra != nil {
		flg |= 1 << 2
	}
	if m.name != nil {
		flg |= 1 << 3
	}
	if m.comment != nil {
		flg |= 1 << 4
	}
	h := []byte{0x1f, 0x8b, 8, flg, 0, 0, 0, 0, 0, 3}
	if m.extra != nil {
		h = binary.LittleEndian.AppendUint16(h, uint16(len(m.extra)))
		h = append(h, m.extra...)
	}
	if m.name != nil {
		h = append(append(h, m.name...), 0)
	}
	if m.comment != nil {
		h = append(append(h, m.comment...), 0)
	}
	if m.hcrc {
		c := uint16(crc32.ChecksumIEEE(h))
		if m.badHCRC {
			c ^= 0xffff
		}
		h = binary.LittleEndian.AppendUint16(h, c)
	}
	var b bytes.Buffer
	b.Write(h)
	zw, err := flate.NewWriter(&b, 6)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(m.data)
	zw.Close()
	crc, n := crc32.ChecksumIEEE(m.data), uint32(len(m.data))
	if m.badCRC {
		crc ^= 1
	}
	if m.badLen {
		n++
	}
	out := binary.LittleEndian.AppendUint32(b.Bytes(), crc)
	return binary.LittleEndian.AppendUint32(out, n)
}

// TestHuntText2GunzipHeaders: GNU gunzip reads a name or comment of any
// length, where Go's gzip.Reader (used before) refused one of 512 bytes
// or more as "not in gzip format"; and under -v (with no -q after it) it
// writes "gzip: stdin: extra field of N bytes ignored" for each member
// with an extra field, which was not reported.
func TestHuntText2GunzipHeaders(t *testing.T) {
	t.Parallel()
	cat := func(ms ...huntGzipMember) []byte {
		var b []byte
		for _, m := range ms {
			b = append(b, m.bytes(t)...)
		}
		return b
	}
	inputs := map[string][]byte{
		"name 512":            cat(huntGzipMember{data: []byte("a\n"), name: bytes.Repeat([]byte("n"), 512)}),
		"name 5000":           cat(huntGzipMember{data: []byte("a\n"), name: bytes.Repeat([]byte("n"), 5000)}),
		"comment 200k":        cat(huntGzipMember{data: []byte("b\n"), comment: bytes.Repeat([]byte("c"), 200000)}),
		"all, hcrc":           cat(huntGzipMember{data: []byte("c\n"), extra: bytes.Repeat([]byte("E"), 65000), name: bytes.Repeat([]byte("x"), 3000), comment: []byte("hi"), hcrc: true}),
		"extras":              cat(huntGzipMember{data: []byte("1\n"), extra: []byte("AB\x02\x00hi")}, huntGzipMember{data: nil, extra: []byte{}}, huntGzipMember{data: []byte("2\n")}, huntGzipMember{data: []byte("3\n"), extra: []byte("q"), name: []byte("f")}),
		"extra, then garbage": append(cat(huntGzipMember{data: []byte("g\n"), extra: []byte("zz")}), "junk"...),
	}
	for _, argv := range [][]string{{"gunzip", "-c"}, {"gunzip", "-v"}, {"zcat", "-qv"}, {"gzip", "-dvq"}, {"gzip", "-d", "--verbose", "-f"}} {
		text := strings.Join(argv, " ")
		for name, in := range inputs {
			want, wantErr, status := computetest.GNUStderr(t, in, argv...)
			got, st, err := computetest.RunPipelineStats(t, text, in)
			switch {
			case err != nil:
				t.Errorf("%s, %s: %v; GNU exits %d with %q", text, name, err, status, computetest.Trunc(want))
			case !bytes.Equal(got, want) || st.ExitStatus != status:
				t.Errorf("%s, %s: %q, status %d; GNU's %q, %d", text, name, computetest.Trunc(got), st.ExitStatus, computetest.Trunc(want), status)
			case strings.Join(st.Diagnostics, "\n") != strings.Join(wantErr, "\n"):
				t.Errorf("%s, %s: diagnostics %q, GNU's stderr %q", text, name, st.Diagnostics, wantErr)
			}
		}
	}
}

// TestHuntText2GunzipErrors: a member GNU refuses is refused for GNU's
// reason, worded as GNU's last words: a CRC error and a length error
// apart (both were "crc error or length error"), and a header CRC that
// does not match, "header checksum 0x.... != computed checksum 0x...."
// (was "not in gzip format").
func TestHuntText2GunzipErrors(t *testing.T) {
	t.Parallel()
	for name, m := range map[string]huntGzipMember{
		"bad crc":        {data: []byte("bad\n"), badCRC: true},
		"bad length":     {data: []byte("bad\n"), badLen: true},
		"bad header crc": {data: []byte("h\n"), name: []byte("f"), hcrc: true, badHCRC: true},
	} {
		in := m.bytes(t)
		_, gnuErr, status := computetest.GNUStderr(t, in, "gunzip", "-c")
		if status != 1 || len(gnuErr) == 0 {
			t.Fatalf("%s: GNU exits %d with %q", name, status, gnuErr)
		}
		last := gnuErr[len(gnuErr)-1]
		reason := last[strings.LastIndex(last, "--")+2:]
		if !strings.Contains(last, "--") {
			reason = strings.TrimPrefix(last, "gzip: stdin: ")
		}
		_, err := computetest.RunPipeline(t, "gunzip -c", in)
		if err == nil || !strings.HasSuffix(err.Error(), reason) {
			t.Errorf("%s: %v, want an error ending %q (GNU's %q)", name, err, reason, last)
		}
	}
}

// TestHuntText2GzipVerbose: GNU gzip -v compressing stdin writes the
// ratio of the input its deflate data saved ("%5.1f%%" of 100 * (in -
// (out - header and trailer)) / in, "  0.0%" for an empty input), a line
// for each "-" operand; none under a later -q. It wrote nothing. The
// ratio is that of our output, whose bytes may differ from GNU's; an
// empty input's line is GNU's own. And each "-" after the first is an
// ended stdin GNU writes an empty member for (one member was written).
func TestHuntText2GzipVerbose(t *testing.T) {
	t.Parallel()
	hello := []byte(strings.Repeat("hello, world\n", 40))
	for _, c := range []struct {
		argv []string
		in   []byte
	}{
		{[]string{"gzip", "-v"}, nil},
		{[]string{"gzip", "-v"}, hello},
		{[]string{"gzip", "-1", "-qv"}, hello},
		{[]string{"gzip", "-vq"}, hello},
		{[]string{"gzip", "-cv", "-", "-"}, hello},
		{[]string{"gzip", "-v9", "-", "-", "-"}, nil},
		{[]string{"gzip", "-", "-"}, hello},
	} {
		text := strings.Join(c.argv, " ")
		gnuOut, gnuErr, status := computetest.GNUStderr(t, c.in, c.argv...)
		got, st, err := computetest.RunPipelineStats(t, text, c.in)
		if err != nil || status != 0 || st.ExitStatus != 0 {
			t.Fatalf("%s: %v, status %d; GNU's %d", text, err, st.ExitStatus, status)
		}
		// The same data, in as many members as GNU's.
		gnuData, _ := computetest.GNU(t, gnuOut, "gunzip", "-c")
		ours, ok := computetest.GNU(t, got, "gunzip", "-c")
		if !ok || !bytes.Equal(ours, gnuData) {
			t.Errorf("%s: GNU gunzip reads %q (ok %v) from ours, %q from GNU's", text, computetest.Trunc(ours), ok, computetest.Trunc(gnuData))
		}
		if n, gn := bytes.Count(got, []byte{0x1f, 0x8b, 8}), bytes.Count(gnuOut, []byte{0x1f, 0x8b, 8}); n != gn {
			t.Errorf("%s: %d members, GNU's %d", text, n, gn)
		}
		if len(st.Diagnostics) != len(gnuErr) {
			t.Errorf("%s: diagnostics %q, GNU's stderr %q", text, st.Diagnostics, gnuErr)
			continue
		}
		for i, line := range gnuErr {
			want := line // an empty input's, GNU's own
			if i == 0 && len(c.in) > 0 {
				// Ours is the ratio of our first member (the others are empty).
				first := len(got)
				if i := bytes.Index(got[1:], []byte{0x1f, 0x8b, 8}); i >= 0 {
					first = i + 1
				}
				want = fmt.Sprintf("%5.1f%%", 100*float64(len(c.in)-(first-18))/float64(len(c.in)))
			}
			if st.Diagnostics[i] != want {
				t.Errorf("%s: diagnostic %d %q, want %q (GNU's %q)", text, i, st.Diagnostics[i], want, line)
			}
		}
	}
}
