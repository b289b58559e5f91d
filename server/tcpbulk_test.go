package server

import (
	"bytes"
	"io"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/oracle"
	"github.com/halfclose/halfclose/internal/testenv"
)

// logText is n bytes of log lines, about half of them with INFO.
func logText(n int) []byte {
	r := randBytes(99, n/16+64)
	b := make([]byte, 0, n+64)
	for i := 0; len(b) < n; i++ {
		b = append(b, "2026-12-02 04:"...)
		b = strconv.AppendInt(b, int64(r[i%len(r)]%60), 10)
		if r[(i+1)%len(r)]&1 == 0 {
			b = append(b, " WARN request id="...)
		} else {
			b = append(b, " INFO request id="...)
		}
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, " took "...)
		b = strconv.AppendInt(b, int64(r[(i+2)%len(r)]), 10)
		b = append(b, "ms\n"...)
	}
	return b[:n]
}

// spillEnv is a server whose replies spill past 64 KiB of memory, with
// the reply sent by sendfile(2) or, noSendFile, read and written, and
// the idle timeout idle (0: the default).
func spillEnv(t *testing.T, noSendFile bool, idle time.Duration) (*testEnv, *compute.DiskBudget, string) {
	dir := t.TempDir()
	disk := compute.NewDiskBudget(256 << 20)
	env := startEnv(t, envConfig{
		idle:   idle,
		engine: engine.Config{Spool: compute.SpoolConfig{MemBytes: 64 << 10, Dir: dir, Disk: disk}},
		tcp:    tcpSettings{NoSendFile: noSendFile},
	})
	return env, disk, dir
}

// TestTCPSpilledReply: replies far larger than the spool's memory — held
// on disk until the input's end, then sent from the spill file — are
// exactly GNU's output: a streaming filter's (spilled while the input
// came), and gunzip's, which goes on writing while the reply is sent, so
// the spill file's segments are written again after their first bytes
// went out by reference.
func TestTCPSpilledReply(t *testing.T) {
	text := logText(4 << 20)
	gz := []byte(oracle.Output(t, text, "gzip", "-c"))
	for _, noSendFile := range []bool{false, true} {
		t.Run("nosendfile="+strconv.FormatBool(noSendFile), func(t *testing.T) {
			env, disk, dir := spillEnv(t, noSendFile, 0)
			for _, tc := range []struct {
				header string
				input  []byte
				want   string
			}{
				{"grep -v INFO\n", text, oracle.Output(t, text, "grep", "-v", "INFO")},
				{"grep -F INFO\n", text, oracle.Output(t, text, "grep", "-F", "INFO")},
				{"gunzip\n", gz, oracle.Output(t, gz, "gzip", "-dc")},
			} {
				got := tcpCall(t, env.tcpAddr, tc.header, tc.input)
				if got != tc.want {
					t.Errorf("%q: %d bytes, differ from GNU's %d", tc.header, len(got), len(tc.want))
				}
				if len(tc.want) < 1<<20 {
					t.Fatalf("%q: a reply of %d bytes does not spill much", tc.header, len(tc.want))
				}
				if used := disk.Used(); used != 0 {
					t.Errorf("%q: %d bytes of disk still charged after the reply", tc.header, used)
				}
			}
			env.tcp.Close()
			emptyDir(t, dir)
		})
	}
}

// TestTCPResetMidReply: a client that resets its connection half-way
// through a spilled reply ends the job as a reset, whichever way the
// reply is sent, and its spill file and disk are given back; what it read
// before is the reply's beginning.
func TestTCPResetMidReply(t *testing.T) {
	text := randBytes(8, 8<<20)
	for _, noSendFile := range []bool{false, true} {
		t.Run("nosendfile="+strconv.FormatBool(noSendFile), func(t *testing.T) {
			env, disk, dir := spillEnv(t, noSendFile, 0)
			conn := tcpFrom(t, env.tcpAddr, "127.0.0.1")
			// A small receive buffer, fixed (no autotuning): the kernel's
			// buffers on both sides then hold less than the 7 MiB left
			// after the first, and the reset finds the reply unsent. With
			// autotuned buffers the whole reply once fit, and the job
			// ended ok before the reset.
			conn.SetReadBuffer(128 << 10)
			sent := make(chan error, 1)
			go func() {
				_, err := io.WriteString(conn, "testcat\n")
				if err == nil {
					_, err = conn.Write(text)
				}
				if err == nil {
					err = conn.CloseWrite()
				}
				sent <- err
			}()
			got := make([]byte, 1<<20)
			if _, err := io.ReadFull(conn, got); err != nil {
				t.Fatal(err)
			}
			if err := testenv.Recv(t, hangTimeout, "the client's send (the server stopped reading?)", sent); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, text[:len(got)]) {
				t.Fatal("the reply's first MiB is not the input's")
			}
			conn.SetLinger(0)
			conn.Close() // RST, with most of the reply unsent
			if oc := env.obs.nextOutcome(t); oc != OutcomeReset {
				t.Fatalf("outcome %q, want %q", oc, OutcomeReset)
			}
			if used := disk.Used(); used != 0 {
				t.Errorf("%d bytes of disk still charged after the reset", used)
			}
			// The server still serves.
			if got, want := tcpCall(t, env.tcpAddr, "sha256sum\n", text), oracle.Output(t, text, "sha256sum"); got != want {
				t.Fatalf("after the reset: %q, want %q", got, want)
			}
			env.tcp.Close()
			emptyDir(t, dir)
		})
	}
}

