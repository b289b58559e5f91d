package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/internal/testenv"
)

// A large job's WriteTo takes turns with a helper (reads and writes
// alternating between two goroutines): the writer gets every byte, in
// order, whether the turns start at once or after some chunks, over a
// real socket; the end then repeats, with no more turns.
func TestConnInputTurnsOrder(t *testing.T) {
	data := bulkRandBytes(101, 5<<20+12345)
	for _, after := range []int64{0, 300 << 10} {
		for _, mode := range []string{"never", "real"} {
			t.Run(fmt.Sprintf("after=%d/behind=%s", after, mode), func(t *testing.T) {
				cc, sc := loopbackPair(t)
				sent := sendAll(cc, data)
				c, _ := testInput(context.Background(), sc, mode)
				c.turnsAfter = after
				var got bytes.Buffer
				if _, err := c.WriteTo(&got); err != nil {
					t.Fatal(err)
				}
				if err := testenv.Recv(t, hangTimeout, "the client's send (the job stopped reading?)", sent); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), data) {
					t.Fatalf("wrote %d bytes, differ from the %d sent", got.Len(), len(data))
				}
				if c.turnsTaken != 1 {
					t.Fatalf("took turns %d times, want 1", c.turnsTaken)
				}
				if _, err := c.Read(make([]byte, 1)); err != io.EOF {
					t.Fatalf("Read after the end: %v, want io.EOF", err)
				}
				if n, err := c.WriteTo(io.Discard); n != 0 || err != nil || c.turnsTaken != 1 {
					t.Fatalf("WriteTo after the end: %d, %v, %d turns; want 0, nil, 1", n, err, c.turnsTaken)
				}
			})
		}
	}
}

// failingWriter takes every write, and fails the one numbered fail
// (from 1) with err, or panics; it keeps what it was given, the failing
// write's bytes included (they are taken from the input).
type failingWriter struct {
	got    bytes.Buffer
	writes int
	fail   int
	err    error
	panics bool
}

func (f *failingWriter) Write(p []byte) (int, error) {
	f.got.Write(p)
	if f.writes++; f.writes == f.fail {
		if f.panics {
			panic("boom in the writer")
		}
		return 0, f.err
	}
	return len(p), nil
}

// When the writer stops in its turn with compute.ErrDownstreamDone (a
// stage that needs no more input), WriteTo returns its error, and the
// job's later reads get the rest of the input exactly (what the other
// goroutine had read in its turn first), then the end.
func TestConnInputTurnsWriterFails(t *testing.T) {
	data := bulkRandBytes(102, 9<<20+777)
	stop := fmt.Errorf("head: %w", compute.ErrDownstreamDone)
	for i := range 6 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			cc, sc := loopbackPair(t)
			sent := sendAll(cc, data)
			c, _ := testInput(context.Background(), sc, "real")
			c.turnsAfter = 0
			w := &failingWriter{fail: 2 + i, err: stop}
			if _, err := c.WriteTo(w); err != stop {
				t.Fatalf("WriteTo: %v, want the writer's error", err)
			}
			rest, err := io.ReadAll(c)
			if err != nil {
				t.Fatal(err)
			}
			if err := testenv.Recv(t, hangTimeout, "the client's send (the job stopped reading?)", sent); err != nil {
				t.Fatal(err)
			}
			if got := append(w.got.Bytes(), rest...); !bytes.Equal(got, data) {
				t.Fatalf("written and read after: %d bytes, differ from the %d sent", len(got), len(data))
			}
		})
	}
}

// A panic in the writer, on either goroutine, fails the job with an
// internal error naming it (not the process), and leaves no goroutine
// (goleak).
func TestConnInputTurnsPanic(t *testing.T) {
	data := bulkRandBytes(103, 3<<20)
	for _, fail := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(fail), func(t *testing.T) {
			cc, sc := loopbackPair(t)
			sent := sendAll(cc, data)
			c, _ := testInput(context.Background(), sc, "never")
			c.turnsAfter = 0
			_, err := c.WriteTo(&failingWriter{fail: fail, panics: true})
			var ce *compute.Error
			if !errors.As(err, &ce) || ce.Code != compute.CodeInternal || !strings.Contains(fmt.Sprint(ce.Err), "boom in the writer") {
				t.Fatalf("WriteTo: %v; want an internal error naming the panic", err)
			}
			c.Close()
			sc.Close() // the client's write may wait for a reader
			testenv.Recv(t, hangTimeout, "the client's send after the close", sent)
		})
	}
}

