package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
)

// smallBuffers sets a socket's send and receive buffers to their
// smallest, so that a reply waits on its client's reads and not in the
// kernel. An accepted socket inherits its listener's.
func smallBuffers(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = setSockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096)
		if serr == nil {
			serr = setSockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// halfConn is a client connection to a TCP server that can half-close:
// plain TCP (FIN) or TLS (close_notify).
type halfConn interface {
	io.ReadWriter
	CloseWrite() error
}

// serveSmallBuffers serves srv (with the test PKI's TLS when useTLS) on a
// loopback listener whose sockets have the smallest buffers, and returns a
// client connection to it with small buffers too: a reply waits on the
// client's reads, not in the kernel. The connection is closed and srv
// stopped when t ends.
func serveSmallBuffers(t *testing.T, srv *TCPServer, useTLS bool) halfConn {
	t.Helper()
	var clientTLS *tls.Config
	if useTLS {
		p := newTestPKI(t)
		cfg, err := LoadServerTLS(p.ServerCert, p.ServerKey, "")
		if err != nil {
			t.Fatal(err)
		}
		srv.TLSConfig, clientTLS = cfg, p.ClientTLS(t, false)
	}
	l, err := (&net.ListenConfig{Control: smallBuffers}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveDone := make(chan struct{})
	go func() { srv.Serve(l); close(serveDone) }()
	t.Cleanup(func() {
		testenv.Within(t, hangTimeout, "the TCP server's Close and Serve's return", func() { srv.Close(); <-serveDone })
	})
	raw, err := (&net.Dialer{Control: smallBuffers}).Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	raw.SetDeadline(time.Now().Add(defaultTestTimeout))
	if useTLS {
		return tls.Client(raw, clientTLS)
	}
	return raw.(*net.TCPConn)
}

// TestTCPSlowReaderKeepsReply: a client that has sent its input and reads
// the reply slowly but without pause (a little every hundredth of the idle
// timeout) gets all of it, over plain TCP (written, or sent by sendfile
// from the spill file) and over TLS. The idle timeout was a deadline on a
// whole write (256 KiB, or the spill file's megabytes): such a client was
// dropped (reset) while it was reading, its reply cut short.
func TestTCPSlowReaderKeepsReply(t *testing.T) {
	// The pace below leaves the client a whole idle timeout, less 15 ms,
	// of being descheduled (a loaded machine) before the server may take
	// it for idle, while the 256 KiB write the old code bounded by one
	// timeout takes 1.9 s of reads: 320 KiB, 2 KiB a read.
	const idle = 1500 * time.Millisecond
	input := randBytes(21, 320<<10)
	for _, c := range []struct {
		name       string
		noSendFile bool
		tls        bool
	}{
		{"written", true, false},
		{"sendfile", false, false},
		{"tls", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			obs := &recordingObserver{started: make(chan string, 10), ended: make(chan string, 10)}
			srv := &TCPServer{
				Engine: engine.New(engine.Config{Registry: testRegistry(),
					Spool: compute.SpoolConfig{MemBytes: 64 << 10, Dir: t.TempDir(), Disk: compute.NewDiskBudget(64 << 20)}}),
				Observer: obs, IdleTimeout: idle, NoSendFile: c.noSendFile,
			}
			conn := serveSmallBuffers(t, srv, c.tls)
			sent := make(chan error, 1)
			go func() {
				_, err := io.WriteString(conn, "testcat\n")
				if err == nil {
					_, err = conn.Write(input)
				}
				if err == nil {
					err = conn.CloseWrite() // FIN, or close_notify
				}
				sent <- err
			}()
			// The client's pace (not a synchronisation): 2 KiB every
			// hundredth of the idle timeout.
			var got bytes.Buffer
			buf := make([]byte, 2<<10)
			for {
				n, err := io.ReadFull(conn, buf)
				got.Write(buf[:n])
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					break
				}
				if err != nil {
					t.Fatalf("after %d of %d bytes of the reply: %v", got.Len(), len(input), err)
				}
				time.Sleep(idle / 100)
			}
			if err := testenv.Recv(t, hangTimeout, "the client's send (the server stopped reading?)", sent); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), input) {
				t.Fatalf("reply of %d bytes, want the %d bytes of input", got.Len(), len(input))
			}
			if oc := obs.nextOutcome(t); oc != OutcomeOK {
				t.Fatalf("outcome %q, want %q", oc, OutcomeOK)
			}
		})
	}
}

// stalledConn is a connection whose first write takes nothing and runs
// out of time, as a write on a full socket does when the kernel does not
// wake the writer (it waits for a third of the send buffer to be free);
// meanwhile the client acknowledged acked bytes of what was queued.
type stalledConn struct {
	net.Conn
	queued, acked int
	writes        int
	got           bytes.Buffer
}

func (c *stalledConn) SetWriteDeadline(time.Time) error { return nil }
func (c *stalledConn) SendQueued() (int, bool)          { return c.queued, true }

func (c *stalledConn) Write(p []byte) (int, error) {
	c.writes++
	if c.writes == 1 {
		c.queued -= c.acked
		return 0, os.ErrDeadlineExceeded
	}
	return c.got.Write(p)
}

// TestTCPWriteWaitsOnAReadingClient: a reply write that took nothing for
// the idle timeout goes on when the client acknowledged some of what was
// queued (it is reading, more slowly than the kernel wakes the writer),
// and fails when it acknowledged nothing (it stopped reading), on plain
// TCP (connWriter) and under TLS (rawConn). Such a write once always
// failed: a client reading 8 KiB every 100 ms lost a 6 MB reply to a 1 s
// idle timeout (the send buffer autotuned to megabytes; an end-to-end
// test depends on the kernel's wake-up rules and buffer sizes too much
// to be reliable, so this one fakes the socket).
func TestTCPWriteWaitsOnAReadingClient(t *testing.T) {
	for _, c := range []struct {
		name    string
		acked   int
		wantErr bool
	}{
		{"reading", 1, false},
		{"stopped", 0, true},
	} {
		for _, layer := range []string{"plain", "tls"} {
			t.Run(c.name+"/"+layer, func(t *testing.T) {
				conn := &stalledConn{queued: 64 << 10, acked: c.acked}
				cw := &connWriter{c: conn, idle: time.Minute}
				var w io.Writer = cw
				if layer == "tls" {
					rc := &rawConn{Conn: conn}
					renew := cw.begin
					rc.renew.Store(&renew)
					w = rc
				}
				n, err := w.Write([]byte("reply"))
				if c.wantErr {
					if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
						t.Fatalf("Write = %d, %v; want 0 and the deadline's error", n, err)
					}
					return
				}
				if n != 5 || err != nil || conn.got.String() != "reply" {
					t.Fatalf("Write = %d, %v (wrote %q); want 5, nil", n, err, conn.got.String())
				}
			})
		}
	}
}
