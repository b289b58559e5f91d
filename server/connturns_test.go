package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute"
)

// A large job's WriteTo takes turns with a helper (reads and writes
// alternating between two goroutines): the writer gets every byte, in
// order, whether the turns start at once or after some chunks, over a
// real socket; the end then repeats, with no more turns.
func TestConnInputTurnsOrder(t *testing.T) {
	data := randBytes(101, 5<<20+12345)
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
				if err := <-sent; err != nil {
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
	data := randBytes(102, 9<<20+777)
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
			if err := <-sent; err != nil {
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
	data := randBytes(103, 3<<20)
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
			<-sent
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
		<-done
		t.Fatal("WriteTo waited on the other goroutine's read after its writer failed")
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("Read after the failure: no error, want the input closed")
	}
}
