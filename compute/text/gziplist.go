package text

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/halfclose/halfclose/compute"
)

// gzipListing is what gzip -l lists of a stream, gathered by one run
// while it decompresses the stream to nowhere, as GNU gzip 1.12 lists
// stdin: it decompresses every member (a corrupt one is the same error as
// gunzip's), and lists only a stream that ended after a whole member (no
// row after trailing garbage or trailing zeros, only their warning).
type gzipListing struct {
	// in counts the input's bytes: all of it once the stream ended.
	in int64
	// out counts the bytes the current member decompressed to: GNU's
	// count, not the trailer's size modulo 2^32.
	out int64
	// crc is the last member's CRC, checked against its trailer.
	crc uint32
	// members counts the members whose header was read.
	members int
	// header is the first member's header size, for the ratio.
	header int64
	// stamp: the last nonzero MTIME of a member, under -N or -M (GNU
	// reads the time stamps only then); else the input file's time
	// (SetInputFileTime), as GNU's fstat of a regular stdin gives it, or 0,
	// the epoch, as GNU prints it for a pipe.
	stamp int64
	// name: the first member's name under -N (name is set), as GNU reads
	// it into its 1 KiB buffer.
	name    []byte
	hasName bool
	// ended: the stream ended right after a member.
	ended bool
}

// gnuInbuf is GNU gzip's input buffer size (INBUFSIZ): the ratio's header
// size is GNU's position in that buffer once the header is read.
const gnuInbuf = 256 << 10

// gnuNameMax is GNU gzip's name buffer (MAX_PATH_LEN): a name of that
// many bytes or more is "corrupted input -- file name too large".
const gnuNameMax = 1024

// errNameTooLarge is a first member's name that does not fit GNU's buffer
// under -lN.
var errNameTooLarge = errors.New("file name too large")

// member starts a member whose header has the time stamp stamp; times:
// the time stamps are listed (-N, -M).
func (l *gzipListing) member(stamp uint32, times bool) {
	l.members++
	l.out = 0
	if times && stamp != 0 {
		l.stamp = int64(stamp)
	}
}

// nameBytes takes the next bytes b of the first member's name; end: b
// ends with the name's NUL.
func (l *gzipListing) nameBytes(b []byte, end bool) error {
	if end {
		b = b[:len(b)-1]
	}
	if len(l.name)+len(b) >= gnuNameMax {
		return errNameTooLarge
	}
	l.name = append(l.name, b...)
	l.hasName = true
	return nil
}

// Write counts a member's decompressed bytes.
func (l *gzipListing) Write(p []byte) (int, error) {
	l.out += int64(len(p))
	return len(p), nil
}

// Read counts the input's bytes; r is the input.
type listCounter struct {
	r io.Reader
	l *gzipListing
}

func (c listCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.l.in += int64(n)
	return n, err
}

// listStream runs gzip -l on in: decompress it all, then GNU's header
// (not under -q) and row. A later "-" operand is an ended stdin: GNU
// lists the first and then fails on it, exit status 1, so no result.
func (s *gzipStage) listStream(ctx context.Context, in io.Reader, w io.Writer) error {
	l := s.listing
	if err := s.decompress(ctx, listCounter{in, l}, l); err != nil {
		return err
	}
	if s.again {
		// Under -f GNU only tries for the magic's bytes.
		what := "unexpected end of file"
		if s.listForce {
			what = "not in gzip format"
		}
		return &compute.Error{Code: compute.CodeInvalid, Msg: s.name + ": invalid compressed data: " + what + " (a second \"-\" operand reads an ended stdin)"}
	}
	if !l.ended {
		return nil // trailing garbage or zeros: GNU's warning and no row
	}
	_, err := io.WriteString(w, s.listText())
	return err
}

// listText is GNU's listing of one stream: its header line unless -q,
// the -v columns, and the row.
func (s *gzipStage) listText() string {
	l := s.listing
	var b []byte
	if s.verbose {
		b = append(b, "method  crc     date  time  "...)
	}
	if !s.quiet {
		b = fmt.Appendf(b, "%19s %19s  ratio uncompressed_name\n", "compressed", "uncompressed")
	}
	if s.verbose {
		// The time in the server's zone, as GNU's localtime in its own.
		if t, ok := localTime(l.stamp); ok {
			b = fmt.Appendf(b, "defla %08x %s%3d %02d:%02d ", l.crc, t.Month().String()[:3], t.Day(), t.Hour(), t.Minute())
		} else {
			// GNU's localtime failed: a year past what struct tm holds.
			b = fmt.Appendf(b, "defla %08x ??? ?? ??:?? ", l.crc)
		}
	}
	// GNU's ratio counts the first member's header and trailer out of the
	// compressed size, as its position in its input buffer (the header's
	// size modulo 256 KiB) plus 8; of a stream of several members, none.
	var header int64
	if l.members == 1 {
		header = (l.header-1)%gnuInbuf + 1 + 8
	}
	ratio := 0.0
	if l.out != 0 {
		ratio = 100.0 * float64(l.out-(l.in-header)) / float64(l.out)
	}
	name := "stdout"
	if l.hasName {
		name = lastComponent(string(l.name))
	}
	b = fmt.Appendf(b, "%19d %19d %5.1f%% %s\n", l.in, l.out, ratio, name)
	return string(b)
}

// lastComponent is a name's last component as gnulib's last_component
// finds it (which GNU gzip lists): after the last slash that a byte
// other than a slash follows; trailing slashes stay, and a name of
// slashes only is empty.
func lastComponent(name string) string {
	i := 0
	for i < len(name) && name[i] == '/' {
		i++
	}
	base, slash := i, false
	for ; i < len(name); i++ {
		switch {
		case name[i] == '/':
			slash = true
		case slash:
			base, slash = i, false
		}
	}
	return name[base:]
}

// localTime is sec in the server's zone, as glibc's localtime gives it:
// not ok where that fails, a year whose tm_year (year - 1900) an int
// does not hold (a file time on tmpfs can be any int64; GNU lists it as
// "??? ?? ??:??"). Beyond ±2^62 seconds the year is far out of that
// range, and Go's time would overflow.
func localTime(sec int64) (time.Time, bool) {
	if sec > 1<<62 || sec < -(1<<62) {
		return time.Time{}, false
	}
	t := time.Unix(sec, 0).In(time.Local)
	y := int64(t.Year()) - 1900
	return t, y >= math.MinInt32 && y <= math.MaxInt32
}
