package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
)

// smallBuffers sets a socket's send and receive buffers to their
// smallest, so that a reply waits on its client's reads and not in the
// kernel. An accepted socket inherits its listener's.
func smallBuffers(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096)
		if serr == nil {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// TestTCPSlowReaderKeepsReply: a client that has sent its input and reads
// the reply slowly but without pause (a little every fiftieth of the idle
// timeout) gets all of it, over plain TCP (written, or sent by sendfile
// from the spill file) and over TLS. The idle timeout was a deadline on a
// whole write (256 KiB, or the spill file's megabytes): such a client was
// dropped (reset) while it was reading, its reply cut short.
func TestTCPSlowReaderKeepsReply(t *testing.T) {
	const idle = 500 * time.Millisecond
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
			var clientTLS *tls.Config
			if c.tls {
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
			t.Cleanup(func() { srv.Close(); <-serveDone })

			raw, err := (&net.Dialer{Control: smallBuffers}).Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			raw.SetDeadline(time.Now().Add(defaultTestTimeout))
			var conn interface {
				io.ReadWriter
				CloseWrite() error
			} = raw.(*net.TCPConn)
			if c.tls {
				conn = tls.Client(raw, clientTLS)
			}
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
			// fiftieth of the idle timeout.
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
				time.Sleep(idle / 50)
			}
			if err := <-sent; err != nil {
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
