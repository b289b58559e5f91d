package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/testenv"
)

// loopbackPair returns the two ends of a loopback TCP connection.
func loopbackPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	cc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc := <-accepted
	if sc == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { cc.Close(); sc.Close() })
	// The client's end is the test's: a send to a server end that never
	// reads, or a read of one that never answers, fails in time. The
	// server's end is the code under test's, which sets its own.
	cc.SetDeadline(time.Now().Add(defaultTestTimeout))
	return cc.(*net.TCPConn), sc.(*net.TCPConn)
}

// sendAll writes data to c and half-closes it, in a goroutine; the
// returned channel has the error.
func sendAll(c *net.TCPConn, data []byte) <-chan error {
	sent := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.CloseWrite()
		}
		sent <- err
	}()
	return sent
}

// testInput is a job's input over the server end of a loopback
// connection, with the socket's waiting bytes as mode says: "never" none,
// "always" plenty (every read that fills its buffer finds the job behind),
// "real" what SIOCINQ says.
func testInput(ctx context.Context, sc *net.TCPConn, mode string) (*connInput, *connReader) {
	cr := &connReader{ctx: ctx, c: sc, r: sc, idle: time.Minute}
	c := newConnInput(cr, nil)
	switch mode {
	case "always":
		c.queued = func() int { return 1 << 30 }
	case "real":
		c.queued = func() int { return recvQueued(sc) }
	}
	return c, cr
}

