package text_test

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/testenv"
)

// gzMember is a gzip member's parts, written by gzMember.bytes: our own
// writer, for the header fields GNU gzip never writes on a pipe (a name, a
// comment, an extra field, a header CRC, any time stamp).
type gzMember struct {
	data                   []byte
	mtime                  uint32
	name, comment, extra   []byte
	hasName, hasComment    bool
	hasExtra, hcrc, stored bool
}

func (m gzMember) bytes() []byte {
	var flg byte
	if m.hcrc {
		flg |= 1 << 1
	}
	if m.hasExtra {
		flg |= 1 << 2
	}
	if m.hasName {
		flg |= 1 << 3
	}
	if m.hasComment {
		flg |= 1 << 4
	}
	h := []byte{0x1f, 0x8b, 8, flg}
	h = binary.LittleEndian.AppendUint32(h, m.mtime)
	h = append(h, 0, 3)
	if m.hasExtra {
		h = binary.LittleEndian.AppendUint16(h, uint16(len(m.extra)))
		h = append(h, m.extra...)
	}
	if m.hasName {
		h = append(append(h, m.name...), 0)
	}
	if m.hasComment {
		h = append(append(h, m.comment...), 0)
	}
	if m.hcrc {
		h = binary.LittleEndian.AppendUint16(h, uint16(crc32.ChecksumIEEE(h)))
	}
	var d bytes.Buffer
	level := 6
	if m.stored {
		level = flate.NoCompression
	}
	fw, _ := flate.NewWriter(&d, level)
	fw.Write(m.data)
	fw.Close()
	h = append(h, d.Bytes()...)
	h = binary.LittleEndian.AppendUint32(h, crc32.ChecksumIEEE(m.data))
	return binary.LittleEndian.AppendUint32(h, uint32(len(m.data)))
}

// gzList checks gzip -l (argv) on in against GNU gzip 1.12 reading the
// same stdin (a pipe, TZ=computetest.TZ), as gunzipLikeGNU does, with
// -lN's own error among GNU's reasons.
func gzList(t *testing.T, name string, in []byte, argv []string) {
	t.Helper()
	gunzipLikeGNU(t, name, in, argv, gzListReason, false)
}

// gzListReason is gunzipReason with -lN's own error.
func gzListReason(stderr []string) string {
	for _, l := range stderr {
		if strings.Contains(l, "file name too large") {
			return "file name too large"
		}
		if strings.Contains(l, "header checksum") {
			return "header checksum"
		}
	}
	return gunzipReason(stderr)
}

// gzListArgvs are the spellings of -l checked: the three commands, -v -q
// in both orders, -N -n, GNU's undocumented -M and -m (-N and -n for the
// time stamp alone), the flags -l ignores (-c -d -t -f -a, the tty
// flag), several "-" operands. make test runs every other one on an
// input: -v with -N has an even index and an odd one.
var gzListArgvs = [][]string{
	{"gzip", "-l"}, {"gunzip", "-l"}, {"zcat", "--list"}, {"gzip", "-lv"}, {"gunzip", "-vl"}, {"gzip", "-lq"},
	{"gzip", "-lvq"}, {"zcat", "-lqv"}, {"zcat", "-lvN", "-9"}, {"gzip", "-lvN"}, {"gunzip", "-lvNn"}, {"gzip", "-lnN", "-v"},
	{"gzip", "--list", "--name", "--quiet"}, {"gzip", "-lc"}, {"gzip", "-ldv"}, {"gzip", "-lt"}, {"gzip", "-ltv"},
	{"gzip", "-lf"}, {"gzip", "-lfv"}, {"gzip", "-l", "-"}, {"gzip", "-l", "-", "-"}, {"gzip", "-lq", "-", "-"}, {"gzip", "-lf", "-", "-"},
	{"gzip", "-la"}, {"gzip", "-l", "---presume-input-tty"}, {"gzip", "-lN"},
	{"gzip", "-lvM"}, {"gunzip", "-lvM"}, {"gzip", "-lvNm"}, {"zcat", "-lvNm"}, {"gzip", "-lvmM"},
}

