package text

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"sync"

	"github.com/halfclose/halfclose/compute"
)

func registerGzip(r *compute.Registry) {
	r.Register(&compute.Command{Name: "gzip", Summary: "compress the input (stdin to stdout; -c implied, -1..-9, -d, -t)", Flags: gzipFlags, Build: buildGzip("gzip", false)})
	r.Register(&compute.Command{Name: "gunzip", Summary: "decompress gzip input (stdin to stdout; -c implied)", Flags: gzipFlags, Build: buildGzip("gunzip", true)})
	r.Register(&compute.Command{Name: "zcat", Summary: "decompress gzip input, same as gunzip -c", Flags: gzipFlags, Build: buildGzip("zcat", true)})
}

// gzipFlags is GNU gzip 1.12's option table (gunzip and zcat are gzip).
var gzipFlags = func() []compute.FlagSpec {
	f := []compute.FlagSpec{
		{Short: 'c', Long: "stdout", Summary: "write to stdout (always the case)"},
		{Long: "to-stdout", Same: "c", Summary: "same as --stdout"},
		{Short: 'd', Long: "decompress", Summary: "decompress"},
		{Long: "uncompress", Same: "d", Summary: "same as --decompress"},
		{Short: 'f', Long: "force", Summary: "with -d, pass input that is not gzip through unchanged"},
		{Short: 'k', Long: "keep", Summary: "ignored (no files)"},
		{Short: 'n', Long: "no-name", Summary: "do not save a name or time stamp (always the case); with -l, list neither (the default)"},
		{Short: 'N', Long: "name", Summary: "with -l, list the first member's name and the last time stamp; else ignored (stdin has no name)"},
		{Short: 'q', Long: "quiet", Summary: "no warning (the exit status is still 2)"},
		{Long: "silent", Same: "q", Summary: "same as --quiet"},
		{Short: 'v', Long: "verbose", Summary: "compressing, print the ratio; with -d, report extra fields and warn about trailing zero bytes too (exit status 2)"},
		{Short: 'm', Summary: "GNU's undocumented -m, -n for the time stamp alone: with -l, list no time stamp (the default); else ignored"},
		{Short: 'M', Summary: "GNU's undocumented -M, -N for the time stamp alone: with -l, list the last time stamp; else ignored"},
		{Long: "fast", Same: "1", Summary: "same as -1"},
		{Long: "best", Same: "9", Summary: "same as -9"},
		{Long: "rsyncable", Summary: "ignored (the output need not match GNU's bytes)"},
		{Long: "synchronous", Summary: "ignored"},
		{Long: "-presume-input-tty", Summary: "stdin is taken as a terminal: an error without -f, as in GNU"},
		{Short: 'a', Long: "ascii", Summary: "ignored, with GNU's warning on a system without text files (not under -q)"},
		{Short: 'b', Long: "bits", Value: true, Summary: "BITS (digits only): ignored, as in a GNU gzip built without LZW"},
		{Short: 'l', Long: "list", Summary: "list the compressed and uncompressed sizes (the last member's), the ratio and the name (stdout; -N: the first member's); with -v the method, CRC and time too"},
		{Short: 't', Long: "test", Summary: "test the compressed data: decompress it and write nothing (with -v, GNU's \" OK\" line)"},
		{Short: 'r', Long: "recursive", Refuse: compute.RefuseFiles},
		{Short: 'S', Long: "suffix", Value: true, Refuse: compute.RefuseFiles},
		{Short: 'h', Long: "help", Refuse: compute.RefuseInfo},
		{Short: 'H', Same: "h", Refuse: compute.RefuseInfo},
		{Short: '?', Same: "h", Refuse: compute.RefuseInfo},
		{Short: 'L', Long: "license", Refuse: compute.RefuseInfo},
		{Short: 'V', Long: "version", Refuse: compute.RefuseInfo},
	}
	for c := byte('1'); c <= '9'; c++ {
		f = append(f, compute.FlagSpec{Short: c, Summary: "compression level " + string(c)})
	}
	return f
}()

