package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/oracle"
)

// stressInput is a digest job's input over the server end of a loopback
// connection, built as run builds it (raw reads, SO_RCVLOWAT of the
// default once past 1 MiB, the mark raised by connInput).
func stressInput(sc *net.TCPConn, idle time.Duration) *connInput {
	cr := &connReader{ctx: context.Background(), c: sc, r: sc, idle: idle, tc: sc, lowat: DefaultRecvLowat}
	if raw := newRawReader(sc); raw != nil {
		cr.r = raw
	}
	c := newConnInput(cr, sc)
	c.setMark = cr.setMark
	return c
}

// TestConnInputEnds: a digest job reads its socket itself (1 MiB and a
// byte, the mark then on), in buffers of 4 MiB from then on, or in turns
// with a helper goroutine (as a large job does), under the base mark or
// the raised one, while its client sends more; then the
// client ends the input (FIN), stops (idle timeout), sends a few bytes
// (under the mark) and stops, resets, or drips a byte a tenth of a second
// for longer than the idle timeout before its FIN; or the engine closes
// the input. The job gets exactly the bytes sent, in order, and the end
// only after a FIN (the digest then that of every byte); any other end is
// an error after a prefix of them.
func TestConnInputEnds(t *testing.T) {
	// The input is made before the jobs wait for it, once for all the
	// cases (they only read it): 5 MiB of randBytes took over 2 s under
	// -race beside the other cases, and the job was rightly idle.
	p0 := bulkRandBytes(50, lowatAfter+1)
	bulk := bulkRandBytes(51, 5<<20+300<<10)
	for _, end := range []string{"fin", "idle", "tail", "reset", "drip", "close"} {
		for _, v := range []struct{ big, turns bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
			t.Run(end+"/raised="+strconv.FormatBool(v.big)+"/turns="+strconv.FormatBool(v.turns), func(t *testing.T) {
				// Mostly waiting (idle timeouts, the drip): the cases run
				// side by side, each on a connection of its own.
				t.Parallel()
				// The reads wait for the test's writes under the idle
				// timeout from the first one on. Only the idle, tail and
				// drip cases test it; the others read under one no
				// machine reaches. A machine busy enough to stall the
				// test's writes past it (2 s did, at load 19 under -race,
				// with the client's send then blocked on a job that had
				// ended) makes the case run again with a longer one.
				idle := time.Hour
				if end == "idle" || end == "tail" || end == "drip" {
					idle = 2 * time.Second
				}
				for ; connInputEndsCase(t, p0, bulk, end, v.big, v.turns, idle); idle *= 4 {
					if idle >= 32*time.Second {
						t.Fatalf("the job was idle for %v while its client was sending", idle)
					}
					t.Logf("the job was idle for %v while its client was sending (a busy machine); again with %v", idle, 4*idle)
				}
			})
		}
	}
}