// emptyDir fails the test when the spool directory holds a file.
func emptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("spool dir holds %v", ents)
	}
}

// TestTCPSlowClientUnderLowat: a client that, after a bulk start (the
// socket's SO_RCVLOWAT is set then), sends less than the mark per idle
// timeout, but something well within every timeout, is slow, not idle:
// its job completes, with GNU's answer.
func TestTCPSlowClientUnderLowat(t *testing.T) {
	const idle = time.Second
	env := startEnv(t, envConfig{idle: idle})
	input := randBytes(5, 2<<20+30*1000)
	conn := tcpFrom(t, env.tcpAddr, "127.0.0.1")
	// 1000 bytes every tenth of the idle timeout: three timeouts' worth,
	// each far under the mark.
	reply := slowCall(t, conn, "sha256sum\n", input, 2<<20, 1000, idle/10)
	if want := oracle.Output(t, input, "sha256sum"); reply != want {
		t.Fatalf("reply %q, want %q", reply, want)
	}
}

// slowCall is a client that sends head, input[:bulk] at once, then the
// rest step bytes at a time, one step every pace (the client's pace, not
// a synchronisation), then its FIN, and returns the whole reply.
func slowCall(t *testing.T, conn *net.TCPConn, head string, input []byte, bulk, step int, pace time.Duration) string {
	t.Helper()
	sent := make(chan error, 1)
	go func() {
		_, err := io.WriteString(conn, head)
		if err == nil {
			_, err = conn.Write(input[:bulk])
		}
		for rest := input[bulk:]; len(rest) > 0 && err == nil; {
			time.Sleep(pace)
			n := min(step, len(rest))
			_, err = conn.Write(rest[:n])
			rest = rest[n:]
		}
		if err == nil {
			err = conn.CloseWrite()
		}
		sent <- err
	}()
	reply, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	if err := testenv.Recv(t, hangTimeout, "the client's send (the server stopped reading?)", sent); err != nil {
		t.Fatal(err)
	}
	return string(reply)
}

// TestTCPIdleAfterBulk: a client that stops after a bulk start (the mark
// set, none of its bytes waiting under it) is idle: aborted, nothing
// written.
func TestTCPIdleAfterBulk(t *testing.T) {
	env := startEnv(t, envConfig{idle: 300 * time.Millisecond})
	conn := tcpFrom(t, env.tcpAddr, "127.0.0.1")
	io.WriteString(conn, "sha256sum\n")
	conn.Write(randBytes(6, 4<<20))
	if b, _ := io.ReadAll(conn); len(b) != 0 {
		t.Fatalf("server wrote %q to an idle client", b)
	}
	if oc := env.obs.nextOutcome(t); oc != OutcomeIdle {
		t.Fatalf("outcome %q, want %q", oc, OutcomeIdle)
	}
}

// TestTCPReplyIdleClient: a client that sends its input and then reads
// none of a spilled reply is aborted by the idle timeout, the same way
// whether the reply is sent by sendfile(2) or written; its spill file and
// disk are given back.
func TestTCPReplyIdleClient(t *testing.T) {
	text := randBytes(9, 16<<20)
	outcomes := map[bool]string{}
	for _, noSendFile := range []bool{true, false} {
		t.Run("nosendfile="+strconv.FormatBool(noSendFile), func(t *testing.T) {
			env, disk, dir := spillEnv(t, noSendFile, 300*time.Millisecond)
			conn := tcpFrom(t, env.tcpAddr, "127.0.0.1")
			io.WriteString(conn, "testcat\n")
			if _, err := conn.Write(text); err != nil {
				t.Fatal(err)
			}
			conn.CloseWrite()
			// Nothing read: the reply fills the sockets' buffers and waits.
			outcomes[noSendFile] = env.obs.nextOutcome(t)
			if used := disk.Used(); used != 0 {
				t.Errorf("%d bytes of disk still charged after the abort", used)
			}
			env.tcp.Close()
			emptyDir(t, dir)
		})
	}
	if outcomes[false] != outcomes[true] {
		t.Fatalf("outcome %q with sendfile, %q without", outcomes[false], outcomes[true])
	}
	if outcomes[true] != OutcomeIdle {
		t.Fatalf("outcome %q, want %q", outcomes[true], OutcomeIdle)
	}
}
