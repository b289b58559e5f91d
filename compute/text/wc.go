package text

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"

	"golang.org/x/sys/cpu"

	"github.com/halfclose/halfclose/compute"
)

// wcBufSize is wc's read buffer; wcBufs recycles them across jobs.
const wcBufSize = 256 << 10

var wcBufs = sync.Pool{New: func() any { b := make([]byte, wcBufSize); return &b }}

var wcFlags = []compute.FlagSpec{
	{Short: 'c', Long: "bytes", Summary: "print the byte count"},
	{Short: 'm', Long: "chars", Summary: "print the character count (bytes, in the C locale)"},
	{Short: 'l', Long: "lines", Summary: "print the newline count"},
	{Short: 'w', Long: "words", Summary: "print the word count"},
	{Short: 'L', Long: "max-line-length", Summary: "print the maximum display width of a line"},
}

var wcReject = compute.WithStd(
	compute.FlagSpec{Long: "files0-from", Value: true, Refuse: compute.RefuseFiles},
	compute.FlagSpec{Long: "debug", Summary: "report on standard error which line counter GNU would use"},
)

// wcClass is the word-loop table: bit 0 is set for a word byte (printable,
// not space), bit 1 for a byte that neither starts nor ends a word.
var wcClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c == ' ' || c >= '\t' && c <= '\r':
			t[c] = 0
		case c > ' ' && c < 0x7f:
			t[c] = 1
		default:
			t[c] = 2
		}
	}
	return t
}()

type wcCounts struct {
	lines, words, bytes, maxLen int64
}

type wcStage struct {
	lines, words, chars, bytes, maxLen bool
	outputs                            int // number of "-" operands; 0 means none
	// fileSize is the size of the regular file that is the input, or -1
	// for a pipe (SetInputFile).
	fileSize int64
	// debug: --debug, GNU's line on standard error (wcDebugLine)
	debug bool
}

// SetInputFile makes wc pad as GNU does when its standard input is a
// regular file of size bytes.
func (s *wcStage) SetInputFile(size int64) { s.fileSize = size }

func buildWc(env *compute.Env, args []string) (compute.Stage, error) {
	const cmd = "wc"
	f, err := compute.ParseFlags(cmd, append(append([]compute.FlagSpec(nil), wcFlags...), wcReject...), args)
	if err != nil {
		return nil, err
	}
	s := &wcStage{fileSize: -1}
	for _, u := range f.Uses {
		switch u.Key {
		case "c":
			s.bytes = true
		case "m":
			s.chars = true
		case "l":
			s.lines = true
		case "w":
			s.words = true
		case "L":
			s.maxLen = true
		case "debug":
			s.debug = true
		}
	}
	if !(s.bytes || s.chars || s.lines || s.words || s.maxLen) {
		s.lines, s.words, s.bytes = true, true, true
	}
	for _, op := range f.Operands {
		if op != "-" {
			return nil, compute.NoOperands(cmd, &compute.Flags{Operands: []string{op}})
		}
	}
	s.outputs = len(f.Operands)
	return s, nil
}

func (s *wcStage) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	// GNU chooses its line counter for each input it counts lines of
	// with no words or line lengths (chars are bytes in the C locale).
	if s.debug && s.lines && !s.words && !s.maxLen {
		if line := wcDebugLine(); line != "" {
			for range max(1, s.outputs) {
				compute.Diagnose(ctx, line)
			}
		}
	}
	c, err := s.count(ctx, in)
	if err != nil {
		return err
	}
	n := 0
	for _, b := range []bool{s.lines, s.words, s.chars, s.bytes, s.maxLen} {
		if b {
			n++
		}
	}
	// GNU: width 1 for a single count of a single input; otherwise at
	// least 7 for a pipe, and for a regular file the digits of its size
	// (each "-" operand counts the file's size again, at least 1).
	width := 7
	switch {
	case n == 1 && s.outputs <= 1:
		width = 1
	case s.fileSize >= 0:
		width = 1
		total := uint64(s.fileSize) * uint64(max(1, s.outputs))
		for ; total >= 10; total /= 10 {
			width++
		}
	}
	bw := bufio.NewWriterSize(out, 4096)
	switch s.outputs {
	case 0:
		s.line(bw, c, width, "")
	case 1:
		s.line(bw, c, width, "-")
	default:
		// Every further "-" reads the exhausted stdin: all zero. But GNU
		// counts the bytes alone of a regular file from its size without
		// reading it (unless the size is a multiple of the page size: such
		// a file may be in /proc, so it reads), so every "-" counts them;
		// -m too, which GNU counts as bytes in the C locale (wc -m - -).
		// That is GNU 9.1's: 9.3 moves the offset to the end (bug#61300).
		again := wcCounts{}
		if s.fileSize >= 0 && (s.bytes || s.chars) && !s.lines && !s.words && !s.maxLen && s.fileSize%int64(os.Getpagesize()) != 0 {
			again = c
		}
		s.line(bw, c, width, "-")
		total := c
		for range s.outputs - 1 {
			s.line(bw, again, width, "-")
			total.bytes += again.bytes
		}
		s.line(bw, total, width, "total")
	}
	return bw.Flush()
}