type gzipStage struct {
	name   string
	decomp bool
	force  bool
	level  int
	// verbose: GNU's -v (and no -q after it), which makes trailing
	// zeros a warning, exit status 2.
	verbose bool
	// quiet: GNU's -q (and no -v after it): a warning is not written,
	// but its exit status 2 stays.
	quiet bool
	// again: a "-" operand after the first, which GNU reads as an ended
	// stdin (gunzip -c - -).
	again bool
	// more: the "-" operands after the first; compressing, GNU writes an
	// empty member for each (the ended stdin).
	more int
	// test: GNU's -t, decompressing to nowhere; under -v the input that
	// decompressed with no warning gets GNU's " OK" line.
	test bool
	// ascii: GNU's -a with no -q after the last -q/-v, which warns that
	// it is ignored before any data is read.
	ascii bool
	// list: GNU's -l, which decompresses to nowhere and then lists the
	// stream (gziplist.go).
	list bool
	// listForce: -f under -l, where GNU passes nothing through but still
	// only tries for the magic's bytes (try_byte): an input shorter than
	// the magic is "not in gzip format", a byte after a member trailing
	// garbage.
	listForce bool
	// names: GNU's -N after the last -n, which makes -l list the first
	// member's name.
	names bool
	// times: GNU's -N or -M after the last -n or -m (its no_time, which
	// -N and -n set with no_name, -M and -m alone), which makes -l list
	// the members' time stamps.
	times bool
	// warned: a warning was given in this run (its exit status is 2).
	warned bool
	// listing: what -l lists, gathered while this run decompresses; nil
	// without -l.
	listing *gzipListing
	// fileTime: the modification time of the regular file that is the
	// input (SetInputFileTime), which GNU's -l lists from its fstat of
	// stdin in place of the epoch; hasFileTime: it was given.
	fileTime    int64
	hasFileTime bool
}

// SetInputFileTime says the input is a regular file modified at mtime
// (seconds since the epoch): gzip -l lists it as GNU lists its fstat
// time of such a stdin. Compressing, it changes nothing (docs/protocol.md).
func (s *gzipStage) SetInputFileTime(mtime int64) { s.fileTime, s.hasFileTime = mtime, true }

// WantsInputFileTime: only -l with -v (the last of -v and -q) lists a
// time (listText).
func (s *gzipStage) WantsInputFileTime() bool { return s.list && s.verbose }

func buildGzip(name string, decomp bool) func(*compute.Env, []string) (compute.Stage, error) {
	return func(env *compute.Env, args []string) (compute.Stage, error) {
		f, err := compute.ParseFlags(name, gzipFlags, args)
		if err != nil {
			return nil, err
		}
		if err := compute.NoOperandsButStdin(name, f); err != nil {
			return nil, err
		}
		s := &gzipStage{name: name, decomp: decomp, level: 6, again: len(f.Operands) > 1, more: max(len(f.Operands)-1, 0)}
		tty, ascii := false, false
		for _, u := range f.Uses {
			switch k := u.Key; {
			case k == "a":
				ascii = true
			case k == "b":
				// GNU 1.12 is built without LZW (-Z), and reads -b's
				// value only to check it: digits, or nothing.
				if strings.Trim(u.Value, "0123456789") != "" {
					return nil, compute.Invalidf("gzip: -b operand is not an integer")
				}
			case k == "-presume-input-tty":
				tty = true
			case k == "d":
				s.decomp = true
			case k == "t":
				s.decomp, s.test = true, true
			case k == "l":
				s.decomp, s.list = true, true
			case k == "N":
				s.names, s.times = true, true
			case k == "n":
				s.names, s.times = false, false
			case k == "M":
				s.times = true
			case k == "m":
				s.times = false
			case k == "f":
				s.force = true
			case k == "v":
				s.verbose, s.quiet = true, false
			case k == "q":
				s.verbose, s.quiet = false, true
			case len(k) == 1 && k[0] >= '1' && k[0] <= '9':
				s.level = int(k[0] - '0')
			}
		}
		s.ascii = ascii && !s.quiet
		if tty && !s.force && !s.list {
			// GNU refuses compressed data to or from a terminal without
			// -f, and ---presume-input-tty says stdin is one.
			if s.decomp {
				return nil, compute.Invalidf("%s: compressed data not read from a terminal (---presume-input-tty); use -f to force decompression", s.name)
			}
			return nil, compute.Invalidf("%s: compressed data not written to a terminal (---presume-input-tty); use -f to force compression", s.name)
		}
		return s, nil
	}
}