// enteredReader counts the reads begun on its source, on entered.
type enteredReader struct {
	io.ReadCloser
	entered chan int
	n       int
}

func (e *enteredReader) Read(p []byte) (int, error) {
	e.n++
	e.entered <- e.n
	return e.ReadCloser.Read(p)
}

// blockedWriter fails its first write with err, once the source's second
// read has begun (the other goroutine's, on a client that has sent one
// byte and nothing since: it waits).
type blockedWriter struct {
	entered chan int
	err     error
}

func (b blockedWriter) Write(p []byte) (int, error) {
	for n := range b.entered {
		if n == 2 {
			break
		}
	}
	return 0, b.err
}

// When the writer fails its turn with the job's failure (the input limit,
// a panic, the job's end), while the other goroutine waits in a read on a
// client that sends nothing more and no FIN, WriteTo returns the failure
// at once: the input is closed, as the engine closes a failed job's next,
// so that read returns. It waited for the client's next byte, FIN or
// --idle-timeout before (forever with none: a limit's RESOURCE_EXHAUSTED
// came a minute late by default).
func TestConnInputTurnsWriterFailsOnSilentClient(t *testing.T) {
	cc, sc := loopbackPair(t)
	if _, err := cc.Write([]byte{'x'}); err != nil {
		t.Fatal(err)
	}
	c, cr := testInput(context.Background(), sc, "never")
	cr.idle = 0 // no idle timeout: only the client or the job ends a read
	entered := make(chan int, 4)
	c.r = &enteredReader{ReadCloser: cr, entered: entered}
	c.turnsAfter = 0
	fail := &compute.Error{Code: compute.CodeResourceExhausted, Msg: "input exceeds the limit"}
	done := make(chan error, 1)
	go func() {
		_, err := c.WriteTo(blockedWriter{entered: entered, err: fail})
		done <- err
	}()
	select {
	case err := <-done:
		if err != fail {
			t.Fatalf("WriteTo: %v, want the writer's error", err)
		}
	case <-time.After(defaultTestTimeout):
		sc.Close() // ends the read, and the test's goroutines
		testenv.Recv(t, hangTimeout, "WriteTo's return after the close", done)
		t.Fatal("WriteTo waited on the other goroutine's read after its writer failed")
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("Read after the failure: no error, want the input closed")
	}
}

// scheduledSource is a source whose reads return counts a seeded random
// schedule picks (a byte, a few, just under, at and over a turn's
// buffer, whatever fits; sometimes nothing and no error), then end: its
// last bytes come with end or before it; after an error other than
// io.EOF, reads return io.EOF (as a reset socket's do).
type scheduledSource struct {
	data      []byte
	off       int
	rng       *rand.Rand
	end       error
	withBytes bool
	ended     bool
}

func (s *scheduledSource) Read(p []byte) (int, error) {
	if s.ended {
		return 0, io.EOF
	}
	if s.off == len(s.data) {
		s.ended = true
		return 0, s.end
	}
	var n int
	switch s.rng.IntN(8) {
	case 0:
		return 0, nil
	case 1:
		n = 1
	case 2:
		n = 1 + s.rng.IntN(100)
	case 3:
		n = turnBufSize - 1
	case 4:
		n = turnBufSize + 1
	default:
		n = 1 + s.rng.IntN(turnBufSize)
	}
	n = min(n, len(p), len(s.data)-s.off)
	copy(p, s.data[s.off:s.off+n])
	s.off += n
	if s.off == len(s.data) && s.withBytes {
		s.ended = true
		return n, s.end
	}
	return n, nil
}

func (s *scheduledSource) Close() error { return nil }

// trackingPool is turnBufs for a test: it fails one that puts a buffer
// not out of it (a buffer put twice: two jobs would share it), and knows
// what is out.
type trackingPool struct {
	t   *testing.T
	mu  sync.Mutex
	out map[*[turnBufSize]byte]bool // protected by mu
}

