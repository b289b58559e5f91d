package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/sockerr"
	"github.com/halfclose/halfclose/internal/syncbuf"
	"github.com/halfclose/halfclose/internal/testenv"
)

const spoolUnusableMsg = "spool: spill files cannot be written on this server"

// wantSpoolFault checks that err, a reply's sendFile that failed, is the
// spool's failure (UNAVAILABLE, but RESOURCE_EXHAUSTED for ENOMEM, as
// any spill file's: docs/operations.md; a server fault, outcome
// internal) with cause as its cause.
func wantSpoolFault(t *testing.T, what string, err, cause error) {
	t.Helper()
	if err == nil {
		// logDetail(nil) panics, and the panic ended the test binary
		// before the tests after this one ran.
		t.Errorf("%s: no error; want the spool's, caused by %v", what, cause)
		return
	}
	v := classify(err)
	code, msg := codes.Unavailable, spoolUnusableMsg
	if errors.Is(cause, syscall.ENOMEM) {
		code, msg = codes.ResourceExhausted, "spool: the server is out of file descriptors for spill files"
	}
	if v.code != code || v.msg != msg || !v.internal || !compute.IsFault(err) || outcome(err) != OutcomeInternal {
		t.Errorf("%s: %v: verdict %+v, outcome %s; want the spool's %v, outcome internal", what, err, v, outcome(err), code)
	}
	if !errors.Is(err, cause) {
		t.Errorf("%s: %v does not keep its cause %v", what, err, cause)
	}
	if d := logDetail(err); !strings.Contains(d, cause.Error()) {
		t.Errorf("%s: logged as %q, without its cause", what, d)
	}
}

// replyWriter is the TCP reply writer of sc, as run makes it.
func replyWriter(sc *net.TCPConn) *sendingWriter {
	w := &connWriter{c: sc, idle: time.Hour}
	return &sendingWriter{Writer: bufio.NewWriter(w), w: w, tc: sc}
}

// TestSendFileFileFault: a spill file whose read fails while its bytes go
// to a TCP client is the spool's failure, not the client's: the kernel's
// own failures of the file, sendfile(2)'s EBADF (a file it cannot read)
// and, where sendfile cannot send from the file and Go copies instead,
// the copy's read (EISDIR); and sendfile's errno of a failing disk (EIO)
// and of its other in_fd errors. The client's failures stay the client's:
// a reset client's EPIPE is outcome reset, and so are the errnos a send
// on a socket gives. sendfile's file errors were told as the
// connection's ("readfrom tcp A->B: sendfile: bad file descriptor",
// INTERNAL "internal error").
func TestSendFileFileFault(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "spill")
	if err := os.WriteFile(name, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	wronly, err := os.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer wronly.Close()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, tc := range []struct {
		name  string
		f     *os.File
		cause error
	}{
		{"write-only (sendfile)", wronly, syscall.EBADF},
		{"a directory (Go's copy)", d, syscall.EISDIR},
	} {
		_, sc := loopbackPair(t)
		k, err := replyWriter(sc).SendFile(tc.f, 0, 1000)
		if k != 0 {
			t.Errorf("%s: %d bytes sent", tc.name, k)
		}
		wantSpoolFault(t, tc.name, err, tc.cause)
	}

	// sendfile's errno alone: the file's, unless a socket gives it.
	for _, errno := range []syscall.Errno{syscall.EIO, syscall.EBADF, syscall.EINVAL, syscall.ENOMEM, syscall.EOVERFLOW, syscall.ESPIPE, syscall.ESTALE} {
		err := &net.OpError{Op: "readfrom", Net: "tcp", Err: os.NewSyscallError("sendfile", errno)}
		wantSpoolFault(t, "sendfile "+errno.Error(), spillFault(err, nil, nil), errno)
	}
	for _, errno := range []syscall.Errno{syscall.ECONNRESET, syscall.EPIPE, syscall.ENOTCONN, syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENOBUFS, syscall.EPROTOTYPE} {
		err := &net.OpError{Op: "readfrom", Net: "tcp", Err: os.NewSyscallError("sendfile", errno)}
		if f := spillFault(err, nil, nil); f != nil {
			t.Errorf("sendfile %v: %v, want the connection's", errno, f)
		}
	}
	for _, err := range []error{os.ErrDeadlineExceeded, net.ErrClosed, &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EIO)}} {
		if f := spillFault(err, nil, nil); f != nil {
			t.Errorf("%v: %v, want the connection's", err, f)
		}
	}

	// A client that reset its connection: a good file, the socket's
	// EPIPE, outcome reset.
	good, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	cc, sc := loopbackPair(t)
	cc.SetLinger(0)
	cc.Close()
	if _, err := sc.Read(make([]byte, 1)); !sockerr.Reset(err) {
		t.Fatalf("read after the client's reset: %v", err)
	}
	_, err = replyWriter(sc).SendFile(good, 0, 1<<20)
	if !sockerr.Broken(err) || outcome(err) != OutcomeReset {
		t.Errorf("sendfile to a reset client: %v, outcome %s; want a broken connection, outcome reset", err, outcome(err))
	}
}

