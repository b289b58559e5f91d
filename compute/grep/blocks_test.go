package grep_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/grep"
	"github.com/halfclose/halfclose/compute/internal/computetest"
)

// blocksInput is total bytes of short lines, every third one with aB,
// with a line of each length in long (an aB at its end) at the offset
// given; nuls are then written over the bytes at those offsets (a
// newline moves the NUL one byte on).
func blocksInput(total int, long map[int]int, nuls ...int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < total; i++ {
		for at, n := range long {
			if b.Len() >= at && b.Len() < at+64 {
				b.WriteString(strings.Repeat("y", n-4) + " aB\n")
			}
		}
		if i%3 == 0 {
			fmt.Fprintf(&b, "l%05d aB z\n", i)
		} else {
			fmt.Fprintf(&b, "l%05d xx z\n", i)
		}
	}
	in := b.Bytes()
	for _, at := range nuls {
		if in[at] == '\n' {
			at++
		}
		in[at] = 0
	}
	return in
}

// TestGrepBinaryGNUReads: GNU grep prints the lines that end before the
// read that holds the first NUL, and its reads are not all 96 KiB: a
// line longer than its buffer grows it by half, the next reads are as
// long as the grown buffer, what it keeps of a line shortens a read to
// page boundaries, and near the file's end it grows only as far as the
// file goes (blocks.go). The NULs are around the ends of the reads after
// such lines, as modelled (GNUReadEnds), and GNU decides.
func TestGrepBinaryGNUReads(t *testing.T) {
	t.Parallel()
	inputs := map[string][]byte{}
	// nulsAround puts NULs on the last byte of GNU's k-th read, or the
	// first of the one after it, of a NUL-free input made by mk.
	nulsAround := func(name string, k int, mk func(nuls ...int) []byte) {
		ends := grep.GNUReadEnds(mk())
		if k >= len(ends) {
			t.Fatalf("%s: %d reads, not %d", name, len(ends), k+1)
		}
		inputs[name+"-last"] = mk(int(ends[k]) - 1)
		inputs[name+"-next"] = mk(int(ends[k]))
	}
	// GNU's example in docs/protocol.md: reads of 96, 48, then 144 KiB
	inputs["120k"] = blocksInput(260_000, map[int]int{0: 120_000}, 210_003)
	// the generated pipeline that showed the old model wrong
	inputs["102855"] = blocksInput(250_000, map[int]int{20_000: 102_855}, 158_128)
	nulsAround("192k", 2, func(nuls ...int) []byte {
		return blocksInput(600_000, map[int]int{30_000: 196_608}, nuls...)
	})
	nulsAround("300k", 4, func(nuls ...int) []byte {
		return blocksInput(900_000, map[int]int{5_000: 300_000}, nuls...)
	})
	nulsAround("two-long", 5, func(nuls ...int) []byte {
		return blocksInput(1_100_000, map[int]int{5_000: 150_000, 400_000: 260_000}, nuls...)
	})
	// near the end: the growth stops at the file's size
	for _, total := range []int{112_000, 120_000} {
		nulsAround(fmt.Sprint("capped", total), 1, func(nuls ...int) []byte {
			return blocksInput(total, map[int]int{100: 99_000}, nuls...)
		})
	}
	inputs["nul-in-long"] = blocksInput(400_000, map[int]int{50_000: 200_000}, 150_000)
	// docs/protocol.md's example: reads of 96, 48, then 144 KiB
	doc := append(bytes.Repeat([]byte("x"), 119_999), '\n')
	doc = append(doc, bytes.Repeat([]byte("y\n"), 15_000)...)
	doc = append(doc, "c\n"...)
	for len(doc) < 210_003 {
		doc = append(doc, "y\n"...)
	}
	doc = append(doc[:210_003], "\x00c\ny\n"...)
	for _, argv := range [][]string{{"grep", "c"}, {"grep", "-n", "y"}, {"grep", "-c", "y"}} {
		computetest.DiffGNU(t, doc, argv...)
	}
	for _, argv := range [][]string{
		{"grep", "aB"}, {"grep", "-n", "aB"}, {"grep", "-c", "aB"},
		{"grep", "-v", "aB"}, {"grep", "-o", "aB"}, {"grep", "-b", "aB"},
		{"grep", "-n", "-w", "-F", "aB"}, {"grep", "-m", "4000", "aB"},
		{"grep", "-A", "2", "-n", "aB"}, {"grep", "-B", "2", "aB"},
		{"grep", "-C", "1", "-v", "aB"}, {"grep", "-I", "-c", "aB"},
	} {
		for name, in := range inputs {
			t.Run(name+" "+strings.Join(argv[1:], " "), func(t *testing.T) {
				computetest.DiffGNU(t, in, argv...)
			})
		}
	}
}

// TestGrepBinaryAfterContextGNUReads: after-context pending at the read
// with the first NUL is printed from GNU's next reads (binaryTail), here
// reads after a line that grows GNU's buffer, the NULs in it. After the
// -m-th selected line GNU counts no line more: no "binary file matches"
// for the line selected after the NUL.
func TestGrepBinaryAfterContextGNUReads(t *testing.T) {
	t.Parallel()
	for _, longLen := range []int{120_000, 400_000} {
		for _, nulAt := range []int{10, 110_000} {
			var b bytes.Buffer
			for i := 0; b.Len() < 98_000; i++ {
				fmt.Fprintf(&b, "l%05d xx z\n", i)
			}
			b.WriteString("aB\n")
			long := bytes.Repeat([]byte("y"), longLen)
			long[nulAt], long[nulAt+5000] = 0, 0
			b.Write(long)
			b.WriteString("\nq1\nq2 aB\nq3\n")
			for i := 0; i < 30_000; i++ {
				fmt.Fprintf(&b, "t%05d\n", i)
			}
			for _, argv := range [][]string{{"grep", "-n", "-A", "3", "aB"}, {"grep", "-m1", "-A", "10", "aB"}, {"grep", "-C", "3", "aB"}} {
				t.Run(fmt.Sprint(longLen, " ", nulAt, " ", argv[1:]), func(t *testing.T) {
					computetest.DiffGNU(t, b.Bytes(), argv...)
				})
			}
		}
	}
}

// TestGrepBinaryBeforeContextGNUReads: with -B N, GNU keeps in its buffer
// the last N lines not printed yet, which shortens its next read as a
// partial line does: the lines printed before a NUL follow.
func TestGrepBinaryBeforeContextGNUReads(t *testing.T) {
	t.Parallel()
	for _, every := range []int{2000, 7} {
		for _, nulAt := range []int{194_000, 290_000} {
			var b bytes.Buffer
			for i := 0; b.Len() < 400_000; i++ {
				if i%every == 0 {
					fmt.Fprintf(&b, "l%05d aB z\n", i)
				} else {
					fmt.Fprintf(&b, "l%05d xx z\n", i)
				}
			}
			in := b.Bytes()
			in[nulAt] = 0
			for _, argv := range [][]string{
				{"grep", "-B", "400", "aB"}, {"grep", "-B", "3", "aB"},
				{"grep", "-n", "-C", "5000", "aB"},
			} {
				t.Run(fmt.Sprint(every, " ", nulAt, " ", argv[1:]), func(t *testing.T) {
					computetest.DiffGNU(t, in, argv...)
				})
			}
		}
	}
}