// Run runs a copy of s: a --tcp-route pipeline is compiled once and its
// stages run for every connection, at once, and a run keeps state of its
// own (warned).
func (s *gzipStage) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	run := *s
	run.warned = false
	if run.list {
		// GNU lists what it decompressed: -f passes nothing through.
		run.force, run.listForce = false, run.force
		run.listing = &gzipListing{}
		if run.hasFileTime {
			// GNU starts from fstat's time of a regular stdin, which a
			// member's nonzero MTIME replaces under -N or -M.
			run.listing.stamp = run.fileTime
		}
	}
	return run.run(ctx, in, out)
}

func (s *gzipStage) run(ctx context.Context, in io.Reader, out io.Writer) error {
	if s.ascii {
		// GNU says it once, after its options and before any data,
		// whether it compresses or not; it is no warning (status 0).
		compute.Diagnose(ctx, "gzip: option --ascii ignored on this system")
	}
	w := newBlockWriter(out)
	var err error
	if s.list {
		err = s.listStream(ctx, in, w)
	} else if s.decomp {
		var dst io.Writer = w
		if s.test {
			dst = io.Discard
		}
		err = s.decompress(ctx, in, dst)
		if err == nil && s.test && s.verbose && !s.warned {
			compute.Diagnose(ctx, " OK")
			if s.force {
				// Each later "-" is an ended stdin that -f passes
				// through as nothing: GNU tests it too, and says " OK".
				for range s.more {
					compute.Diagnose(ctx, " OK")
				}
			}
		}
		if err == nil && s.again && !s.force {
			// GNU reads stdin again for each later "-": it has ended, and
			// an empty input is not gzip data (with -f it passes through
			// as nothing).
			err = &compute.Error{Code: compute.CodeInvalid, Msg: s.name + ": invalid compressed data: unexpected end of file (a second \"-\" operand reads an ended stdin)"}
		}
	} else {
		err = s.compress(ctx, in, w)
		for i := 0; i < s.more && err == nil; i++ {
			err = s.compress(ctx, eofReader{}, w)
		}
	}
	if err != nil {
		return err
	}
	return w.Flush()
}

// gzipWriters recycles compressors across jobs, a pool per level: a new
// one allocates about 800 KiB of tables and window that Go must zero and
// fault in, a small job's main cost; Reset clears the tables in place and
// makes it the same as a new one (nothing of the last job's input can
// match). A compressor writes to its gzipSink, whose writer is dropped
// before it goes back, so the pool holds nothing of a job; it goes back
// only after a successful Close. The pools hold at most the compressors
// running at once, until the garbage collector empties them.
var gzipWriters [10]sync.Pool

// pooledGzip is a compressor and the sink it writes to.
type pooledGzip struct {
	zw   *gzip.Writer
	sink gzipSink
}

// gzipSink is the writer of a pooled compressor: the job's, while it
// runs. n counts the bytes written, for -v's ratio.
type gzipSink struct {
	w io.Writer
	n int64
}

func (s *gzipSink) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	s.n += int64(n)
	return n, err
}

