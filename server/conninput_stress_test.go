package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/oracle"
)

// readSpy passes reads to the connReader and tells the test, as each read
// begins, its size and how many bytes the reads before it returned: a
// read of less than aheadBufSize by the goroutine reading ahead is fill
// waiting for the client with bytes held.
type readSpy struct {
	io.ReadCloser
	total atomic.Int64
	calls chan spyCall
}

type spyCall struct {
	size  int
	total int64
}

func (s *readSpy) Read(p []byte) (int, error) {
	s.calls <- spyCall{len(p), s.total.Load()}
	n, err := s.ReadCloser.Read(p)
	s.total.Add(int64(n))
	return n, err
}

// waitCall waits for a read that begins after total bytes and is smaller
// than a whole buffer read ahead (fill's, with bytes held), or for any
// read beginning after total when whole.
func (s *readSpy) waitCall(t *testing.T, total int64, whole bool) {
	t.Helper()
	timeout := time.After(defaultTestTimeout)
	for {
		select {
		case c := <-s.calls:
			if c.total == total && (whole || c.size < aheadBufSize) {
				return
			}
		case <-timeout:
			t.Fatalf("no read began after %d bytes (held: %v)", total, !whole)
		}
	}
}

// drain takes the spy's records from now on, so that reads never block.
func (s *readSpy) drain() (stop func()) {
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for {
			select {
			case <-s.calls:
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); <-ended }
}

// stressInput is a digest job's input over the server end of a loopback
// connection, built as run builds it (raw reads, SO_RCVLOWAT of the
// default once past 1 MiB, the mark raised by connInput), with reads
// spied on; behind, while true, makes the socket look full.
func stressInput(sc *net.TCPConn, idle time.Duration) (*connInput, *readSpy, *atomic.Bool) {
	cr := &connReader{ctx: context.Background(), c: sc, r: sc, idle: idle, tc: sc, lowat: DefaultRecvLowat}
	if raw := newRawReader(sc); raw != nil {
		cr.r = raw
	}
	spy := &readSpy{ReadCloser: cr, calls: make(chan spyCall, 1<<16)}
	c := newConnInput(spy, sc)
	c.setMark = cr.setMark
	var behind atomic.Bool
	c.queued = func() int {
		if behind.Load() {
			return 1 << 30
		}
		return recvQueued(sc)
	}
	return c, spy, &behind
}

// TestConnInputHeldBytesEnd: the goroutine reading ahead waits for its
// client (under the raised mark) holding part of a buffer while the job
// has a whole one queued, over a real socket; then the client ends the
// input (FIN), stops (idle timeout), sends a few bytes (under the mark)
// and stops, resets, or drips a byte a tenth of a second for longer than
// the idle timeout before its FIN; or the engine closes the input. The
// job gets exactly the bytes sent, in order, and the end only after a FIN
// (the digest then that of every byte); any other end is an error after
// a prefix of them. Wait returns and gives every buffer back; goleak
// checks no goroutine is left.
func TestConnInputHeldBytesEnd(t *testing.T) {
	for _, end := range []string{"fin", "idle", "tail", "reset", "drip", "close"} {
		for _, caughtUp := range []bool{false, true} {
			t.Run(end+"/real_queue="+strconv.FormatBool(caughtUp), func(t *testing.T) {
				// Mostly waiting (idle timeouts, the drip): the cases run
				// side by side, each on a connection of its own.
				t.Parallel()
				// The reads wait for the test's writes under this timeout
				// from the first one on, so it is no shorter than a busy
				// machine may take between two of them (500 ms failed
				// the idle timeout early under -race at load 8).
				const idle = 2 * time.Second
				cc, sc := loopbackPair(t)
				c, spy, behind := stressInput(sc, idle)
				var sent bytes.Buffer
				send := func(b []byte) {
					t.Helper()
					sent.Write(b)
					if _, err := cc.Write(b); err != nil {
						t.Fatal(err)
					}
				}
				// 1 MiB and a byte, read by the job itself: the mark is on.
				p0 := randBytes(50, lowatAfter+1)
				go cc.Write(p0)
				sent.Write(p0)
				h := sha256.New()
				var got bytes.Buffer
				if _, err := io.CopyN(io.MultiWriter(h, &got), c, int64(len(p0))); err != nil {
					t.Fatal(err)
				}
				// The job's read of a whole buffer finds it behind: the
				// goroutine reads ahead, under the raised mark.
				behind.Store(true)
				c.direct(connBufSize, connBufSize, nil, true)
				behind.Store(caughtUp) // the goroutine then sees the real queue
				if !c.big {
					t.Fatal("the mark is not raised while reading ahead")
				}
				spy.waitCall(t, int64(sent.Len()), true)
				send(randBytes(51, 256<<10)) // the first buffer, handed over
				spy.waitCall(t, int64(sent.Len()), true)
				send(randBytes(52, 300<<10)) // held, the job busy
				spy.waitCall(t, int64(sent.Len()), false)
				stop := spy.drain()
				defer stop()

				result := make(chan error, 1)
				go func() {
					_, err := c.WriteTo(io.MultiWriter(h, &got))
					result <- err
				}()
				switch end {
				case "fin":
					send(randBytes(53, 12345))
					cc.CloseWrite()
				case "tail":
					send([]byte("tail")) // under the mark, then nothing
				case "reset":
					cc.SetLinger(0)
					cc.Close()
				case "drip":
					// The drip outlasts the timeout: a read's deadline
					// comes with bytes under the mark.
					for i := range 25 {
						time.Sleep(100 * time.Millisecond) // the client's pace, not a synchronisation
						send([]byte{byte('a' + i)})
					}
					cc.CloseWrite()
				case "close":
					c.Close()
				}
				var err error
				select {
				case err = <-result:
				case <-time.After(defaultTestTimeout):
					t.Fatal("the job's read never returned")
				}
				c.Wait()
				if c.ahead || len(c.queue) != 0 || len(c.free) != 0 || c.lent != 0 {
					t.Fatalf("after Wait: ahead %v, %d queued, %d kept, %d lent", c.ahead, len(c.queue), len(c.free), c.lent)
				}
				if end == "fin" || end == "drip" {
					if err != nil {
						t.Fatalf("ended with %v, want the end", err)
					}
					if !bytes.Equal(got.Bytes(), sent.Bytes()) {
						t.Fatalf("read %d bytes, differ from the %d sent", got.Len(), sent.Len())
					}
					if want := sha256.Sum256(sent.Bytes()); !bytes.Equal(h.Sum(nil), want[:]) {
						t.Fatal("digest differs from that of the bytes sent")
					}
					return
				}
				if err == nil || errors.Is(err, io.EOF) {
					t.Fatalf("a %s was taken for the end of the input", end)
				}
				if !bytes.HasPrefix(sent.Bytes(), got.Bytes()) {
					t.Fatalf("the %d bytes read are not a prefix of the %d sent", got.Len(), sent.Len())
				}
				switch end {
				case "idle", "tail":
					if !isConnReadError(err) || err.Error() != errIdle(idle).Error() {
						t.Fatalf("ended with %v, want the idle timeout", err)
					}
					if got.Len() != sent.Len() {
						t.Fatalf("read %d bytes before the idle timeout, of %d sent", got.Len(), sent.Len())
					}
				case "close":
					if !errors.Is(err, errReaderClosed) {
						t.Fatalf("ended with %v, want errReaderClosed", err)
					}
				case "reset":
					if !isConnReadError(err) {
						t.Fatalf("ended with %v, want a connection read error", err)
					}
				}
			})
		}
	}
}