func (s *wcStage) line(w *bufio.Writer, c wcCounts, width int, name string) {
	var tmp [24]byte
	first := true
	put := func(v int64) {
		if !first {
			w.WriteByte(' ')
		}
		first = false
		d := strconv.AppendInt(tmp[:0], v, 10)
		for i := len(d); i < width; i++ {
			w.WriteByte(' ')
		}
		w.Write(d)
	}
	if s.lines {
		put(c.lines)
	}
	if s.words {
		put(c.words)
	}
	if s.chars {
		put(c.bytes)
	}
	if s.bytes {
		put(c.bytes)
	}
	if s.maxLen {
		put(c.maxLen)
	}
	if name != "" {
		w.WriteByte(' ')
		w.WriteString(name)
	}
	w.WriteByte('\n')
}

// count reads in to EOF, checking ctx between reads. Only what was asked
// is computed: bytes alone need no look at the data, lines use the
// vectorised bytes.Count.
func (s *wcStage) count(ctx context.Context, in io.Reader) (wcCounts, error) {
	bp := wcBufs.Get().(*[]byte)
	defer wcBufs.Put(bp)
	buf := *bp
	var (
		c       wcCounts
		inWord  uint8
		linePos int64
	)
	for {
		k, err := in.Read(buf)
		if k > 0 {
			p := buf[:k]
			c.bytes += int64(k)
			if s.lines {
				c.lines += int64(bytes.Count(p, []byte{'\n'}))
			}
			if s.words {
				var w int64
				w, inWord = countWords(p, inWord)
				c.words += w
			}
			if s.maxLen {
				linePos = maxLineWidth(p, linePos, &c.maxLen)
			}
		}
		if err == io.EOF {
			c.maxLen = max(c.maxLen, linePos)
			return c, nil
		}
		if err != nil {
			return c, err
		}
		if err := ctx.Err(); err != nil {
			return c, err
		}
	}
}

// countWords returns the number of words that start in p, given whether
// the byte before p was inside a word, and whether its last byte is.
func countWords(p []byte, inWord uint8) (int64, uint8) {
	var starts uint64
	in := inWord
	t := &wcClass
	for len(p) >= 4 {
		c0, c1, c2, c3 := t[p[0]], t[p[1]], t[p[2]], t[p[3]]
		w := c0 & 1
		starts += uint64(w &^ in)
		in = w | in&(c0>>1)
		w = c1 & 1
		starts += uint64(w &^ in)
		in = w | in&(c1>>1)
		w = c2 & 1
		starts += uint64(w &^ in)
		in = w | in&(c2>>1)
		w = c3 & 1
		starts += uint64(w &^ in)
		in = w | in&(c3>>1)
		p = p[4:]
	}
	for _, b := range p {
		c := t[b]
		w := c & 1
		starts += uint64(w &^ in)
		in = w | in&(c>>1)
	}
	return int64(starts), in
}

// maxLineWidth advances the display position over p, raising *maxLen at
// each line end, and returns the position after p.
func maxLineWidth(p []byte, pos int64, maxLen *int64) int64 {
	m := *maxLen
	for _, b := range p {
		switch {
		case b == '\n' || b == '\r' || b == '\f':
			m = max(m, pos)
			pos = 0
		case b == '\t':
			pos += 8 - pos%8
		case b >= ' ' && b < 0x7f:
			pos++
		}
	}
	*maxLen = m
	return pos
}

func registerWc(r *compute.Registry) {
	r.Register(&compute.Command{
		Name:    "wc",
		Summary: "print newline, word and byte counts of the input, as GNU wc",
		Flags:   append(append([]compute.FlagSpec(nil), wcFlags...), wcReject...),
		Build:   buildWc,
	})
}

// wcDebugLine is the line GNU wc 9.1 --debug writes on standard error
// when it counts lines alone: which counter it chose, by the CPU it runs
// on (AVX2 on x86; elsewhere it has one and says nothing). We report what
// GNU would choose on the server's CPU; our count is the same whatever
// it says.
func wcDebugLine() string {
	switch {
	case runtime.GOARCH != "amd64" && runtime.GOARCH != "386":
		return ""
	case cpu.X86.HasAVX2:
		return "wc: using avx2 hardware support"
	}
	return "wc: avx2 support not detected"
}