// TestGzipListLikeGNU: gzip -l (GNU 1.12 on a pipe) on members of every
// kind: sizes, ratios (negative, 0, -0.0), time stamps (none, the
// epoch's neighbours, past 2038, the zone's summer shift), names (with
// slashes, empty, 1023 and 1024 bytes), comments, extra fields, header
// CRCs, a header over GNU's 256 KiB buffer; several members; and bad
// input (not gzip, empty, truncated, CRC and length errors, trailing
// garbage and zeros). make test runs half the pairs.
func TestGzipListLikeGNU(t *testing.T) {
	t.Parallel()
	if tzErr != nil {
		t.Fatal(tzErr)
	}
	gnu := func(s string, args ...string) []byte {
		b, _ := computetest.GNU(t, []byte(s), append([]string{"gzip"}, args...)...)
		return b
	}
	m := func(g gzMember) []byte { return g.bytes() }
	named := func(n string) []byte {
		return m(gzMember{data: []byte("hi\n"), mtime: 1700000000, name: []byte(n), hasName: true})
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[len(b)+i] ^= 1; return b }
	one := gnu("hello\n", "-cn")
	text := compressible(100 << 10)
	inputs := map[string][]byte{
		"gnu":          one,
		"gnu-9":        gnu(string(text), "-c9n"),
		"gnu-empty":    gnu("", "-cn"),
		"stored":       m(gzMember{data: computetest.RandomBytes(3, 70000), stored: true}),
		"random":       m(gzMember{data: computetest.RandomBytes(4, 100000)}), // -0.0%
		"two":          cat(one, gnu("world wide web\n", "-cn")),
		"three":        cat(named("first"), m(gzMember{data: text, mtime: 86400 * 200}), m(gzMember{data: []byte("x")})),
		"stamp-last":   cat(m(gzMember{data: []byte("a"), mtime: 1e9}), m(gzMember{data: []byte("b")})),
		"stamp-1":      m(gzMember{data: []byte("a"), mtime: 1}),
		"stamp-2^31":   m(gzMember{data: []byte("a"), mtime: 1 << 31}),
		"stamp-max":    m(gzMember{data: []byte("a"), mtime: 1<<32 - 1}),
		"stamp-dst":    m(gzMember{data: []byte("a"), mtime: 1696089600 + 1800}), // 2023-10-01 03:30 in Lord Howe, an hour after the shift
		"stamp-winter": m(gzMember{data: []byte("a"), mtime: 1688169600}),
		"name-dir":     named("a/b"),
		"name-slash":   named("a/b/"),
		"name-root":    named("//"),
		"name-empty":   named(""),
		"name-1023":    named(strings.Repeat("x", 1023)),
		"name-1024":    named(strings.Repeat("x", 1024)),
		"name-dir-big": named("dir/" + strings.Repeat("y", 1030)),
		"name-second":  cat(one, named("second")),
		"all-fields":   m(gzMember{data: []byte("hi\n"), mtime: 7, name: []byte("n"), hasName: true, comment: []byte("c"), hasComment: true, extra: []byte("xyz"), hasExtra: true, hcrc: true}),
		"bad-hcrc":     flip(m(gzMember{data: []byte("hi\n"), hcrc: true}), -13-2),
		"comment-300k": m(gzMember{data: []byte("hi\n"), comment: bytes.Repeat([]byte("c"), 300000), hasComment: true}),
		"comment-256k": m(gzMember{data: []byte("hi\n"), comment: bytes.Repeat([]byte("c"), 256<<10-11), hasComment: true}),
		"garbage":      cat(one, []byte("garbage\n")),
		"zeros":        cat(one, make([]byte, 5)),
		"zero-x":       cat(one, []byte("\x00x")),
		"crc":          flip(one, -6),
		"length":       flip(one, -1),
		"truncated":    one[:len(one)-3],
		"second-cut":   cat(one, one[:15]),
		"not-gzip":     []byte("not gzip\n"),
		"lone-zero":    {0},
		"lone-byte":    []byte("x"),
		"one-byte":     cat(one, []byte("x")),
		"empty":        nil,
		"method":       {0x1f, 0x8b, 7, 0},
		"encrypted":    cat(one[:3], []byte{0x20}, one[4:]),
	}
	names, all := computetest.SortedInputs(inputs)
	for i, name := range names {
		for k, argv := range gzListArgvs {
			if !testenv.Long() && (i+k)%2 == 1 {
				continue
			}
			gzList(t, name, all[i], argv)
		}
	}
}

