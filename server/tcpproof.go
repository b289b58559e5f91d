package server

import (
	"bufio"
	"io"
	"strconv"
	"strings"

	"github.com/halfclose/halfclose/compute"
)

// tcpOptions are the option words a command-port header line may start
// with, for clients that can do more than nc: a proof of the end of input
// (@size, @chunked) and a reply they can verify (@trailer). See
// docs/protocol.md. Without them the adapter is byte-for-byte what nc
// expects.
type tcpOptions struct {
	size    int64  // @size=N: the exact input length; -1 when not declared
	chunked bool   // @chunked: the input is framed in chunks, ended by an empty one
	trailer bool   // @trailer: a status line follows the output
	status  bool   // @status: the @trailer line carries the exit status
	token   string // @token=TOKEN: the client's bearer token; "" when not given
	file    int64  // @file=N: the input is a regular file of N bytes; -1 when not said
	// @mtime=SECONDS: that file's modification time, seconds since the
	// epoch (may be negative); hasMtime: it was given.
	mtime    int64
	hasMtime bool
}

// proven reports whether the options prove the end of input.
func (o tcpOptions) proven() bool { return o.size >= 0 || o.chunked }

// String renders the options as header words, in a fixed order.
func (o tcpOptions) String() string {
	var w []string
	if o.size >= 0 {
		w = append(w, "@size="+strconv.FormatInt(o.size, 10))
	}
	if o.chunked {
		w = append(w, "@chunked")
	}
	if o.trailer {
		w = append(w, "@trailer")
	}
	if o.status {
		w = append(w, "@status")
	}
	if o.token != "" {
		w = append(w, "@token="+o.token)
	}
	if o.file >= 0 {
		w = append(w, "@file="+strconv.FormatInt(o.file, 10))
	}
	if o.hasMtime {
		w = append(w, "@mtime="+strconv.FormatInt(o.mtime, 10))
	}
	return strings.Join(w, " ")
}

// maxSizeDigits bounds @size=N and a chunk length: 18 digits always fit
// an int64.
const maxSizeDigits = 18

// parseHeaderOptions splits the leading option words (each starts with
// "@"; words are separated by spaces or tabs) off a header line and
// returns them and the pipeline text, which is the rest of the line. No
// command name starts with "@", so a line without options is the pipeline
// as it always was.
func parseHeaderOptions(line string) (tcpOptions, string, error) {
	o := tcpOptions{size: -1, file: -1}
	rest := line
	seen := map[string]bool{}
	for {
		rest = strings.TrimLeft(rest, " \t")
		if !strings.HasPrefix(rest, "@") {
			break
		}
		end := strings.IndexAny(rest, " \t")
		if end < 0 {
			end = len(rest)
		}
		word := rest[:end]
		rest = rest[end:]
		name, value, hasValue := strings.Cut(word, "=")
		if seen[name] {
			return o, "", compute.Invalidf("header option %s given twice", quoteWord(name))
		}
		seen[name] = true
		switch name {
		case "@size":
			n, ok := parseCount(value)
			if !hasValue || !ok {
				return o, "", compute.Invalidf("header option @size wants a byte count: @size=N")
			}
			o.size = n
		case "@file":
			n, ok := parseCount(value)
			if !hasValue || !ok {
				return o, "", compute.Invalidf("header option @file wants the file's size: @file=N")
			}
			o.file = n
		case "@mtime":
			n, ok := parseSeconds(value)
			if !hasValue || !ok {
				return o, "", compute.Invalidf("header option @mtime wants the file's modification time in seconds since the epoch: @mtime=SECONDS")
			}
			o.mtime, o.hasMtime = n, true
		case "@chunked", "@trailer", "@status":
			if hasValue {
				return o, "", compute.Invalidf("header option %s takes no value", name)
			}
			switch name {
			case "@chunked":
				o.chunked = true
			case "@trailer":
				o.trailer = true
			default:
				o.status = true
			}
		case "@token":
			// The value is a secret: no message quotes it.
			if !hasValue || value == "" {
				return o, "", compute.Invalidf("header option @token wants a token: @token=TOKEN")
			}
			o.token = value
		default:
			return o, "", compute.Invalidf("unknown header option %s (known: @size=N, @chunked, @trailer, @status, @token=TOKEN, @file=N, @mtime=SECONDS)", quoteWord(name))
		}
	}
	if o.hasMtime && o.file < 0 {
		return o, "", compute.Invalidf("header option @mtime needs @file: it is the time of the regular file the input is")
	}
	if o.status && !o.trailer {
		return o, "", compute.Invalidf("header option @status needs @trailer: the status is on the trailer line")
	}
	return o, rest, nil
}

// quoteWord quotes a client's word for a message, shortened to
// maxQuotedWord bytes at a character's start: cut inside one, the quote
// showed its first bytes escaped ("@ééé\xc3…"). A byte that is not UTF-8
// is a character of its own, escaped as before.
func quoteWord(w string) string {
	if len(w) > maxQuotedWord {
		w = w[:runeCut(w, maxQuotedWord)] + "…"
	}
	return strconv.Quote(w)
}

