package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
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
// connection, read ahead whenever the job reads a whole buffer (ahead) or
// never.
func testInput(ctx context.Context, sc *net.TCPConn, ahead bool) (*connInput, *connReader) {
	mode := "never"
	if ahead {
		mode = "always"
	}
	return testInputMode(ctx, sc, mode)
}

// testInputMode is testInput with the socket's waiting bytes as mode
// says: "never" none, "always" plenty (a read of a whole buffer starts
// the goroutine, which then reads until the end, blocking when nothing
// has come yet), "real" what SIOCINQ says.
func testInputMode(ctx context.Context, sc *net.TCPConn, mode string) (*connInput, *connReader) {
	cr := &connReader{ctx: ctx, c: sc, r: sc, idle: time.Minute}
	c := newConnInput(cr, nil)
	c.readsAhead = true // Reads exercise reading ahead too
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

// readSent reads c to its end the way way, waits for it and for sent (the
// sender of data), and fails unless what was read is exactly data.
func readSent(t *testing.T, c *connInput, way string, sent <-chan error, data []byte) {
	t.Helper()
	got := readAllWays(t, c, way)
	c.Wait()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, differ from the %d sent", len(got), len(data))
	}
}

// The input arrives whole and in order, however it is read, whether the
// job reads the socket itself or a goroutine reads ahead; the goroutine
// holds at most recvAheadChunks buffers; the end repeats.
func TestConnInputOrder(t *testing.T) {
	data := randBytes(41, 3<<20+12345)
	for _, mode := range []string{"never", "always", "real"} {
		ahead := mode == "always"
		for _, way := range []string{"read", "takechunk", "writeto", "mixed"} {
			t.Run(way+"/ahead="+mode, func(t *testing.T) {
				cc, sc := loopbackPair(t)
				sent := sendAll(cc, data)
				c, _ := testInputMode(context.Background(), sc, mode)
				readSent(t, c, way, sent, data)
				if _, err := c.Read(make([]byte, 1)); err != io.EOF {
					t.Fatalf("Read after the end: %v, want io.EOF", err)
				}
				if ahead && (way == "read" || way == "mixed") && c.bursts == 0 {
					t.Error("reads of whole buffers with bytes waiting did not start reading ahead")
				}
				if mode == "never" && c.bursts != 0 {
					t.Errorf("read ahead %d times without bytes waiting", c.bursts)
				}
				if c.peak > recvAheadChunks {
					t.Errorf("%d buffers read ahead, more than %d", c.peak, recvAheadChunks)
				}
			})
		}
	}
}

// Close makes a read that waits on a silent client return, whether the
// job or the goroutine reading ahead waits in it, and every later read
// fail; Wait then returns (goleak checks the goroutine is gone).
func TestConnInputCloseUnblocks(t *testing.T) {
	for _, ahead := range []bool{false, true} {
		t.Run("ahead="+strconv.FormatBool(ahead), func(t *testing.T) {
			cc, sc := loopbackPair(t)
			if _, err := cc.Write([]byte("0123456789")); err != nil {
				t.Fatal(err)
			}
			c, _ := testInput(context.Background(), sc, ahead)
			// The first byte, then the rest: with ahead, the goroutine
			// reads them and then waits on the client.
			got := make([]byte, 10)
			if _, err := io.ReadFull(c, got[:1]); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, got[1:]); err != nil || string(got) != "0123456789" {
				t.Fatalf("read %q, %v", got, err)
			}
			go c.Close()
			if _, err := c.Read(got); !errors.Is(err, errReaderClosed) {
				t.Fatalf("Read: %v, want errReaderClosed", err)
			}
			if _, _, err := c.TakeChunk(); !errors.Is(err, errReaderClosed) {
				t.Fatalf("TakeChunk after Close: %v, want errReaderClosed", err)
			}
			c.Wait()
		})
	}
}

