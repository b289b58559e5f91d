package grep_test

import (
	"bytes"
	"testing"

	"github.com/halfclose/halfclose/compute/grep"
	"github.com/halfclose/halfclose/compute/internal/computetest"
)

// TestGrepNulAfterBufferEnd: GNU grep prints no line of the read that
// holds the first NUL. A buffer's lines are processed only up to the last
// read boundary (GrepBlock) they hold (search.go, safe): the rest of that
// read is not in the buffer yet and may hold a NUL. A buffer ends off a
// boundary when the previous one ended in the middle of a line (the
// buffer starts at that line): here the second buffer ends 200 bytes
// before a boundary, with a matching line before its end and a NUL after
// it, in the same read. Processing the whole buffer (safe = n) printed
// that line; GNU does not.
func TestGrepNulAfterBufferEnd(t *testing.T) {
	t.Parallel()
	const bufSize = grep.GrepBufSize
	var b bytes.Buffer
	filler := func(to int) {
		for b.Len() < to {
			line := bytes.Repeat([]byte("."), min(99, to-b.Len()-1))
			b.Write(append(line, '\n'))
		}
	}
	filler(bufSize - 200)
	b.Write(append(bytes.Repeat([]byte("-"), 299), '\n')) // across the first buffer's end
	end := 2*bufSize - 200                                // the second buffer's
	filler(end - 1000)
	b.WriteString("ERROR before the buffer's end\n")
	filler(end + 100)
	b.WriteString("NUL\x00\nERROR after the NUL\n")
	filler(2*bufSize + 4000)
	for _, argv := range [][]string{{"grep", "ERROR"}, {"grep", "-n", "ERROR"}, {"grep", "-v", "x"}} {
		computetest.DiffGNUEach(t, map[string][]byte{"nul-after-buffer": b.Bytes()}, argv...)
	}
}

// TestGrepStatusAfterNul: once GNU grep has met a NUL it prints nothing
// more, but still searches the rest (its NULs then end lines) for one
// selected line: its exit status says whether there was one. The NUL is
// in a later buffer; the only line selected is after it, in that block or
// buffers later, or there is none ("b" after the NUL on its line is a line
// of its own then: grep -x b selects it).
func TestGrepStatusAfterNul(t *testing.T) {
	t.Parallel()
	const bufSize = grep.GrepBufSize
	input := func(nulAt int, after string, total int) []byte {
		var b bytes.Buffer
		for b.Len() < nulAt {
			b.WriteString("filler line without the word\n")
		}
		b.WriteString("a\x00b\n")
		for b.Len() < total {
			b.WriteString("filler line without the word\n")
		}
		b.WriteString(after)
		return b.Bytes()
	}
	inputs := map[string][]byte{
		"selected-in-the-nul-block":      append(input(bufSize+500, "", bufSize+700), "ERROR\n"...),
		"selected-buffers-later":         input(bufSize+500, "ERROR\n", 3*bufSize+12345),
		"selected-after-nul-on-its-line": input(bufSize+500, "", 2*bufSize)[: bufSize+503 : bufSize+503],
		"none":                           input(bufSize+500, "", 3*bufSize),
	}
	for _, argv := range [][]string{
		{"grep", "ERROR"}, {"grep", "-n", "ERROR"}, {"grep", "-o", "ERROR"},
		{"grep", "-x", "ERROR"}, {"grep", "-v", "e"}, {"grep", "-A1", "ERROR"},
		{"grep", "-I", "ERROR"}, {"grep", "-c", "ERROR"}, {"grep", "-q", "ERROR"},
		{"grep", "-x", "b"},
	} {
		computetest.DiffGNUEach(t, inputs, argv...)
	}
}