// maxQuotedWord is how much of a client's word quoteWord keeps.
const maxQuotedWord = 32

// parseSeconds reads @mtime's value: decimal digits after an optional
// "-", any int64 (a file's st_mtime: tmpfs keeps all 64 bits, so 19
// digits), nothing else (no "+", no spaces).
func parseSeconds(s string) (int64, bool) {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || len(digits) > 19 || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// parseCount parses a decimal byte count: ASCII digits only, at most
// maxSizeDigits of them.
func parseCount(s string) (int64, bool) {
	if s == "" || len(s) > maxSizeDigits {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// tcpProof reads a command-port connection's input under its options: it
// undoes @chunked framing and checks @size, so that its io.EOF is a proven
// end of input, and a FIN that comes before the proof is an abort
// (DATA_LOSS, OutcomeAborted). It sits between the connReader and the
// read-ahead; connections without these options skip it.
type tcpProof struct {
	src  io.ReadCloser // the connReader
	opts tcpOptions
	n    int64 // data bytes passed on

	br   *bufio.Reader // over src, for chunk length lines (@chunked)
	left int64         // bytes left in the current chunk
	last bool          // the empty chunk was read
}

func newTCPProof(src io.ReadCloser, opts tcpOptions) *tcpProof {
	p := &tcpProof{src: src, opts: opts}
	if opts.chunked {
		p.br = bufio.NewReaderSize(src, 64<<10)
	}
	return p
}

// Close closes the connReader (the engine's way to stop a blocked Read).
func (p *tcpProof) Close() error { return p.src.Close() }

func (p *tcpProof) Read(b []byte) (int, error) {
	if p.opts.size >= 0 && int64(len(b)) > p.opts.size-p.n+1 {
		// Read no further than one byte past the declared size.
		b = b[:p.opts.size-p.n+1]
	}
	var (
		n   int
		err error
	)
	if p.opts.chunked {
		n, err = p.readChunked(b)
	} else {
		n, err = p.src.Read(b)
		if err == io.EOF && p.opts.size >= 0 && p.n+int64(n) < p.opts.size {
			err = unprovenEnd("input ended after " + strconv.FormatInt(p.n+int64(n), 10) + " of the " + strconv.FormatInt(p.opts.size, 10) + " bytes declared by @size")
		}
	}
	p.n += int64(n)
	if p.opts.size >= 0 && p.n > p.opts.size {
		// The bytes read go on with the error, which aborts the job:
		// its input count is what it read (it was 0 for a read that
		// brought the declared bytes and one more at once), as for
		// --max-input-bytes.
		return n, compute.Errorf(compute.CodeDataLoss, "input exceeds the %d bytes declared by @size", p.opts.size)
	}
	return n, err
}

var errLongLengthLine = compute.Invalidf("@chunked: chunk length line longer than %d bytes", maxSizeDigits+1)

var errNoLastChunk = unprovenEnd("input ended without its last chunk (@chunked: a zero-length chunk ends the input)")

// readChunked returns data of the current chunk, reading the next chunk's
// length line first when the last one is used up. The input is a series
// of chunks, each its length in decimal, "\n", and that many bytes; a
// chunk of length 0 ends it, and only the FIN may follow.
func (p *tcpProof) readChunked(b []byte) (int, error) {
	for p.left == 0 {
		if p.last {
			if _, err := p.br.ReadByte(); err == nil {
				return 0, compute.Invalidf("@chunked: data after the last (zero-length) chunk")
			} else if err != io.EOF {
				return 0, err
			}
			if p.opts.size >= 0 && p.n != p.opts.size {
				return 0, compute.Errorf(compute.CodeDataLoss, "received %d bytes in chunks, @size declared %d", p.n, p.opts.size)
			}
			return 0, io.EOF
		}
		line, err := p.br.ReadSlice('\n')
		if err == io.EOF {
			// The FIN came inside a length line: an end without the last
			// chunk, unless what came of the line cannot start a length.
			// Then the framing is wrong (input sent without it, say), and
			// the message says so rather than blame the FIN.
			if len(line) > maxSizeDigits {
				return 0, errLongLengthLine
			}
			if _, ok := parseCount(string(line)); len(line) > 0 && !ok {
				return 0, compute.Invalidf("@chunked: bad chunk length %s: want decimal digits and a newline", quoteWord(string(line)))
			}
			return 0, errNoLastChunk
		}
		if err == bufio.ErrBufferFull || err == nil && len(line) > maxSizeDigits+1 {
			return 0, errLongLengthLine
		}
		if err != nil {
			return 0, err
		}
		size, ok := parseCount(string(line[:len(line)-1]))
		if !ok {
			return 0, compute.Invalidf("@chunked: bad chunk length %s: want decimal digits and a newline", quoteWord(string(line)))
		}
		p.left = size
		p.last = size == 0
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n, err := p.br.Read(b)
	p.left -= int64(n)
	if err == io.EOF {
		return n, errNoLastChunk
	}
	return n, err
}