// Wait stops a goroutine still reading ahead (a job that ended without
// reading its input to the end) and gives its buffers back.
func TestConnInputWaitStopsReadingAhead(t *testing.T) {
	cc, sc := loopbackPair(t)
	if _, err := cc.Write(randBytes(42, 1<<20)); err != nil {
		t.Fatal(err)
	}
	c, _ := testInput(context.Background(), sc, true)
	if _, err := io.ReadFull(c, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	c.Wait()
	if c.ahead || len(c.queue) != 0 || len(c.free) != 0 {
		t.Fatalf("after Wait: ahead %v, %d buffers queued, %d kept", c.ahead, len(c.queue), len(c.free))
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
	if err := <-sent; err != nil {
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

// A job that reads 16 MiB itself without falling behind gets the raised
// mark. Once it falls behind, a job that reads the socket itself gets the
// base mark again; one read ahead for keeps the raised mark, as the
// goroutine reading ahead only waits for its client.
//
// Past the mark, the job reads one byte at a time (a full read, so it
// counts as behind); its first such read is where the mark changes. The
// rest is 256 KiB (aheadMin), a MiB (one buffer read ahead) in the long
// run (testenv.Long): a million reads of one byte, each a system call
// when nothing reads ahead, cost 4 CPU-seconds under the race detector
// and assert nothing the first ones do not.
func TestConnInputRaisesMark(t *testing.T) {
	rest := aheadMin
	if testenv.Long() {
		rest = aheadBufSize
	}
	for _, ahead := range []bool{false, true} {
		t.Run("ahead="+strconv.FormatBool(ahead), func(t *testing.T) {
			cc, sc := loopbackPair(t)
			data := randBytes(44, bigMarkAfter+rest)
			sent := sendAll(cc, data)
			c, _ := testInput(context.Background(), sc, false)
			c.readsAhead = ahead
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
			rest, err := io.ReadAll(readerFunc(func(b []byte) (int, error) { return c.Read(b[:1]) }))
			if err != nil {
				t.Fatal(err)
			}
			c.Wait()
			if err := <-sent; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(append(got, rest...), data) {
				t.Fatal("the input differs from what was sent")
			}
			if ahead && c.bursts == 0 {
				t.Fatal("never read ahead")
			}
			want := []bool{true, false}
			if ahead {
				want = []bool{true}
			}
			if !slices.Equal(marks, want) {
				t.Fatalf("marks: %v, want %v", marks, want)
			}
		})
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// As the server builds it, a job is never read ahead for, however far
// behind it is, whether it reads into its own buffer (Read) or takes
// chunks (the digests). The chunks a job takes from a source that fills
// every read hold connBufSize until it has taken bulkAfter, then
// bulkBufSize.
func TestConnInputReadsNotAhead(t *testing.T) {
	data := randBytes(46, 10<<20)
	t.Run("read", func(t *testing.T) {
		cc, sc := loopbackPair(t)
		sent := sendAll(cc, data)
		c := newConnInput(&connReader{ctx: context.Background(), c: sc, r: sc, idle: time.Minute}, sc)
		c.queued = func() int { return 1 << 30 } // always behind
		readSent(t, c, "read", sent, data)
		if c.bursts != 0 {
			t.Errorf("Reads started reading ahead %d times", c.bursts)
		}
	})
	t.Run("takechunk", func(t *testing.T) {
		c := newConnInput(io.NopCloser(bytes.NewReader(data)), nil)
		c.queued = func() int { return 1 << 30 } // always behind
		var got []byte
		var sizes []int
		for {
			segs, done, err := c.TakeChunk()
			for _, s := range segs {
				sizes = append(sizes, len(s))
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
		c.Wait()
		if !bytes.Equal(got, data) {
			t.Fatal("the input differs from what was read")
		}
		if c.bursts != 0 {
			t.Errorf("TakeChunks started reading ahead %d times", c.bursts)
		}
		var want []int
		for n := 0; n < len(data); {
			size := connBufSize
			if n >= bulkAfter {
				size = bulkBufSize
			}
			size = min(size, len(data)-n)
			want = append(want, size)
			n += size
		}
		if !slices.Equal(sizes, want) {
			t.Errorf("chunk sizes %v, want %v", sizes, want)
		}
	})
}

// chanReader is a source whose reads return the pieces a test sends, one
// a read, in order; a piece of nil length ends it with err (io.EOF when
// err is nil). Each send waits until a read takes it, so the test knows
// where the reader is.
type chanReader struct {
	ch  chan []byte
	err error
}

func (r *chanReader) Read(p []byte) (int, error) {
	b, ok := <-r.ch
	if !ok {
		if r.err != nil {
			return 0, r.err
		}
		return 0, io.EOF
	}
	if len(b) > len(p) {
		panic("piece larger than the read")
	}
	return copy(p, b), nil
}

func (r *chanReader) Close() error { return nil }

// The goroutine reading ahead hands a buffer over before it is full only
// when the job has nothing else queued: while one waits for the job, it
// goes on reading into the next until that is full, so the job gets
// 1 MiB in one chunk, not each read. Nothing read is lost or reordered,
// and an error of the source after bytes held (an idle client, a reset)
// comes after them, never as an end.
func TestConnInputFillsWhileJobBusy(t *testing.T) {
	for _, end := range []error{io.EOF, &connReadError{errIdle(time.Minute)}} {
		t.Run(fmt.Sprint(end), func(t *testing.T) {
			src := &chanReader{ch: make(chan []byte)}
			if end != io.EOF {
				src.err = end
			}
			c := newConnInput(src, nil)
			c.readsAhead = true
			c.queued = func() int { return 1 << 30 } // always behind
			var sent bytes.Buffer
			send := func(n int) {
				t.Helper()
				b := randBytes(uint64(sent.Len()), n)
				sent.Write(b)
				select {
				case src.ch <- b:
				case <-time.After(defaultTestTimeout):
					// The goroutine waits for the job to take what it read:
					// it handed over each read, not full buffers.
					t.Fatal("the goroutine reading ahead stopped reading")
				}
			}
			// The job's own read fills its buffer and finds it behind: the
			// goroutine starts, and blocks in its first read.
			first := randBytes(0, connBufSize)
			sent.Write(first)
			go func() { src.ch <- first }()
			segs, doneA, err := c.TakeChunk()
			if err != nil || len(segs) != 1 || len(segs[0]) != connBufSize {
				t.Fatalf("first chunk: %d segments, %v", len(segs), err)
			}
			var got bytes.Buffer
			got.Write(segs[0])
			// Nothing queued for the job: 10 KiB goes over at once. The next
			// send returns once the goroutine reads again, after it queued.
			send(10 << 10)
			// One queued: the next buffer fills, in 64 KiB reads.
			for range aheadBufSize / (64 << 10) {
				send(64 << 10)
			}
			if end == io.EOF {
				close(src.ch)
			} else {
				send(5) // held in a buffer not full yet, then the error
				close(src.ch)
			}
			doneA()
			var sizes []int
			var last error
			for {
				segs, done, err := c.TakeChunk()
				for _, s := range segs {
					got.Write(s)
					sizes = append(sizes, len(s))
				}
				if done != nil {
					done()
				}
				if err != nil {
					last = err
					break
				}
			}
			c.Wait()
			if !bytes.Equal(got.Bytes(), sent.Bytes()) {
				t.Fatalf("got %d bytes, differ from the %d sent", got.Len(), sent.Len())
			}
			want := []int{10 << 10, aheadBufSize}
			if end != io.EOF {
				want = append(want, 5)
			}
			if !slices.Equal(sizes, want) {
				t.Fatalf("chunks after the first: %v, want %v", sizes, want)
			}
			if last != end {
				t.Fatalf("ended with %v, want %v", last, end)
			}
		})
	}
}
