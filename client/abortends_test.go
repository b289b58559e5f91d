package client

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/server"
)

// truncatedGzip is a gzip reader over a stream cut before its end: it
// gives the bytes it could inflate, then io.ErrUnexpectedEOF.
func truncatedGzip(t *testing.T) io.Reader {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(bytes.Repeat([]byte("a compressed source cut short\n"), 2000))
	zw.Close()
	zr, err := gzip.NewReader(bytes.NewReader(b.Bytes()[:b.Len()/2]))
	if err != nil {
		t.Fatal(err)
	}
	return zr
}

// TestUnexpectedEOFIsAnAbort: io.ErrUnexpectedEOF, a decompressor's word
// for a stream cut short, is no end of input: Run, Digest and RunTCP fail
// with the input error, no result, and the server records a cancel. A
// sendChunks that took it for io.EOF proved the end of half the file and
// passed every test (mutation run).
func TestUnexpectedEOFIsAnAbort(t *testing.T) {
	addr, obs := libServer(t, engine.Config{}, server.Options{})
	c := dialT(t, addr)
	for _, name := range []string{"Run", "Digest"} {
		t.Run(name, func(t *testing.T) {
			var err error
			var res any
			if name == "Run" {
				res, err = c.Run(ctxT(t), "sha256sum", truncatedGzip(t), io.Discard)
			} else {
				res, err = c.Digest(ctxT(t), truncatedGzip(t), sha256Algo, nil)
			}
			if !IsInputError(err) || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("err = %v (result %v), want the input error io.ErrUnexpectedEOF", err, res)
			}
			<-obs.started
			if oc := <-obs.ended; oc != server.OutcomeCanceled {
				t.Fatalf("server outcome %q, want %q", oc, server.OutcomeCanceled)
			}
		})
	}
	_, tcpAddr, tobs := strictServers(t)
	var out bytes.Buffer
	err := RunTCP(ctxT(t), tcpAddr, nil, "sha256sum", truncatedGzip(t), &out)
	if !IsInputError(err) || !errors.Is(err, io.ErrUnexpectedEOF) || out.Len() != 0 {
		t.Fatalf("RunTCP: %v, output %q; want the input error io.ErrUnexpectedEOF and no output", err, out.String())
	}
	if oc := <-tobs.ended; oc != server.OutcomeReset {
		t.Fatalf("RunTCP: server outcome %q, want %q", oc, server.OutcomeReset)
	}
}

// endWatcher is a stream interceptor that counts the End messages the
// client hands to gRPC.
type endWatcher struct{ ends atomic.Int32 }

func (w *endWatcher) intercept(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := streamer(ctx, desc, cc, method, opts...)
	return &endCounter{ClientStream: s, w: w}, err
}

type endCounter struct {
	grpc.ClientStream
	w *endWatcher
}

func (c *endCounter) SendMsg(m any) error {
	if e, ok := m.(interface{ GetEnd() *apiv1.End }); ok && e.GetEnd() != nil {
		c.w.ends.Add(1)
	}
	return c.ClientStream.SendMsg(m)
}

// TestCancelAtEndSendsNoEnd: a Digest or Run whose context ends just as
// its input does (a signal at the last Read) is an abort: no End message
// is ever handed to gRPC (whose own watch of the context resets the
// stream, but not before an End already sent could reach the server), the
// call fails, and the server records a cancel. The gRPC twin of
// TestRunTCPCancelAtEndResets; a sendChunks that returned no error at
// r's io.EOF whatever ctx said passed every test (mutation run).
func TestCancelAtEndSendsNoEnd(t *testing.T) {
	addr, obs := libServer(t, engine.Config{}, server.Options{})
	var w endWatcher
	c, err := Dial(addr, WithDialOptions(grpc.WithStreamInterceptor(w.intercept)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The watcher sees the End of a call that was not cancelled.
	if _, err := c.Digest(ctxT(t), strings.NewReader("whole\n"), sha256Algo, nil); err != nil || w.ends.Load() != 1 {
		t.Fatalf("Digest: %v, %d End messages; want none and 1", err, w.ends.Load())
	}
	<-obs.started
	<-obs.ended
	w.ends.Store(0)
	for _, name := range []string{"Run", "Digest"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(ctxT(t))
			defer cancel()
			r := &cancelAtEOF{r: io.MultiReader(strings.NewReader("cancelled "), strings.NewReader("at the end\n")), cancel: cancel}
			var res any
			if name == "Run" {
				res, err = c.Run(ctx, "sha256sum", r, io.Discard)
			} else {
				res, err = c.Digest(ctx, r, sha256Algo, nil)
			}
			if err == nil {
				t.Fatalf("result %v, want an error", res)
			}
			<-obs.started
			if oc := <-obs.ended; oc != server.OutcomeCanceled {
				t.Errorf("server outcome %q, want %q", oc, server.OutcomeCanceled)
			}
			if n := w.ends.Load(); n != 0 {
				t.Errorf("%d End messages sent for a call cancelled as its input ended", n)
			}
		})
	}
}

// failingLen is a reader with a Len (so RunTCP declares @size) whose Read
// fails after its first n bytes: a sized source with an I/O error.
type failingLen struct {
	r   *bytes.Reader
	n   int
	err error
}

func (f *failingLen) Len() int { return f.r.Len() }

func (f *failingLen) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	k, err := f.r.Read(p[:min(len(p), f.n)])
	f.n -= k
	return k, err
}

// TestRunTCPSizedReadErrorResets: a read error of an input RunTCP
// declared with @size is an input error, at once, and the connection is
// reset: the server records an abort by reset. Without its input errors
// marked (readErrors), the declared input stopped short with neither a
// reset nor a FIN, and RunTCP waited for the server's idle timeout
// (mutation run).
func TestRunTCPSizedReadErrorResets(t *testing.T) {
	_, tcpAddr, obs := strictServers(t)
	eio := errors.New("input/output error on the sized source")
	r := &failingLen{r: bytes.NewReader(bytes.Repeat([]byte("sized\n"), 10000)), n: 1000, err: eio}
	var out bytes.Buffer
	err := RunTCP(ctxT(t), tcpAddr, nil, "sha256sum", r, &out)
	if !IsInputError(err) || !errors.Is(err, eio) || out.Len() != 0 {
		t.Fatalf("RunTCP: %v, output %q; want the input error and no output", err, out.String())
	}
	if oc := <-obs.ended; oc != server.OutcomeReset {
		t.Fatalf("server outcome %q, want %q", oc, server.OutcomeReset)
	}
}