// countingReader counts the bytes read through it, for -v's ratio.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (s *gzipStage) compress(ctx context.Context, in io.Reader, w io.Writer) error {
	if s.level < 0 || s.level >= len(gzipWriters) {
		return compute.Invalidf("gzip: bad level %d", s.level)
	}
	pool := &gzipWriters[s.level]
	pz, _ := pool.Get().(*pooledGzip)
	if pz == nil {
		pz = &pooledGzip{}
		zw, err := gzip.NewWriterLevel(&pz.sink, s.level)
		if err != nil {
			return compute.Invalidf("gzip: bad level %d", s.level)
		}
		pz.zw = zw
	} else {
		pz.zw.Reset(&pz.sink)
	}
	pz.sink.w, pz.sink.n = w, 0
	cr := &countingReader{r: in}
	err := copyCtx(ctx, pz.zw, cr)
	if err == nil {
		err = pz.zw.Close()
	}
	out := pz.sink.n
	// Dropped before the compressor may go back: once in the pool, it is
	// another job's (a deferred drop raced with that job's Get).
	pz.sink.w = nil
	if err != nil {
		return err
	}
	pool.Put(pz)
	if s.verbose {
		// GNU's -v line for stdin: the share of the input saved by the
		// deflate data (the output less its 10-byte header and 8-byte
		// trailer), as printf's "%5.1f%%"; 0 for an empty input. It is
		// the ratio of this output, whose bytes may differ from GNU's.
		ratio := 0.0
		if cr.n > 0 {
			ratio = 100.0 * float64(cr.n-(out-gzipFrameBytes)) / float64(cr.n)
		}
		compute.Diagnose(ctx, fmt.Sprintf("%5.1f%%", ratio))
	}
	return nil
}

// gzipFrameBytes is the size of what Go's gzip.Writer puts around the
// deflate data with no name, comment or extra field: the 10-byte header
// and the 8-byte trailer.
const gzipFrameBytes = 10 + 8

// gunzipReaders recycles gunzip's read buffers and windows across jobs
// (*gunzipBuffers). They go back once decompress has returned: nothing
// refers to them then (what the reader read was copied out or written
// on), a reader Reset to a new input returns only bytes read from it, and
// the window is cleared.
var gunzipReaders = sync.Pool{New: func() any { return &gunzipBuffers{br: bufio.NewReaderSize(nil, 128<<10)} }}

// gunzipBuffers are a gunzip job's input buffer and its GNU window.
type gunzipBuffers struct {
	br *bufio.Reader
	// window is GNU gzip's 32 KiB sliding window as its inflate leaves
	// it: the byte a member put out at its position p (from 0, each
	// member its own) is at window[p%32768], zeros where none was ever
	// put. GNU never clears it, and a match whose distance reaches back
	// before its member's first byte reads it (at p-distance, modulo
	// 32768) where zlib and Go's flate refuse "too far back": GNU prints
	// zeros for it in a first member, bytes of earlier members in a
	// later one, and exits 0 if the CRC agrees. Each member is inflated
	// with the window as its preset dictionary, whose byte at
	// distance d before the member's start is window[32768-d]: what GNU
	// reads there.
	window [gnuWindow]byte
}

// gnuWindow is GNU gzip's WSIZE, the reach of a deflate match.
const gnuWindow = 32 << 10

// abortReader remembers a read error that is not the end of input, so that
// an abort is told apart from corrupt data.
type abortReader struct {
	r   io.Reader
	err error
}

func (a *abortReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if err != nil && err != io.EOF && a.err == nil {
		a.err = err
	}
	return n, err
}