// TestGzipListGenerated: gzip -l on generated streams, GZIPLIST_N of them
// (120 in make test, 5000 in make fuzz; GZIPLIST_SEED), each of one to
// four members with random data, time stamps, names, comments, extra
// fields and header CRCs, now and then corrupted, cut or trailed, under
// a random spelling of -l.
func TestGzipListGenerated(t *testing.T) {
	t.Parallel()
	if tzErr != nil {
		t.Fatal(tzErr)
	}
	n := testenv.Uint(t, "GZIPLIST_N", 120)
	seed := testenv.Uint(t, "GZIPLIST_SEED", 1)
	t.Logf("GZIPLIST_N=%d GZIPLIST_SEED=%d", n, seed)
	r := rand.New(rand.NewPCG(seed, 0x6c697374))
	flags := []string{"-v", "-q", "-N", "-n", "-M", "-m", "-c", "-d", "-t", "-f", "-9", "--verbose", "--name", "--no-name", "--quiet"}
	field := func(max int) []byte {
		b := make([]byte, r.IntN(max+1))
		for i := range b {
			b[i] = byte(1 + r.IntN(255))
			if r.IntN(8) == 0 {
				b[i] = '/'
			}
		}
		return b
	}
	for c := range n {
		var in []byte
		for range 1 + r.IntN(4) {
			g := gzMember{mtime: r.Uint32(), stored: r.IntN(8) == 0}
			switch r.IntN(4) {
			case 0:
				g.mtime = 0
			case 1:
				g.mtime = uint32(r.IntN(200000))
			}
			switch size := r.IntN(10); {
			case size < 6:
				g.data = computetest.RandomBytes(r.Uint64(), r.IntN(200))
			case size < 9:
				g.data = compressible(r.IntN(100000))
			default:
				g.data = computetest.RandomBytes(r.Uint64(), r.IntN(150000))
			}
			g.hasName, g.hasComment, g.hasExtra, g.hcrc = r.IntN(2) == 0, r.IntN(4) == 0, r.IntN(4) == 0, r.IntN(4) == 0
			if g.hasName {
				g.name = field([]int{20, 20, 20, 1100}[r.IntN(4)])
			}
			if g.hasComment {
				g.comment = field(100)
			}
			if g.hasExtra {
				g.extra = computetest.RandomBytes(r.Uint64(), r.IntN(50))
			}
			in = append(in, g.bytes()...)
		}
		switch r.IntN(12) {
		case 0:
			in[r.IntN(len(in))] ^= byte(1 + r.IntN(255))
		case 1:
			in = in[:r.IntN(len(in))]
		case 2:
			in = append(in, "garbage"...)
		case 3:
			in = append(in, make([]byte, 1+r.IntN(3))...)
		}
		argv := []string{[]string{"gzip", "gunzip", "zcat"}[r.IntN(3)], []string{"-l", "--list"}[r.IntN(2)]}
		for range r.IntN(4) {
			argv = append(argv, flags[r.IntN(len(flags))])
		}
		gzList(t, fmt.Sprintf("case %d (%d bytes)", c, len(in)), in, argv)
	}
}

// TestGzipListStageShared: a gzip -l stage compiled once (as a
// --tcp-route pipeline is) and run on several streams at once lists each
// as it lists it alone: a run keeps its listing to itself.
func TestGzipListStageShared(t *testing.T) {
	t.Parallel()
	e := computetest.Engine(engine.Config{})
	p, err := e.Compile("gzip -lvN")
	if err != nil {
		t.Fatal(err)
	}
	var ins [][]byte
	for i := range 8 {
		g := gzMember{data: compressible(1000 * i), mtime: uint32(1e9 + 3600*i), name: []byte(fmt.Sprint("name", i)), hasName: true}
		in := g.bytes()
		for range i % 3 {
			in = append(in, gzMember{data: []byte("more")}.bytes()...)
		}
		ins = append(ins, in)
	}
	want := make([][]byte, len(ins))
	for i, in := range ins {
		want[i], err = computetest.RunPipeline(t, "gzip -lvN", in)
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := testenv.Context(t)
	defer cancel()
	var wg sync.WaitGroup
	got := make([]bytes.Buffer, len(ins))
	errs := make([]error, len(ins))
	for round := range 4 {
		for i, in := range ins {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i].Reset()
				_, errs[i] = e.Run(ctx, p, bytes.NewReader(in), &got[i])
			}()
		}
		wg.Wait()
		for i := range ins {
			if errs[i] != nil || !bytes.Equal(got[i].Bytes(), want[i]) {
				t.Errorf("round %d, stream %d: %q, %v; alone %q", round, i, got[i].Bytes(), errs[i], want[i])
			}
		}
	}
}