func (p *trackingPool) Get() any {
	b := new([turnBufSize]byte)
	p.mu.Lock()
	p.out[b] = true
	p.mu.Unlock()
	return b
}

func (p *trackingPool) Put(v any) {
	b := v.(*[turnBufSize]byte)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.out[b] {
		p.t.Errorf("a turn's buffer put back twice")
	}
	delete(p.out, b)
}

func (p *trackingPool) isOut(b *[turnBufSize]byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out[b]
}

func (p *trackingPool) outstanding() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.out)
}

// trackTurnBufs makes turnBufs a trackingPool for t (not in parallel
// with another test that takes turns).
func trackTurnBufs(t *testing.T) *trackingPool {
	p := &trackingPool{t: t, out: map[*[turnBufSize]byte]bool{}}
	old := turnBufs
	turnBufs = p
	t.Cleanup(func() { turnBufs = old })
	return p
}

// Whatever counts the source's reads return (a byte, a few, around a
// turn's buffer, nothing), the turns write every byte once in the
// source's order, and end as the source does: io.EOF (with its last
// bytes or after them) is the end, any other error is returned after
// every byte read before it (never the end, though the source's next
// read would say io.EOF). Each turn's buffer goes back to its pool
// exactly once; after a writer's compute.ErrDownstreamDone, the one
// holding the bytes read and not written stays out until they are read.
func TestConnInputTurnsShortReads(t *testing.T) {
	pool := trackTurnBufs(t)
	reset := errors.New("connection reset by peer")
	all := bulkRandBytes(200, 7<<20)
	for i := range 48 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			pool.t = t
			size := []int{1, turnBufSize - 1, turnBufSize, turnBufSize + 1, 3*turnBufSize - 1, 3*turnBufSize + 1, 5<<20 + 12345, 7 << 20}[i%8]
			end := []error{io.EOF, reset}[i/8%2]
			src := &scheduledSource{data: all[:size], rng: rand.New(rand.NewPCG(uint64(i), 9)), end: end, withBytes: i/16%2 == 1}
			c := newConnInput(src, nil)
			c.turnsAfter = []int64{0, 300 << 10}[i/32]
			var got bytes.Buffer
			n, err := c.WriteTo(&got)
			if want := error(nil); end != io.EOF {
				want = end
				if err != want {
					t.Fatalf("WriteTo: %v, want %v", err, want)
				}
			} else if err != nil {
				t.Fatalf("WriteTo: %v, want the end", err)
			}
			if n != int64(got.Len()) || !bytes.Equal(got.Bytes(), src.data) {
				t.Fatalf("wrote %d bytes (counted %d), differ from the %d the source gave", got.Len(), n, size)
			}
			if c.turnsTaken != 1 && size > int(c.turnsAfter) {
				t.Fatalf("took turns %d times, want 1", c.turnsTaken)
			}
			if k, err := c.Read(make([]byte, 1)); k != 0 || err != end {
				t.Fatalf("Read after: %d, %v; want 0, %v", k, err, end)
			}
			if k := pool.outstanding(); k != 0 {
				t.Fatalf("%d turn buffers not given back", k)
			}
		})
	}
	t.Run("downstream-done", func(t *testing.T) {
		pool.t = t
		for fail := 1; fail <= 4; fail++ {
			data := all[:5<<20+777]
			src := &scheduledSource{data: data, rng: rand.New(rand.NewPCG(uint64(fail), 10)), end: io.EOF}
			c := newConnInput(src, nil)
			c.turnsAfter = 0
			w := &failingWriter{fail: fail, err: compute.ErrDownstreamDone}
			if _, err := c.WriteTo(w); err != compute.ErrDownstreamDone {
				t.Fatalf("write %d failed: WriteTo %v after %d writes, want the writer's error", fail, err, w.writes)
			}
			if c.pendBuf != nil && !pool.isOut(c.pendBuf) {
				t.Fatalf("write %d failed: the bytes read and not written are in a buffer back in the pool", fail)
			}
			rest, err := io.ReadAll(c)
			if err != nil {
				t.Fatal(err)
			}
			if got := append(w.got.Bytes(), rest...); !bytes.Equal(got, data) {
				t.Fatalf("write %d failed: written and read after: %d bytes, differ from the %d sent", fail, len(got), len(data))
			}
		}
	})
}