func (s *gzipStage) decompress(ctx context.Context, in io.Reader, w io.Writer) error {
	ar := &abortReader{r: in}
	bufs := gunzipReaders.Get().(*gunzipBuffers)
	br, window := bufs.br, &bufs.window
	br.Reset(ar)
	defer func() {
		br.Reset(nil)
		clear(window[:])
		gunzipReaders.Put(bufs)
	}()
	bad := func(what string, err error) error {
		if ar.err != nil {
			return ar.err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return &compute.Error{Code: compute.CodeInvalid, Msg: s.name + ": invalid compressed data: " + what, Err: err}
	}
	magic, _ := br.Peek(2)
	if ar.err != nil {
		return ar.err
	}
	if len(magic) == 2 && !bytes.Equal(magic, []byte{0x1f, 0x8b}) || s.force && len(magic) < 2 {
		if err := s.otherFormat(br, true); err != nil {
			return err
		}
		if !s.force {
			// As GNU, the magic is looked at first, however short the
			// input (Go's reader wants a whole header before it does).
			return bad("not in gzip format", nil)
		}
		return copyCtx(ctx, w, br) // GNU -df passes other data through
	}
	if s.listForce && len(magic) < 2 {
		return bad("not in gzip format", nil)
	}
	if len(magic) == 0 {
		return bad("unexpected end of file", nil)
	}
	if len(magic) == 1 && magic[0] == 0 {
		// GNU must read a second byte after a first that is not zero
		// (get_byte, which fails at the end), but after a zero one it
		// only tries (try_byte): a lone zero is not gzip data.
		return bad("not in gzip format", nil)
	}
	var fr io.ReadCloser
	for member := 0; ; member++ {
		if member > 0 {
			// A copy: the slice Peek returns is the reader's buffer,
			// which otherFormat's longer Peek may slide and refill
			// (a second member's first two bytes at the end of one read
			// were read as trailing garbage, its data dropped).
			var nb [2]byte
			peeked, _ := br.Peek(2)
			next := nb[:copy(nb[:], peeked)]
			if ar.err != nil {
				return ar.err
			}
			if len(next) == 0 {
				if s.listing != nil {
					s.listing.ended = true
				}
				return nil
			}
			// What follows a member, as GNU reads it: another
			// member; with -f, data passed through; zeros to the end,
			// ignored; else a warning (exit status 2), and the rest is
			// not read. GNU reads a second byte before it looks, but
			// after a zero one the end may come.
			if err := s.otherFormat(br, false); err != nil {
				return err
			}
			if s.force && !bytes.Equal(next, []byte{0x1f, 0x8b}) {
				return copyCtx(ctx, w, br) // GNU -df passes trailing data through
			}
			if next[0] == 0 {
				return s.trailingZeros(ctx, br)
			}
			if len(next) < 2 && !s.listForce {
				return bad("unexpected end of file", nil)
			}
			if len(next) < 2 || next[0] != 0x1f || next[1] != 0x8b {
				s.warn(ctx, "trailing garbage ignored")
				return nil
			}
		}
		// GNU refuses a member whose flags say encrypted (0x20) or set a
		// reserved bit (0xc0); Go's reader ignores them.
		// Only a gzip member's flags: other data is "not in gzip format"
		// (gunzip < text said "encrypted" when its fourth byte had 0x20).
		h, _ := br.Peek(4)
		if len(h) >= 3 && h[0] == 0x1f && h[1] == 0x8b && h[2] != 8 {
			// As GNU, the method is looked at before the flags are read.
			return bad(fmt.Sprintf("unknown method %d -- not supported", h[2]), nil)
		}
		if len(h) == 4 && h[0] == 0x1f && h[1] == 0x8b && h[3]&0xe0 != 0 {
			if h[3]&0x20 != 0 {
				return bad("encrypted -- not supported", nil)
			}
			return bad(fmt.Sprintf("has flags 0x%x -- not supported", h[3]), nil)
		}
		if err := s.readHeader(ctx, br); err != nil {
			if errors.Is(err, errNameTooLarge) {
				if ar.err != nil {
					return ar.err
				}
				return &compute.Error{Code: compute.CodeInvalid, Msg: s.name + ": corrupted input -- file name too large"}
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return bad("unexpected end of file", err)
			}
			var he headerCRCError
			if errors.As(err, &he) {
				if ar.err != nil {
					return ar.err
				}
				return &compute.Error{Code: compute.CodeInvalid, Msg: s.name + ": " + he.Error()}
			}
			return bad("not in gzip format", err)
		}
		if fr == nil {
			fr = flate.NewReaderDict(br, window[:])
		} else if err := fr.(flate.Resetter).Reset(br, window[:]); err != nil {
			return bad("corrupt data", err)
		}
		crc, err := inflateMember(ctx, w, fr, br, window)
		if err != nil {
			if ar.err != nil || errors.Is(err, compute.ErrDownstreamDone) || ctx.Err() != nil {
				if ar.err != nil {
					return ar.err
				}
				return err
			}
			var we writeError
			if errors.As(err, &we) {
				return we.err
			}
			switch {
			case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
				return bad("unexpected end of file", err)
			case errors.Is(err, errGunzipCRC):
				return bad("crc error", err)
			case errors.Is(err, errGunzipLength):
				return bad("length error", err)
			case errors.As(err, new(flate.CorruptInputError)):
				return bad("format violated", err)
			}
			return bad("corrupt data", err)
		}
		if s.listing != nil {
			s.listing.crc = crc
		}
	}
}

// The two checks of a member's trailer, in GNU's order: the CRC first,
// then the length.
var (
	errGunzipCRC    = errors.New("crc error")
	errGunzipLength = errors.New("length error")
)

// headerCRCError is a member whose header CRC (FHCRC) does not match its
// header, worded as GNU gzip words it.
type headerCRCError struct{ stored, computed uint16 }

func (e headerCRCError) Error() string {
	return fmt.Sprintf("header checksum 0x%04x != computed checksum 0x%04x", e.stored, e.computed)
}

// Flag bits of a gzip member header (RFC 1952).
const (
	gzipFHCRC    = 1 << 1
	gzipFEXTRA   = 1 << 2
	gzipFNAME    = 1 << 3
	gzipFCOMMENT = 1 << 4
)

// readHeader reads a member's header (its magic, method and flags already
// checked) from br, as GNU gzip 1.12 reads it: an extra field of any
// length is skipped (under -v with GNU's line "extra field of N bytes
// ignored"), and a name or comment of any length too. Go's gzip.Reader
// refuses a name or comment of 512 bytes or more, which GNU takes.
func (s *gzipStage) readHeader(ctx context.Context, br *bufio.Reader) error {
	crc := crc32.NewIEEE()
	var fixed [10]byte
	if _, err := io.ReadFull(br, fixed[:]); err != nil {
		return err
	}
	crc.Write(fixed[:])
	flg := fixed[3]
	l := s.listing
	if l != nil {
		l.member(binary.LittleEndian.Uint32(fixed[4:8]), s.times)
	}
	// hlen counts the header's bytes, for -l.
	hlen := int64(len(fixed))
	if flg&gzipFEXTRA != 0 {
		var xlen [2]byte
		if _, err := io.ReadFull(br, xlen[:]); err != nil {
			return err
		}
		crc.Write(xlen[:])
		n := int64(binary.LittleEndian.Uint16(xlen[:]))
		hlen += 2 + n
		if _, err := io.CopyN(crc, br, n); err != nil {
			return err
		}
		if s.verbose {
			compute.Diagnose(ctx, fmt.Sprintf("gzip: stdin: extra field of %d bytes ignored", n))
		}
	}
	for _, f := range []byte{gzipFNAME, gzipFCOMMENT} {
		if flg&f == 0 {
			continue
		}
		// GNU -lN reads the first member's name into its 1 KiB buffer.
		keep := f == gzipFNAME && l != nil && s.names && l.members == 1
		for {
			b, err := br.ReadSlice(0)
			crc.Write(b)
			hlen += int64(len(b))
			if keep {
				if err := l.nameBytes(b, err == nil); err != nil {
					return err
				}
			}
			if err == nil {
				break
			}
			if err != bufio.ErrBufferFull {
				return err
			}
		}
	}
	if flg&gzipFHCRC != 0 {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return err
		}
		stored, computed := binary.LittleEndian.Uint16(h[:]), uint16(crc.Sum32())
		if stored != computed {
			return headerCRCError{stored, computed}
		}
		hlen += 2
	}
	if l != nil && l.members == 1 {
		l.header = hlen
	}
	return nil
}

