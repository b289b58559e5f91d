package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/halfclose/halfclose/internal/loopcc"
	"github.com/halfclose/halfclose/internal/sockerr"
)

// errorLinePrefix starts the one line a TCP adapter sends instead of output
// when a job fails before its output starts.
const errorLinePrefix = "halfclose: error: "

// trailerPrefix starts the status line that ends a complete reply when the
// header line asked for @trailer: "halfclose: ok out=N in=M\n", and with
// @status "halfclose: ok out=N in=M status=S\n".
const trailerPrefix = "halfclose: ok out="

// maxTrailer is the longest trailer line: two 19-digit counts and a
// 10-digit status.
const maxTrailer = len(trailerPrefix) + 19 + len(" in=") + 19 + len(" status=") + 10 + 1

// TCPError is an error line from the raw-TCP adapter: the server refused
// the job, or failed it before its output started. Nothing was written to
// the caller's writer. Find it with errors.As.
type TCPError struct {
	Code    string // gRPC code name, e.g. "INVALID_ARGUMENT"
	Message string
}

func (e *TCPError) Error() string { return e.Code + ": " + e.Message }

// ErrIncompleteReply is returned (wrapped) by RunTCP when the reply ended
// without its trailer line, or with one that does not match: the server
// failed, or the connection was cut, and the output written is not the
// whole of it.
var ErrIncompleteReply = errors.New("incomplete reply")