// TestTCPSpillReadFails: a TCP job whose reply's spilled part cannot be
// read from its spill file as it is sent (the file sendfile sends from
// fails: EBADF) ends as the spool's failure: outcome internal, an error
// line in the log with its cause (there was none, and the job's line
// blamed the connection: "readfrom tcp A->B: sendfile: bad file
// descriptor"), and the connection reset, so the client that had the
// reply's first 64 KiB never sees an end. Its spill file and disk are
// given back.
func TestTCPSpillReadFails(t *testing.T) {
	var bad []*os.File
	t.Cleanup(func() {
		for _, f := range bad {
			f.Close()
		}
	})
	old := sendFrom
	t.Cleanup(func() { sendFrom = old })
	sendFrom = func(f *os.File) *os.File {
		wo, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), os.O_WRONLY, 0)
		if err != nil {
			panic(err)
		}
		bad = append(bad, wo)
		return wo // the spill file itself, open for writing alone
	}
	logs := new(syncbuf.Buffer)
	dir := t.TempDir()
	disk := compute.NewDiskBudget(256 << 20)
	env := startEnv(t, envConfig{
		engine: engine.Config{Spool: compute.SpoolConfig{MemBytes: 64 << 10, Dir: dir, Disk: disk}},
		logs:   logs,
	})
	text := randBytes(9, 4<<20)
	conn := tcpFrom(t, env.tcpAddr, "127.0.0.1")
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
	conn.SetReadDeadline(time.Now().Add(defaultTestTimeout))
	got, err := io.ReadAll(conn)
	if err := testenv.Recv(t, hangTimeout, "the client's send", sent); err != nil {
		t.Fatal(err)
	}
	if !sockerr.Reset(err) || len(got) >= len(text) {
		t.Errorf("the client read %d bytes of %d, then %v; want a reset before the end", len(got), len(text), err)
	}
	if oc := env.obs.nextOutcome(t); oc != OutcomeInternal {
		t.Errorf("outcome %q, want %q", oc, OutcomeInternal)
	}
	for _, want := range []string{`msg="tcp job failed"`, spoolUnusableMsg + ": read failed", "bad file descriptor"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
	if used := disk.Used(); used != 0 {
		t.Errorf("%d bytes of disk still charged", used)
	}
	env.tcp.Close()
	emptyDir(t, dir)
}

// TestSendFileAmbiguousErrno: sendfile(2)'s ETIMEDOUT and ENOMEM are
// either end's (a socket's retransmission timeout or an NFS soft mount's
// read timeout; the kernel's memory for either), told by the socket: with
// the connection healthy they are the spool's failure (ETIMEDOUT was the
// connection's, the client blamed for the spool's disk, outcome reset),
// with it broken (the client reset it) the connection's (ENOMEM was the
// spool's). No socket to ask keeps the default sides.
func TestSendFileAmbiguousErrno(t *testing.T) {
	ambiguous := []syscall.Errno{syscall.ETIMEDOUT, syscall.ENOMEM}
	sendfileErr := func(e syscall.Errno) error {
		return &net.OpError{Op: "readfrom", Net: "tcp", Err: os.NewSyscallError("sendfile", e)}
	}

	cc, sc := loopbackPair(t)
	if broken, known := socketBroken(sc); broken || !known {
		t.Fatalf("a healthy connection: broken %v, known %v", broken, known)
	}
	for _, e := range ambiguous {
		wantSpoolFault(t, "sendfile "+e.Error()+" on a healthy connection", spillFault(sendfileErr(e), nil, sc), e)
	}
	// The client's FIN ends only its half: a reply still goes.
	cc.CloseWrite()
	if _, err := sc.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after the client's FIN: %v", err)
	}
	for _, e := range ambiguous {
		wantSpoolFault(t, "sendfile "+e.Error()+" after the client's FIN", spillFault(sendfileErr(e), nil, sc), e)
	}

	cc, sc = loopbackPair(t)
	cc.SetLinger(0)
	cc.Close()
	if _, err := sc.Read(make([]byte, 1)); !sockerr.Reset(err) {
		t.Fatalf("read after the client's reset: %v", err)
	}
	if broken, known := socketBroken(sc); !broken || !known {
		t.Fatalf("a reset connection: broken %v, known %v", broken, known)
	}
	for _, e := range ambiguous {
		if f := spillFault(sendfileErr(e), nil, sc); f != nil {
			t.Errorf("sendfile %v on a reset connection: %v, want the connection's", e, f)
		}
	}

	if f := spillFault(sendfileErr(syscall.ETIMEDOUT), nil, nil); f != nil {
		t.Errorf("sendfile ETIMEDOUT, no socket: %v, want the connection's", f)
	}
	wantSpoolFault(t, "sendfile ENOMEM, no socket", spillFault(sendfileErr(syscall.ENOMEM), nil, nil), syscall.ENOMEM)
}

// TestSendFileSocketTimeout: a real socket timeout in sendfile(2) stays
// the connection's, not the spool's: a client that stops reading, under
// a TCP_USER_TIMEOUT of 100 ms, times the connection out (ETIMEDOUT, its
// state CLOSE, SO_ERROR already taken by the send).
func TestSendFileSocketTimeout(t *testing.T) {
	name := filepath.Join(t.TempDir(), "spill")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const size = 64 << 20 // past any socket buffers: a hole, no disk
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	cc, sc := loopbackPair(t)
	cc.SetReadBuffer(4096)
	setUserTimeout(sc, 100*time.Millisecond)
	w := replyWriter(sc)
	w.w.idle = time.Minute // a backstop for a kernel whose zero-window probes never time out
	k, err := w.SendFile(f, 0, size)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Skipf("the connection did not time out (%v): no TCP_USER_TIMEOUT on zero-window probes here", err)
	}
	if !errors.Is(err, syscall.ETIMEDOUT) || compute.IsFault(err) {
		t.Fatalf("sendfile to a client that stopped reading: %d bytes, %v (outcome %s); want the connection's ETIMEDOUT", k, err, outcome(err))
	}
	if broken, known := socketBroken(sc); !broken || !known {
		t.Errorf("the timed-out connection: broken %v, known %v", broken, known)
	}
	t.Logf("%d bytes, %v, outcome %s", k, err, outcome(err))
}