// inflateMember writes a member's data, read through its deflate stream
// fr, to w and, at its end, checks the trailer's CRC and length (modulo
// 2^32) from br. The data passes through GNU's window (gunzipBuffers):
// each byte is read into its place there and written from it, so that
// keeping the window costs no copy. Write errors come back as writeError.
func inflateMember(ctx context.Context, w io.Writer, fr io.Reader, br *bufio.Reader, window *[gnuWindow]byte) (uint32, error) {
	var crc, size uint32 // size: the member's position, modulo 2^32 (a multiple of gnuWindow)
	for {
		at := size % gnuWindow
		n, err := fr.Read(window[at:])
		if n > 0 {
			b := window[at : int(at)+n]
			crc = crc32.Update(crc, crc32.IEEETable, b)
			size += uint32(n)
			if _, werr := w.Write(b); werr != nil {
				return 0, writeError{werr}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
	var t [8]byte
	if _, err := io.ReadFull(br, t[:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	switch {
	case binary.LittleEndian.Uint32(t[:4]) != crc:
		return 0, errGunzipCRC
	case binary.LittleEndian.Uint32(t[4:]) != size:
		return 0, errGunzipLength
	}
	return crc, nil
}

// otherFormat refuses, under -f, input that GNU gzip would not pass
// through unchanged but decompress as another format it reads: zip (first
// member only), pack, compress (LZW), LZH, or the old gzip magic. Those
// formats are not supported here: passing them through would be a result
// GNU never prints.
func (s *gzipStage) otherFormat(br *bufio.Reader, first bool) error {
	m, _ := br.Peek(4)
	var what string
	switch {
	case first && bytes.Equal(m, []byte("PK\x03\x04")):
		what = "zip"
	case len(m) < 2 || m[0] != 0x1f:
	case m[1] == 0x1e:
		what = "pack"
	case m[1] == 0x9d:
		what = "compress (LZW)"
	case m[1] == 0xa0:
		what = "LZH"
	case m[1] == 0x9e:
		what = "old gzip"
	}
	if what == "" {
		return nil
	}
	return &compute.Error{Code: compute.CodeInvalid, Msg: s.name + ": unsupported input format: " + what + " compressed data (only gzip is read)"}
}

// errGarbage ends trailingZeros' scan at a byte that is not zero.
var errGarbage = errors.New("trailing garbage")

// trailingZeros reads the zero bytes after the last member to the end of
// the input, as GNU does: they are ignored (under -v with a warning, exit
// status 2); a byte that is not zero among them makes them trailing
// garbage (a warning, exit status 2), and the rest is not read.
func (s *gzipStage) trailingZeros(ctx context.Context, br *bufio.Reader) error {
	err := eachBlock(ctx, br, 64<<10, func(b []byte) error {
		for _, c := range b {
			if c != 0 {
				return errGarbage
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, errGarbage):
		s.warn(ctx, "trailing garbage ignored")
	case err != nil:
		return err
	case s.verbose:
		s.warn(ctx, "trailing zero bytes ignored")
	}
	return nil
}

// warn ends a decompression that succeeded as GNU gzip does when it
// warns: exit status 2, and its line on standard error unless -q, after
// the empty line GNU writes before it. (GNU's gunzip and zcat are scripts
// that run gzip: the line names gzip.) The
// rest of the input is not read here; the engine reads it to its end, so
// an abort there still fails the job.
func (s *gzipStage) warn(ctx context.Context, what string) {
	s.warned = true
	if !s.quiet {
		compute.Diagnose(ctx, "")
		compute.Diagnose(ctx, "gzip: stdin: decompression OK, "+what)
	}
	compute.SetExitStatus(ctx, 2)
}

// eofReader is the ended stdin a later "-" operand reads.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// writeError marks an error from the writer side of copyCtx.
type writeError struct{ err error }

func (e writeError) Error() string { return e.err.Error() }

func (e writeError) Unwrap() error { return e.err }

// copyCtx copies r to w until r's io.EOF, checking ctx between blocks.
// Write errors come back as writeError.
func copyCtx(ctx context.Context, w io.Writer, r io.Reader) error {
	return eachBlock(ctx, r, 128<<10, func(b []byte) error {
		if _, err := w.Write(b); err != nil {
			return writeError{err}
		}
		return nil
	})
}