// RunTCP runs pipeline over r through the raw-TCP adapter's command port at
// addr (TLS when tlsConfig is set), copying the reply to w. addr may list
// several servers, comma-separated: RunTCP connects to one of them, and
// to another when a connect fails (starting from a random one, so that many
// clients spread over them). A job that reached a
// server is not tried again: its input is gone.
//
// It proves the end of its input and verifies the reply, as docs/protocol.md
// describes: the header line declares the input's length (@size=N, when r
// is a regular file whose size is data, or has a Len method) or frames it
// in chunks (@chunked),
// and asks for a trailer line (@trailer) after the output. When r is a
// regular file, the header says so (@file=N; with WithTCPFileTime, its
// time too, @mtime=SECONDS): commands print what GNU
// prints reading that file as standard input. A reply that is
// exactly one error line becomes a *TCPError; one without a trailer that
// matches what was received and sent (a server that crashed mid-reply
// sends a FIN all the same; a digest's empty reply) is an ErrIncompleteReply,
// and so is a reply the server reset (how it ends a job that failed after
// its output started; errors.Is finds the reset too): in both cases the
// output already written to w, every byte received, is incomplete.
//
// When ctx ends, or reading r fails, RunTCP resets the connection (RST,
// never a FIN), so the server aborts the job instead of computing over
// partial input.
//
// Errors: ctx.Err() when ctx ended (context.Canceled or
// context.DeadlineExceeded, not gRPC statuses); the input's error, for
// which IsInputError is true; a *TCPError; ErrIncompleteReply (wrapped);
// an error of w (wrapped, "writing output: ...", io.ErrShortWrite for a
// Write that took part of its bytes without an error); a connect or TLS
// handshake error; a nil r or w, a pipeline of several lines, or a token
// with white space, before anything is sent. On any error, what was
// written to w is not the whole output.
//
// An error line that arrives while the input is still being sent ends the
// call at once: RunTCP returns it without waiting for r to end.
func RunTCP(ctx context.Context, addr string, tlsConfig *tls.Config, pipeline string, r io.Reader, w io.Writer, opts ...TCPOption) error {
	if strings.ContainsAny(pipeline, "\n") {
		return errors.New("pipeline must be one line for the TCP adapter")
	}
	if r == nil {
		return errors.New(nilReaderMsg)
	}
	if w == nil {
		return errors.New(nilWriterMsg)
	}
	// The header line's leading words that start with "@" are its
	// options: a pipeline whose first word does would be read as options
	// after this call's own (@file=N silently changed wc's widths), where
	// gRPC names it an unknown command. A backslash keeps it the word it
	// is ("\@x" splits to "@x").
	if p := strings.TrimLeft(pipeline, " \t"); strings.HasPrefix(p, "@") {
		pipeline = `\` + p
	}
	// The server drops a "\r" just before the header's "\n" (a CRLF
	// client's); one that ends the text is kept by a blank after it (a
	// backslash quotes it: "tr -d \\<CR>").
	if strings.HasSuffix(pipeline, "\r") {
		pipeline += " "
	}
	var o tcpOptions
	for _, opt := range opts {
		opt(&o)
	}
	if strings.ContainsAny(o.token, " \t\r\n") {
		return errors.New("a token for the TCP adapter must not contain white space")
	}
	conn, addr, err := dialAny(ctx, addr)
	if err != nil {
		return err
	}
	tcpConn := conn
	if tlsConfig != nil {
		if tlsConfig.ServerName == "" {
			// As crypto/tls.Dial does: verify the host the caller dialed.
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				conn.Close()
				return err
			}
			tlsConfig = tlsConfig.Clone()
			tlsConfig.ServerName = tlsName(host)
		}
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return err
		}
		conn = tc
	}
	// reset aborts the call: an RST, so the server never takes it for the
	// end of input.
	reset := func() {
		if tc, ok := tcpConn.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		tcpConn.Close()
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, reset)
	defer stop()

	size, sized := inputSize(r)
	header := "@chunked @trailer "
	if sized {
		header = "@size=" + strconv.FormatInt(size, 10) + " @trailer "
	}
	if fsize, mtime, ok := fileSize(r); ok {
		file := "@file=" + strconv.FormatInt(fsize, 10) + " "
		if o.fileTime {
			file += "@mtime=" + strconv.FormatInt(mtime, 10) + " "
		}
		header = file + header
	}
	if o.status != nil {
		header += "@status "
	}
	if o.token != "" {
		header = "@token=" + o.token + " " + header
	}
	sent := make(chan sendResult, 1)
	var ended atomic.Bool // the whole input was sent: the FIN is going out
	go func() {
		defer func() {
			// A panic in r's Read or in the sending is the input's
			// error, as in sendInput: the connection is reset, never
			// half-closed.
			if v := recover(); v != nil {
				select {
				case sent <- sendResult{0, fmt.Errorf("%w: %w", errReadInput, panicError(v))}:
				default: // the result was sent before
				}
				reset()
			}
		}()
		n, err := sendTCPInput(ctx, conn, header+pipeline+"\n", checkUnchanged(r), size, sized, &ended)
		// The result first: the reset ends the reply, and the input's
		// error must be there to say why.
		sent <- sendResult{n, err}
		if errors.Is(err, errReadInput) {
			reset()
		}
	}()

	tw := &tailWriter{w: w, status: o.status}
	err = readReply(conn, tw)
	var te *TCPError
	switch {
	case ctx.Err() != nil:
		// The reset made every read and write fail: say why.
		return ctx.Err()
	case errors.As(err, &te):
		// The server closed after its error line; the input sender fails
		// on the closed connection (or stays blocked reading r, which the
		// caller owns).
		return err
	case !ended.Load():
		// The server replies only after the end of the input: a reply
		// that ended before it is an abort (a timeout, a crash), whatever
		// came, unless reading the input failed (and reset the
		// connection). The input sender is left as above.
		select {
		case res := <-sent:
			if errors.Is(res.err, errReadInput) {
				return res.err
			}
		default:
		}
		reset()
		switch {
		case err == nil:
			err = errors.New("the server closed the connection before the input ended")
		case sockerr.Reset(err):
			// How the server aborts a job it stopped reading (an idle
			// timeout): say so rather than which read saw it.
			err = errors.New("the server reset the connection before the input ended (it aborted the job: an idle timeout, a stop)")
		}
		return fmt.Errorf("%w: %w", ErrIncompleteReply, err)
	}
	res := <-sent
	var rr *readReset
	switch {
	case errors.Is(res.err, errReadInput):
		return res.err
	case errors.As(err, &rr):
		return tw.reset(rr.err)
	case err != nil:
		return err
	case res.err != nil:
		return fmt.Errorf("sending input: %w", res.err)
	}
	return tw.finish(res.n)
}

// dialAny connects to one of the comma-separated addresses of list: the
// first that accepts, starting from a random one so that many clients
// spread over them. Trying the next address after a failed connect is
// always safe: nothing was sent. It returns the address connected to.
func dialAny(ctx context.Context, list string) (net.Conn, string, error) {
	addrs := strings.Split(list, ",")
	start := rand.IntN(len(addrs))
	d := net.Dialer{Control: loopcc.Control} // Reno to a loopback address
	var errs []error
	for i := range addrs {
		addr := strings.TrimSpace(addrs[(start+i)%len(addrs)])
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return conn, addr, nil
		}
		if ctx.Err() != nil {
			return nil, "", err
		}
		errs = append(errs, err)
	}
	return nil, "", errors.Join(errs...)
}

// TCPOption is an option of RunTCP.
type TCPOption func(*tcpOptions)

type tcpOptions struct {
	token    string
	status   *int
	fileTime bool
}

// WithTCPToken sends token on the header line (@token=TOKEN), for a server
// that requires tokens (--auth-token-file).
func WithTCPToken(token string) TCPOption { return func(o *tcpOptions) { o.token = token } }

// WithTCPStatus asks for the pipeline's exit status (@status: the trailer
// line carries it) and stores it in *status when RunTCP succeeds: grep that
// selected no line gives 1, as with Run's summary. A server older than
// @status refuses the header line with an error line.
func WithTCPStatus(status *int) TCPOption { return func(o *tcpOptions) { o.status = status } }

// WithTCPFileTime sends, when the input is a regular file, its
// modification time with its size (@mtime=SECONDS after @file=N), for a
// pipeline that prints it (gzip -lv; engine.WantsInputFileTime
// says which do). Without it the server lists the epoch, as for a pipe. A
// server older than @mtime refuses the header line (unknown header
// option), whatever the command: send it only when the pipeline wants it.
func WithTCPFileTime() TCPOption { return func(o *tcpOptions) { o.fileTime = true } }

type sendResult struct {
	n   int64 // input bytes sent
	err error
}

// errReadInput marks a failure to read the caller's input: an abort.
var errReadInput = errors.New("reading input")

// fileSize returns the size of the regular file r reads, when it is one
// (an *os.File, or any reader with a Stat method): the server's commands
// then print what GNU prints when its standard input is that file (wc's
// column widths; RunHeader.input_file_size, the TCP header's @file), and
// its modification time in seconds since the epoch, from the same stat
// (gzip -l lists it: RunHeader.input_file_mtime, @mtime).
func fileSize(r io.Reader) (size, mtime int64, ok bool) {
	f, ok := r.(interface{ Stat() (os.FileInfo, error) })
	if !ok {
		return 0, 0, false
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return 0, 0, false
	}
	return st.Size(), st.ModTime().Unix(), true
}

// inputSize returns how many bytes r will give, when that is known before
// reading it: a regular file from its offset on, or a reader with a Len
// method (bytes.Reader, strings.Reader, bytes.Buffer). A regular file of
// size 0 is not known: the files of /proc and other pseudo file systems
// say 0 and hold text (/proc/cpuinfo), and declared as @size=0 their
// input was empty, the reply the digest of nothing. Nor is one whose size
// its blocks do not hold (sizeHeld): the files of /sys say 4096 and hold
// a line, and declared as @size=4096 they failed ("input ended after 4 of
// its 4096 bytes") where GNU and the gRPC path read them to their end.
func inputSize(r io.Reader) (int64, bool) {
	switch r := r.(type) {
	case interface{ Len() int }:
		return int64(r.Len()), true
	case *os.File:
		st, err := r.Stat()
		if err != nil || !st.Mode().IsRegular() || st.Size() == 0 || !sizeHeld(st) {
			return 0, false
		}
		off, err := r.Seek(0, io.SeekCurrent)
		if err != nil || off > st.Size() {
			return 0, false
		}
		return st.Size() - off, true
	}
	return 0, false
}

// sendTCPInput writes the header line and the input: exactly size bytes when
// sized, else @chunked frames ended by an empty chunk; then half-closes.
// A file that ends before size is an abort (the caller resets).
func sendTCPInput(ctx context.Context, conn net.Conn, header string, r io.Reader, size int64, sized bool, ended *atomic.Bool) (int64, error) {
	bw := tcpWriters.Get().(*bufio.Writer)
	bw.Reset(conn)
	defer func() { bw.Reset(nil); tcpWriters.Put(bw) }()
	// The header goes at once, before any input is read: a server that
	// refuses it (a bad pipeline, a missing token) says so even while the
	// input has yet to come.
	if _, err := bw.WriteString(header); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	var n int64
	if sized {
		var err error
		n, err = io.Copy(bw, readErrors{io.LimitReader(r, size)})
		if err != nil {
			return n, err
		}
		if n < size {
			return n, fmt.Errorf("%w: input ended after %d of its %d bytes", errReadInput, n, size)
		}
		// The size was declared from the file's before reading it: a file
		// that holds more (it grew, or its file system reports less) is not
		// whole in those bytes, and a reply over them would be a result for
		// part of the input.
		var probe [1]byte
		if m, err := r.Read(probe[:]); m > 0 {
			return n, fmt.Errorf("%w: the input holds more than the %d bytes its size said (a file that grew while it was read)", errReadInput, size)
		} else if err != nil && err != io.EOF {
			return n, fmt.Errorf("%w: %w", errReadInput, err)
		}
	} else {
		bp := tcpChunkBufs.Get().(*[]byte)
		defer tcpChunkBufs.Put(bp)
		buf := *bp
		for {
			m, err := readSome(r, buf)
			if m > 0 {
				bw.WriteString(strconv.Itoa(m))
				bw.WriteByte('\n')
				if _, err := bw.Write(buf[:m]); err != nil {
					return n, err
				}
				// Sent now: the next read may wait (a slow pipe), and the
				// server's idle timeout counts from what it received.
				if err := bw.Flush(); err != nil {
					return n, err
				}
				n += int64(m)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return n, fmt.Errorf("%w: %w", errReadInput, err)
			}
		}
		// Not if the call is being aborted (a signal, a deadline) as the
		// input ends: that is no end.
		if err := ctx.Err(); err != nil {
			return n, err
		}
		bw.WriteString("0\n")
	}
	if err := bw.Flush(); err != nil {
		return n, err
	}
	ended.Store(true)
	return n, conn.(interface{ CloseWrite() error }).CloseWrite()
}

// readSome reads r into buf once, skipping reads of no bytes and no
// error: at most maxEmptyReads of them in a row, then io.ErrNoProgress
// (bufio's rule; a reader that never gives anything is not read for
// ever). An io.EOF that comes with bytes is kept, so that r is not read
// past its end.
func readSome(r io.Reader, buf []byte) (int, error) {
	for range maxEmptyReads {
		n, err := r.Read(buf)
		if n < 0 || n > len(buf) {
			return 0, errReadCount(n, len(buf))
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, io.ErrNoProgress
}

// errReadCount is the error of a Read of size bytes that returned n
// outside 0..size (a broken io.Reader), on both transports.
func errReadCount(n, size int) error {
	return fmt.Errorf("the reader returned %d from a Read of %d bytes", n, size)
}

// tcpWriters recycles the uploads' write buffers (a chunk and its frame
// header), so that many small calls (a checksum list of small files) do
// not each allocate and clear 1 MiB.
var tcpWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, DefaultChunkSize+32) }}

// tcpChunkBufs recycles the read buffers of chunked uploads, so that
// many small calls do not each allocate one.
var tcpChunkBufs = sync.Pool{New: func() any { b := make([]byte, DefaultChunkSize); return &b }}

// readErrors marks the errors of the caller's reader.
type readErrors struct{ r io.Reader }

func (e readErrors) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%w: %w", errReadInput, err)
	}
	return n, err
}

// readReply copies the reply to tw, or returns a *TCPError for a reply
// that is one error line.
func readReply(conn net.Conn, tw *tailWriter) error {
	br := bufio.NewReaderSize(conn, 64<<10)
	head, rerr := br.Peek(len(errorLinePrefix))
	if bytes.Equal(head, []byte(errorLinePrefix)) {
		line, err := br.ReadString('\n')
		if err == nil {
			if _, err = br.Peek(1); err == io.EOF {
				code, msg, _ := strings.Cut(strings.TrimSuffix(line[len(errorLinePrefix):], "\n"), ": ")
				return &TCPError{Code: code, Message: msg}
			}
		}
		// Output that starts like an error line (and may have been
		// reset: in the line, or just after it).
		tw.Write([]byte(line))
		if sockerr.Reset(err) {
			return &readReset{err}
		}
		rerr = nil
	}
	if rerr != nil && rerr != io.EOF {
		if sockerr.Reset(rerr) {
			// What came before the reset (under the prefix's length:
			// Peek holds it) is output too.
			tw.Write(head)
			return &readReset{rerr}
		}
		return fmt.Errorf("reading reply: %w", rerr)
	}
	if _, err := br.WriteTo(tw); err != nil {
		var we *writeError
		if errors.As(err, &we) {
			return fmt.Errorf("writing output (the output is incomplete): %w", we.err)
		}
		if sockerr.Reset(err) {
			return &readReset{err}
		}
		return fmt.Errorf("reading reply (the output is incomplete): %w", err)
	}
	return nil
}

// readReset is readReply's error for a reply the server reset: RunTCP
// makes it a replyReset (tailWriter.reset) when the input had ended, and
// else the abort of a job whose input had not, with none of what came
// passed on (a server replies only after the end).
type readReset struct{ err error }

func (e *readReset) Error() string { return "reading reply: " + e.err.Error() }
func (e *readReset) Unwrap() error { return e.err }

// replyReset is a reply the server cut with a reset: how the raw-TCP
// adapter ends a job that fails after its output started (a gunzip that
// finds its input cut short), or a reply its client did not read for
// the idle timeout, so that its output never looks whole. It
// is an ErrIncompleteReply, as a reply cut by a FIN is (a proxy passes
// the reset on so), and its message says so rather than which read saw
// it ("writeto tcp A->B: read tcp A->B: read: connection reset by
// peer"). errors.Is finds the socket's error too.
type replyReset struct {
	n   int64 // the bytes of the reply received
	err error
}

func (e *replyReset) Error() string {
	if e.n == 0 {
		// No output ever started: the job cannot have failed after it.
		return fmt.Sprintf("%v: the server reset the connection before any of the reply (the server was stopped, or it aborted the job before all of the input had arrived)", ErrIncompleteReply)
	}
	return fmt.Sprintf("%v: the server reset the connection after %d bytes of the reply (the job failed after its output started, the reply was not read for the server's --idle-timeout, or the server was stopped)", ErrIncompleteReply, e.n)
}

func (e *replyReset) Unwrap() []error { return []error{ErrIncompleteReply, e.err} }

// tailWriter passes everything to w except its last maxTrailer bytes,
// which may be the trailer line.
type tailWriter struct {
	w      io.Writer
	tail   []byte
	n      int64 // bytes passed to w
	status *int  // @status asked: the trailer's status goes here
}

func (t *tailWriter) Write(p []byte) (int, error) {
	total := len(p)
	if len(t.tail)+len(p) <= maxTrailer {
		t.tail = append(t.tail, p...)
		return total, nil
	}
	// Pass on what can no longer be part of the trailer: first from the
	// held tail, then from p.
	keep := min(maxTrailer, len(p))
	flush := len(t.tail) + len(p) - maxTrailer
	fromTail := min(flush, len(t.tail))
	if fromTail > 0 {
		if err := t.write(t.tail[:fromTail]); err != nil {
			return 0, err
		}
		t.n += int64(fromTail)
		t.tail = append(t.tail[:0], t.tail[fromTail:]...)
	}
	if fromP := len(p) - keep; fromP > 0 {
		if err := t.write(p[:fromP]); err != nil {
			return 0, err
		}
		t.n += int64(fromP)
		p = p[fromP:]
	}
	t.tail = append(t.tail, p...)
	return total, nil
}

// write writes b to the caller's writer. A Writer that takes part of b
// without an error fails with io.ErrShortWrite (io.Copy's check), so that
// the output is never cut short unseen.
func (t *tailWriter) write(b []byte) error {
	n, err := t.w.Write(b)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return &writeError{err}
	}
	return nil
}

// writeError is a failure of the caller's writer.
type writeError struct{ err error }

func (e *writeError) Error() string { return "writing output: " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// finish checks that the held tail is the trailer of a reply whose
// output had every byte before it and whose input had sent bytes, and
// passes the output before it on. The trailer is found by its count: it
// starts exactly where the output it counts ends.
func (t *tailWriter) finish(sent int64) error {
	i := bytes.LastIndex(t.tail, []byte(trailerPrefix))
	if i < 0 || !bytes.HasSuffix(t.tail, []byte("\n")) {
		return t.incomplete()
	}
	out, in, ok := strings.Cut(string(t.tail[i+len(trailerPrefix):len(t.tail)-1]), " in=")
	status, err3 := 0, error(nil)
	if t.status != nil {
		var st string
		var hasStatus bool
		in, st, hasStatus = strings.Cut(in, " status=")
		status, err3 = strconv.Atoi(st)
		ok = ok && hasStatus
	}
	outN, err1 := strconv.ParseInt(out, 10, 64)
	inN, err2 := strconv.ParseInt(in, 10, 64)
	if !ok || err1 != nil || err2 != nil || err3 != nil || outN != t.n+int64(i) {
		return t.incomplete()
	}
	if inN != sent {
		return fmt.Errorf("%w: the server received %d bytes of input, the client sent %d", ErrIncompleteReply, inN, sent)
	}
	if err := t.write(t.tail[:i]); err != nil {
		return fmt.Errorf("writing output (the output is incomplete): %w", err.(*writeError).err)
	}
	t.n += int64(i)
	if t.status != nil {
		*t.status = status
	}
	return nil
}

// reset passes on what was held back, as incomplete does, and returns
// the error of a reply the server reset (err, the read's).
func (t *tailWriter) reset(err error) error {
	t.w.Write(t.tail)
	t.n += int64(len(t.tail))
	t.tail = t.tail[:0]
	return &replyReset{n: t.n, err: err}
}

// incomplete passes on what was held back (it is output too: the caller
// gets every byte received, with the error) and returns the error.
func (t *tailWriter) incomplete() error {
	t.w.Write(t.tail)
	t.n += int64(len(t.tail))
	if t.n == 0 {
		return fmt.Errorf("%w: the reply was empty (the server failed or the connection was cut)", ErrIncompleteReply)
	}
	return fmt.Errorf("%w: the reply ended after %d bytes without its trailer (the server failed, the connection was cut, or the port is a --tcp-route port, which sends none)", ErrIncompleteReply, t.n)
}