// connInputEndsCase is one run of a TestConnInputEnds case under the idle
// timeout idle. It reports a stall: the job's idle timeout passed while its
// client was still sending (the test's writes were late, not the job).
func connInputEndsCase(t *testing.T, p0, bulk []byte, end string, big, turns bool, idle time.Duration) (stalled bool) {
	t.Helper()
	cc, sc := loopbackPair(t)
	c := stressInput(sc, idle)
	var sent bytes.Buffer
	// A job that ends while its client sends stops reading: the client's
	// write is then cut (its deadline set to now), not left blocked.
	jobEnded := make(chan struct{})
	sending := make(chan struct{})
	defer close(sending)
	go func() {
		select {
		case <-jobEnded:
			cc.SetWriteDeadline(time.Now())
		case <-sending:
		}
	}()
	result := make(chan error, 1)
	// isStall: the job ended with the idle timeout while the client was
	// still sending.
	isStall := func() bool {
		select {
		case err := <-result:
			if isConnReadError(err) && err.Error() == errIdle(idle).Error() {
				return true
			}
			t.Fatalf("the job ended with %v while its client was sending", err)
		case <-time.After(defaultTestTimeout):
			t.Fatal("the client's send failed and the job's read never returned")
		}
		return false
	}
	send := func(b []byte) bool {
		t.Helper()
		sent.Write(b)
		if _, err := cc.Write(b); err != nil {
			select {
			case <-jobEnded:
				return false
			default:
				t.Fatal(err)
			}
		}
		return true
	}
	// 1 MiB and a byte, read by the job itself: the mark is on.
	go cc.Write(p0)
	sent.Write(p0)
	h := sha256.New()
	var got bytes.Buffer
	if _, err := io.CopyN(io.MultiWriter(h, &got), c, int64(len(p0))); err != nil {
		if isConnReadError(err) && err.Error() == errIdle(idle).Error() {
			return true
		}
		t.Fatal(err)
	}
	c.raiseMark(big)
	if turns {
		c.turnsAfter = 0 // the bulk is read and hashed in turns
	}
	go func() {
		_, err := c.WriteTo(io.MultiWriter(h, &got))
		result <- err
		close(jobEnded)
	}()
	if !send(bulk) {
		return isStall()
	}
	switch end {
	case "fin":
		if !send(randBytes(53, 12345)) {
			return isStall()
		}
		cc.CloseWrite()
	case "tail":
		if !send([]byte("tail")) { // under the mark, then nothing
			return isStall()
		}
	case "reset":
		cc.SetLinger(0)
		cc.Close()
	case "drip":
		// The drip outlasts the timeout: a read's deadline comes with
		// bytes under the mark.
		for i := range int(idle/(100*time.Millisecond)) + 5 {
			time.Sleep(100 * time.Millisecond) // the client's pace, not a synchronisation
			if !send([]byte{byte('a' + i%26)}) {
				return isStall()
			}
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
	if took := c.turnsTaken == 1; took != turns {
		t.Fatalf("took turns %d times, want turns=%v", c.turnsTaken, turns)
	}
	if end == "fin" || end == "drip" {
		if end == "drip" && isConnReadError(err) && err.Error() == errIdle(idle).Error() {
			return true // a drip's byte came late
		}
		if err != nil {
			t.Fatalf("ended with %v, want the end", err)
		}
		if !bytes.Equal(got.Bytes(), sent.Bytes()) {
			t.Fatalf("read %d bytes, differ from the %d sent", got.Len(), sent.Len())
		}
		if want := sha256.Sum256(sent.Bytes()); !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatal("digest differs from that of the bytes sent")
		}
		return false
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
			// Every byte was sent, and the job's read found its
			// deadline passed with some still to come: the job was
			// kept off the CPU for the whole timeout (a read whose
			// deadline has passed returns before it looks at the
			// socket). A job that stops reading too early fails every
			// try.
			t.Logf("read %d bytes before the idle timeout, of %d sent", got.Len(), sent.Len())
			return true
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
	return false
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

// TestTCPRouteDigestEnds: on a sha256sum route (a digest job, reading
// its socket in buffers of 256 KiB, then of 4 MiB past its first MiB), an
// input that ends right after a partial buffer gets GNU's digest of every
// byte; so does one that, after a bulk start
// (the mark set), drips a byte a tenth of a second for longer than the
// idle timeout. A client that resets mid-upload gets no result, and the
// server keeps no descriptor of it.
func TestTCPRouteDigestEnds(t *testing.T) {
	env := startEnv(t, envConfig{idle: time.Second, routes: []string{"sha256sum"}})
	addr := env.routes["sha256sum"]
	t.Run("fin", func(t *testing.T) {
		// Not the idle timeout's test: 1 s of it once reset a 21 MiB
		// upload that a machine at load 40 left without a byte as long.
		env := startEnv(t, envConfig{idle: defaultTestTimeout / 2, routes: []string{"sha256sum"}})
		addr := env.routes["sha256sum"]
		for i, n := range []int{1, 256<<10 - 1, 256<<10 + 1, 1<<20 - 1, 1<<20 + 1, 2<<20 + 1, 5<<20 - 7, 5<<20 + 1, turnsAfter - 1, turnsAfter + 1, 9<<20 + 12345, 21<<20 + 3} {
			input := bulkRandBytes(uint64(60+i), n)
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
			n := 3<<20 + i*100003
			if i%2 == 1 {
				n += turnsAfter + 2<<20 // reset while the job takes turns
			}
			if _, err := conn.Write(bulkRandBytes(uint64(80+i), n)); err != nil {
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

// TestTCPRouteDigestLimit: a digest job past its first MiB reads 4 MiB at
// a time, up to a read past --max-input-bytes, but hashes nothing over
// it: an input of the limit gets GNU's digest; one a byte or a read over
// it gets RESOURCE_EXHAUSTED and no digest, on a route and on the command
// port.
func TestTCPRouteDigestLimit(t *testing.T) {
	// 3 MiB: the job's own 4 MiB reads; 11 MiB: past turnsAfter, in turns.
	for _, limit := range []int{3<<20 + 123, turnsAfter + 3<<20 + 123} {
		env := startEnv(t, envConfig{engine: engine.Config{MaxInputBytes: int64(limit)}, routes: []string{"sha256sum"}})
		over := fmt.Sprintf("halfclose: error: RESOURCE_EXHAUSTED: input exceeds the limit of %d bytes\n", limit)
		for _, n := range []int{limit, limit + 1, limit + bulkBufSize} {
			input := bulkRandBytes(uint64(90+n-limit), n)
			want := over
			if n <= limit {
				want = oracle.Output(t, input, "sha256sum")
			}
			if got := tcpCall(t, env.routes["sha256sum"], "", input); got != want {
				t.Errorf("route, %d bytes: reply %q, want %q", n, got, want)
			}
			if got := tcpCall(t, env.tcpAddr, "sha256sum\n", input); got != want {
				t.Errorf("command port, %d bytes: reply %q, want %q", n, got, want)
			}
		}
	}
}

// TestTCPRouteDigestLimitSilent: a client that sends a byte over
// --max-input-bytes, past turnsAfter, and then waits without its FIN
// gets RESOURCE_EXHAUSTED at once, as under the limit's serial reads: the
// turn that hashes the byte over the limit fails the job, and the other
// goroutine's read, waiting on that client, does not hold the reply back
// (it did until the client's next byte, FIN, or --idle-timeout; none
// here).
func TestTCPRouteDigestLimitSilent(t *testing.T) {
	const limit = turnsAfter + 3<<20 + 123
	env := startEnv(t, envConfig{engine: engine.Config{MaxInputBytes: limit}, routes: []string{"sha256sum"}})
	conn := tcpFrom(t, env.routes["sha256sum"], "127.0.0.1")
	go conn.Write(bulkRandBytes(95, limit+1)) // no FIN: the client waits
	reply, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("reading the reply: %v (after %q)", err, reply)
	}
	if want := fmt.Sprintf("halfclose: error: RESOURCE_EXHAUSTED: input exceeds the limit of %d bytes\n", limit); string(reply) != want {
		t.Fatalf("reply %q, want %q", reply, want)
	}
}
