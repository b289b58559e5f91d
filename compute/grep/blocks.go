package grep

import "bytes"

// GNU grep looks for a NUL in each buffer it reads, and once it has seen
// one it prints nothing more: the lines it prints of a binary input are
// those that end before the read holding the first NUL. Where its reads
// start and end is therefore part of its output. gnuReads models them for
// GNU grep 3.8 (over glibc 2.36, 4 KiB pages, 64-bit) reading a regular
// file, as measured with strace on crafted files:
//
//   - its buffer starts at 96 KiB of data plus a page and a word
//     (gnuInitAlloc);
//   - each read goes to the first page boundary after the bytes it keeps
//     (the partial line at the end of the last read, one byte before it),
//     and is as long as the whole pages left in the buffer, less a word:
//     96 KiB while what is kept fits in the page the buffer starts in,
//     a page less for each page boundary it crosses;
//   - when what is kept leaves less than a page to read, the buffer grows
//     by half (gnulib's xpalloc), to at least that much more, but not past
//     what the rest of the file needs (its size, for a regular file: the
//     input's length here, which is what the tests give GNU);
//   - a grown buffer of 128 KiB or more is glibc's mmap, 16 bytes past a
//     page boundary; a smaller one follows the first on the heap.
//
// The first buffer is on glibc's heap, after what GNU allocated compiling
// the patterns: where in its page it starts (gnuHeapAlign) varies with
// the patterns (measured 1216 to 3904 bytes in: `grep -c a` 2480, `-F
// aB` 2032, `-w -F aB` 2960, `-i error` 3360, `-e a -e b` 3856). It
// matters only when a partial line of more than 4095 less that at the end
// of a read is kept; this model takes the one of `grep WORD`.
type gnuReads struct {
	alloc int64 // GNU's bufalloc
	align int64 // where the buffer starts in its page
	// end is the input offset where the read being modelled ends, beg
	// where GNU's buffer then starts (what it kept of the read before).
	end, beg int64
	// grown: the first buffer was freed; mapped: the buffer is mmapped
	grown, mapped bool
	// mmapMin is glibc's mmap threshold: 128 KiB, raised to the size of
	// an mmapped buffer freed
	mmapMin int64
}

const (
	gnuPage      = 4096
	gnuWord      = 8
	gnuInitAlloc = 96<<10 + gnuPage + gnuWord
	gnuHeapAlign = 2480
)

// newGNUReads is the model at GNU's first read.
func newGNUReads() gnuReads {
	r := gnuReads{alloc: gnuInitAlloc, align: gnuHeapAlign, mmapMin: 128 << 10}
	r.end = r.readSize(0)
	return r
}

// readSize is the size of GNU's read into its buffer when it keeps save
// bytes before it.
func (r *gnuReads) readSize(save int64) int64 {
	at := (r.align+1+save+gnuPage-1)/gnuPage*gnuPage - r.align
	n := r.alloc - gnuWord - at
	return n - n%gnuPage
}

// lookahead is how many input bytes past r.end next must know of (or
// know that the input ends before) when GNU keeps save bytes: the file's
// size caps a growth of its buffer. 0: the buffer does not grow.
func (r *gnuReads) lookahead(save int64) int64 {
	if save+gnuPage-r.alloc+gnuPage+gnuWord <= 0 {
		return 0
	}
	return r.alloc + r.alloc/2 - save - gnuPage - gnuWord
}

// chunkOf is glibc's chunk size for a malloc of n bytes.
func chunkOf(n int64) int64 { return (n + gnuWord + 15) &^ 15 }

// next moves to GNU's next read, after the one ending at r.end, which
// leaves save bytes kept (the partial line it ends in); left is the
// number of input bytes after r.end, or any number at least lookahead's.
func (r *gnuReads) next(save, left int64) {
	incr := save + gnuPage - r.alloc + gnuPage + gnuWord
	if incr > 0 {
		n := min(r.alloc+r.alloc/2, max(left+save+gnuPage+gnuWord, r.alloc+incr))
		n = max(n, r.alloc+incr)
		mapped := chunkOf(n) >= r.mmapMin
		switch {
		case mapped:
			r.align = 16 // past mmap's page, glibc's chunk header
		case !r.grown:
			// on the heap, after the first buffer (still held)
			r.align = (r.align + chunkOf(r.alloc)) % gnuPage
		default:
			// where the first buffer was, freed to the heap's top
			r.align = gnuHeapAlign
		}
		if r.mapped {
			// glibc raises its threshold to an mmapped chunk it frees
			if sz := (chunkOf(r.alloc) + gnuWord + gnuPage - 1) / gnuPage * gnuPage; sz > r.mmapMin && sz <= 32<<20 {
				r.mmapMin = sz
			}
		}
		r.grown, r.mapped, r.alloc = true, mapped, n
	}
	r.beg = r.end - save
	r.end += r.readSize(save)
}

// advanceReads moves reads over GNU's reads that end by limit (at most
// the end of buf, which holds the input from off, a line start), start to
// the last of their ends. It reports whether it got to limit: not when
// it must know more of the input to tell the size of GNU's next read.
// kept, if not nil, is told where the last line ends before each read's
// end, and the partial line's length after it, and returns the bytes of
// the lines before that GNU keeps too (-B).
func advanceReads(reads *gnuReads, start *int64, buf []byte, off, limit int64, eof bool, kept func(lineEnd, partial int64) (int64, error)) (bool, error) {
	for reads.end <= limit {
		e := reads.end
		*start = e
		lineEnd := off + int64(bytes.LastIndexByte(buf[:e-off], '\n')+1)
		save := e - lineEnd
		if kept != nil {
			k, err := kept(lineEnd, save)
			if err != nil {
				return false, err
			}
			save += k
		}
		left := off + int64(len(buf)) - e
		if !eof && left < reads.lookahead(save) {
			return false, nil
		}
		reads.next(save, left)
	}
	return true, nil
}