// readAllWays reads c to its end: with Read in buffers of varied sizes,
// with TakeChunk, with WriteTo, or those mixed.
func readAllWays(t *testing.T, c *connInput, way string) []byte {
	t.Helper()
	var got bytes.Buffer
	switch way {
	case "writeto":
		if _, err := c.WriteTo(&got); err != nil {
			t.Fatal(err)
		}
		return got.Bytes()
	}
	for i := 0; ; i++ {
		var err error
		if way == "read" || way == "mixed" && i%3 != 2 {
			p := make([]byte, 1+i*7919%(300<<10))
			var n int
			n, err = c.Read(p)
			got.Write(p[:n])
		} else {
			var segs [][]byte
			var done func()
			segs, done, err = c.TakeChunk()
			for _, s := range segs {
				got.Write(s)
			}
			if done != nil {
				done()
			}
		}
		if err == io.EOF {
			return got.Bytes()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// readSent reads c to its end the way way, waits for sent (the sender of
// data), and fails unless what was read is exactly data.
func readSent(t *testing.T, c *connInput, way string, sent <-chan error, data []byte) {
	t.Helper()
	got := readAllWays(t, c, way)
	if err := testenv.Recv(t, hangTimeout, "the client's send (the job stopped reading?)", sent); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, differ from the %d sent", len(got), len(data))
	}
}

// The input arrives whole and in order, however it is read, whether the
// job is behind its client or not; the end repeats.
func TestConnInputOrder(t *testing.T) {
	data := randBytes(41, 3<<20+12345)
	for _, mode := range []string{"never", "always", "real"} {
		for _, way := range []string{"read", "takechunk", "writeto", "mixed"} {
			t.Run(way+"/behind="+mode, func(t *testing.T) {
				cc, sc := loopbackPair(t)
				sent := sendAll(cc, data)
				c, _ := testInput(context.Background(), sc, mode)
				readSent(t, c, way, sent, data)
				if _, err := c.Read(make([]byte, 1)); err != io.EOF {
					t.Fatalf("Read after the end: %v, want io.EOF", err)
				}
				if _, _, err := c.TakeChunk(); err != io.EOF {
					t.Fatalf("TakeChunk after the end: %v, want io.EOF", err)
				}
			})
		}
	}
}

// Close makes a read that waits on a silent client return, and every
// later read fail.
func TestConnInputCloseUnblocks(t *testing.T) {
	cc, sc := loopbackPair(t)
	if _, err := cc.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	c, _ := testInput(context.Background(), sc, "never")
	got := make([]byte, 10)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "0123456789" {
		t.Fatalf("read %q, %v", got, err)
	}
	go c.Close()
	if _, err := c.Read(got); !errors.Is(err, errReaderClosed) {
		t.Fatalf("Read: %v, want errReaderClosed", err)
	}
	if _, _, err := c.TakeChunk(); !errors.Is(err, errReaderClosed) {
		t.Fatalf("TakeChunk after Close: %v, want errReaderClosed", err)
	}
}

// countingSource returns pieces, then err, at every later read too, and
// counts its reads.
type countingSource struct {
	pieces [][]byte
	err    error
	reads  int
}

func (s *countingSource) Read(p []byte) (int, error) {
	s.reads++
	if len(s.pieces) == 0 {
		return 0, s.err
	}
	n := copy(p, s.pieces[0])
	if s.pieces[0] = s.pieces[0][n:]; len(s.pieces[0]) == 0 {
		s.pieces = s.pieces[1:]
	}
	return n, nil
}

func (s *countingSource) Close() error { return nil }

// The source's error (an idle client, the FIN) comes after the bytes
// before it, never as an end when it is not one, and again at every later
// read, Read or TakeChunk, without another read of the source (after the
// FIN, the reset watch owns the connection).
func TestConnInputErrorRepeats(t *testing.T) {
	for _, end := range []error{io.EOF, &connReadError{errIdle(time.Minute)}} {
		for _, way := range []string{"read", "takechunk"} {
			t.Run(fmt.Sprint(end)+"/"+way, func(t *testing.T) {
				src := &countingSource{pieces: [][]byte{[]byte("abc"), []byte("defgh")}, err: end}
				c := newConnInput(src, nil)
				var got []byte
				var err error
				for err == nil {
					if way == "read" {
						p := make([]byte, 4)
						var n int
						n, err = c.Read(p)
						got = append(got, p[:n]...)
						continue
					}
					var segs [][]byte
					var done func()
					segs, done, err = c.TakeChunk()
					for _, s := range segs {
						got = append(got, s...)
					}
					if done != nil {
						done()
					}
				}
				if string(got) != "abcdefgh" || err != end {
					t.Fatalf("read %q, then %v; want abcdefgh, then %v", got, err, end)
				}
				reads := src.reads
				for range 3 {
					if n, err := c.Read(make([]byte, 4)); n != 0 || err != end {
						t.Fatalf("Read after the error: %d, %v; want 0, %v", n, err, end)
					}
					if segs, _, err := c.TakeChunk(); segs != nil || err != end {
						t.Fatalf("TakeChunk after the error: %d segments, %v; want none, %v", len(segs), err, end)
					}
				}
				if src.reads != reads {
					t.Fatalf("the source was read %d times after its error", src.reads-reads)
				}
			})
		}
	}
}

// deadlineConn counts the read deadlines set on a connection.
type deadlineConn struct {
	net.Conn
	set atomic.Int64
}

func (d *deadlineConn) SetReadDeadline(t time.Time) error {
	d.set.Add(1)
	return d.Conn.SetReadDeadline(t)
}

// A job's reads do not each set the read deadline: it is renewed once a
// quarter of the idle timeout has passed, which 200 reads within a
// fraction of an hour never see.
func TestConnReaderRenewsDeadlineLazily(t *testing.T) {
	cc, sc := loopbackPair(t)
	data := randBytes(43, 200<<10)
	sent := sendAll(cc, data)
	dc := &deadlineConn{Conn: sc}
	cr := &connReader{ctx: context.Background(), c: dc, r: sc, idle: time.Hour}
	got, err := io.ReadAll(io.LimitReader(cr, int64(len(data))))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	if err := testenv.Recv(t, hangTimeout, "the client's send (the job stopped reading?)", sent); err != nil {
		t.Fatal(err)
	}
	if n := dc.set.Load(); n != 1 {
		t.Fatalf("%d read deadlines set, want 1", n)
	}
}

// A read that meets a deadline set for an earlier read (renewed lazily)
// has not waited the idle timeout: it goes on, and gets the bytes.
func TestConnReaderStaleDeadline(t *testing.T) {
	cc, sc := loopbackPair(t)
	cr := &connReader{ctx: context.Background(), c: sc, r: sc, idle: time.Hour}
	if _, err := cc.Write([]byte("ab")); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 1)
	if _, err := cr.Read(p); err != nil {
		t.Fatal(err)
	}
	// The socket's deadline has passed, while the reader's record says
	// it is an hour away: as if set long ago, with no read since.
	sc.SetReadDeadline(time.Now().Add(-time.Second))
	if n, err := cr.Read(p); n != 1 || err != nil || p[0] != 'b' {
		t.Fatalf("read %q, %v; want \"b\"", p[:n], err)
	}
}

// A client that sends nothing is idle once a read has waited the idle
// timeout, not before, even when the deadline in place comes sooner.
func TestConnReaderIdleNotEarly(t *testing.T) {
	const idle = 200 * time.Millisecond
	_, sc := loopbackPair(t)
	cr := &connReader{ctx: context.Background(), c: sc, r: sc, idle: idle}
	start := time.Now()
	// A deadline a tenth of the timeout away, which the reader believes
	// is the whole timeout away: renewed lazily by an earlier read.
	cr.deadline = start.Add(idle)
	sc.SetReadDeadline(start.Add(idle / 10))
	_, err := cr.Read(make([]byte, 1))
	waited := time.Since(start)
	if !isConnReadError(err) || err.Error() != errIdle(idle).Error() {
		t.Fatalf("Read: %v, want the idle timeout", err)
	}
	if waited < idle {
		t.Fatalf("aborted as idle after %v, before the idle timeout %v", waited, idle)
	}
}

// Close makes a read that waits return, and a stale deadline met after
// Close is not extended.
func TestConnReaderClose(t *testing.T) {
	_, sc := loopbackPair(t)
	cr := &connReader{ctx: context.Background(), c: sc, r: sc, idle: time.Hour}
	go cr.Close()
	if _, err := cr.Read(make([]byte, 1)); !errors.Is(err, errReaderClosed) {
		t.Fatalf("Read: %v, want errReaderClosed", err)
	}
}

// The end of the job's context makes a read that waits return (the
// server's forced stop sets the connection's deadline), not go on as
// though the deadline were stale.
func TestConnReaderContextDone(t *testing.T) {
	_, sc := loopbackPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	cr := &connReader{ctx: ctx, c: sc, r: sc, idle: time.Hour}
	stop := context.AfterFunc(ctx, func() { sc.SetReadDeadline(time.Now()) })
	defer stop()
	go cancel()
	if _, err := cr.Read(make([]byte, 1)); !isConnReadError(err) {
		t.Fatalf("Read: %v, want a connection read error", err)
	}
}

// A job that reads 16 MiB without falling behind gets the raised mark;
// once it falls behind, the base mark again.
//
// Past the mark, the job reads one byte at a time (a full read, so it
// counts as behind); its first such read is where the mark changes. The
// rest is 256 KiB (behindMin), a MiB in the long run (testenv.Long): a
// million reads of one byte, each a system call, cost 4 CPU-seconds under
// the race detector and assert nothing the first ones do not.
func TestConnInputRaisesMark(t *testing.T) {
	rest := behindMin
	if testenv.Long() {
		rest = 1 << 20
	}
	cc, sc := loopbackPair(t)
	data := randBytes(44, bigMarkAfter+rest)
	sent := sendAll(cc, data)
	c, _ := testInput(context.Background(), sc, "never")
	var marks []bool
	c.setMark = func(big bool) { marks = append(marks, big) }
	var behind atomic.Bool
	c.queued = func() int {
		if behind.Load() {
			return 1 << 30
		}
		return 0
	}
	got := make([]byte, 0, len(data))
	p := make([]byte, 64<<10)
	for len(got) < bigMarkAfter {
		n, err := c.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p[:n]...)
	}
	if len(marks) != 1 || !marks[0] {
		t.Fatalf("marks set after %d bytes kept up with: %v, want [true]", len(got), marks)
	}
	behind.Store(true)
	tail, err := io.ReadAll(readerFunc(func(b []byte) (int, error) { return c.Read(b[:1]) }))
	if err != nil {
		t.Fatal(err)
	}
	if err := testenv.Recv(t, hangTimeout, "the client's send (the job stopped reading?)", sent); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(got, tail...), data) {
		t.Fatal("the input differs from what was sent")
	}
	if want := []bool{true, false}; !slices.Equal(marks, want) {
		t.Fatalf("marks: %v, want %v", marks, want)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// The chunks a job takes from a source that fills every read hold
// connBufSize, in buffers of that size, until it has taken bulkAfter; then
// bulkBufSize, in buffers of that size. However far behind its client the
// job is (the socket always full), it reads the source itself.
func TestConnInputChunkSizes(t *testing.T) {
	data := randBytes(46, 10<<20)
	c := newConnInput(io.NopCloser(bytes.NewReader(data)), nil)
	c.queued = func() int { return 1 << 30 } // always behind
	var got []byte
	var sizes, caps []int
	for {
		segs, done, err := c.TakeChunk()
		for _, s := range segs {
			sizes = append(sizes, len(s))
			caps = append(caps, cap(s))
			got = append(got, s...)
		}
		if done != nil {
			done()
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the input differs from what was read")
	}
	var want, wantCaps []int
	for n := 0; n < len(data); {
		size := connBufSize
		if n >= bulkAfter {
			size = bulkBufSize
		}
		wantCaps = append(wantCaps, size)
		size = min(size, len(data)-n)
		want = append(want, size)
		n += size
	}
	if !slices.Equal(sizes, want) {
		t.Errorf("chunk sizes %v, want %v", sizes, want)
	}
	if !slices.Equal(caps, wantCaps) {
		t.Errorf("buffer sizes %v, want %v", caps, wantCaps)
	}
}