// openFDs counts the process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// TestTCPRouteDigestEnds: on a sha256sum route (a digest job, read ahead
// for whenever it falls behind), an input that ends right after a partial
// buffer (of the job's 256 KiB reads, or of the 1 MiB buffers read ahead)
// gets GNU's digest of every byte; so does one that, after a bulk start
// (the mark set), drips a byte a tenth of a second for longer than the
// idle timeout. A client that resets mid-upload gets no result, and the
// server keeps no descriptor of it.
func TestTCPRouteDigestEnds(t *testing.T) {
	env := startEnv(t, envConfig{idle: time.Second, routes: []string{"sha256sum"}})
	addr := env.routes["sha256sum"]
	t.Run("fin", func(t *testing.T) {
		for i, n := range []int{1, 256<<10 - 1, 256<<10 + 1, 1<<20 - 1, 1<<20 + 1, 2<<20 + 1, 5<<20 - 7, 9<<20 + 12345} {
			input := randBytes(uint64(60+i), n)
			if got, want := tcpCall(t, addr, "", input), oracle.Output(t, input, "sha256sum"); got != want {
				t.Fatalf("%d bytes: reply %q, want %q", n, got, want)
			}
		}
	})
	t.Run("drip", func(t *testing.T) {
		input := randBytes(70, 3<<20+15)
		conn := tcpFrom(t, addr, "127.0.0.1")
		reply := slowCall(t, conn, "", input, 3<<20, 1, 100*time.Millisecond)
		if want := oracle.Output(t, input, "sha256sum"); reply != want {
			t.Fatalf("reply %q, want %q", reply, want)
		}
	})
	t.Run("reset", func(t *testing.T) {
		// The idle timeout only ends a job whose reset went unseen (outcome
		// idle, not reset); at 2 s it once reset a client whose 3 MB write
		// the loaded machine (load 25) had left without a byte for that long.
		env := startEnv(t, envConfig{idle: defaultTestTimeout / 2, routes: []string{"sha256sum"}})
		addr := env.routes["sha256sum"]
		before := openFDs(t)
		const resets = 8
		for i := range resets {
			conn := tcpFrom(t, addr, "127.0.0.1")
			if _, err := conn.Write(randBytes(uint64(80+i), 3<<20+i*100003)); err != nil {
				t.Fatal(err)
			}
			conn.SetLinger(0)
			conn.Close() // RST
			if oc := env.obs.nextOutcome(t); oc != OutcomeReset {
				t.Fatalf("outcome %q, want %q", oc, OutcomeReset)
			}
		}
		// Close waits for every connection's goroutine; then only the
		// listeners (the command port's and the route's) are gone.
		env.tcp.Close()
		if after := openFDs(t); after > before-2 {
			t.Fatalf("%d descriptors open after %d resets and Close, %d before", after, resets, before)
		}
	})
}
