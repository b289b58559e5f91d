package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/testenv"
	"github.com/halfclose/halfclose/server"
)

// Tests found missing by a mutation hunt on RunTCP's abort paths.

// lyingLen is a reader whose Len says n while it holds data: a file that
// shrank or grew between the size RunTCP declared (@size) and its reading.
type lyingLen struct {
	r *bytes.Reader
	n int
}

func (l *lyingLen) Read(p []byte) (int, error) { return l.r.Read(p) }
func (l *lyingLen) Len() int                   { return l.n }

// TestRunTCPSizeMismatchResets: an input that holds fewer or more bytes
// than the @size RunTCP declared is an input error, and the connection is
// reset, not half-closed: the server records an abort by reset, never
// computes over what came (a FIN after the bytes declared would be a
// proven end, the input cut at the size), and RunTCP returns no output.
func TestRunTCPSizeMismatchResets(t *testing.T) {
	_, tcpAddr, obs := strictServers(t)
	data := bytes.Repeat([]byte("sized input\n"), 1000)
	for _, tc := range []struct {
		name string
		n    int // the declared size
	}{
		{"shorter than its size", len(data) + 100},
		{"longer than its size", len(data) - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := RunTCP(ctxT(t), tcpAddr, nil, "sha256sum", &lyingLen{bytes.NewReader(data), tc.n}, &out)
			if !IsInputError(err) {
				t.Fatalf("err = %v, want an input error", err)
			}
			if out.Len() != 0 {
				t.Fatalf("output %q after an input error", out.String())
			}
			if oc := testenv.Recv(t, hangTimeout, "the job's end", obs.ended); oc != server.OutcomeReset {
				t.Fatalf("server outcome %q, want %q", oc, server.OutcomeReset)
			}
		})
	}
	// The server still answers a whole input.
	if err := RunTCP(ctxT(t), tcpAddr, nil, "wc -c", bytes.NewReader(data), io.Discard); err != nil {
		t.Fatal(err)
	}
}

// cancelAtEOF gives its data, then cancels the call as it reports the
// end: a signal that arrives just as the input ends.
type cancelAtEOF struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (c *cancelAtEOF) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		c.cancel()
	}
	return n, err
}

// TestRunTCPCancelAtEndResets: a call cancelled as its @chunked input
// ends does not send the last chunk: it is an abort (the server sees a
// reset), not an end.
func TestRunTCPCancelAtEndResets(t *testing.T) {
	_, tcpAddr, obs := strictServers(t)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	r := &cancelAtEOF{r: io.MultiReader(strings.NewReader("cancelled "), strings.NewReader("at the end\n")), cancel: cancel}
	var out bytes.Buffer
	if err := RunTCP(ctx, tcpAddr, nil, "sha256sum", r, &out); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if out.Len() != 0 {
		t.Fatalf("output %q after a cancel", out.String())
	}
	if oc := testenv.Recv(t, hangTimeout, "the job's end", obs.ended); oc != server.OutcomeReset {
		t.Fatalf("server outcome %q, want %q", oc, server.OutcomeReset)
	}
}

// TestRunTCPReplyBeforeTheEnd: a reply that ends (the server's FIN) while
// the input is still being sent, however complete it looks (its trailer
// counts what the server got), is ErrIncompleteReply at once: RunTCP does
// not wait for the input's reader, which here blocks until the test ends.
// The fake server reads the header and 1000 bytes, answers, half-closes,
// and reads on (no reset).
func TestRunTCPReplyBeforeTheEnd(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		br.ReadString('\n')
		io.CopyN(io.Discard, br, 1000)
		io.WriteString(c, "halfclose: ok out=0 in=1000\n")
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, br)
	}()
	t.Cleanup(func() { l.Close(); <-served })
	in := &blockingReader{n: 1000, release: make(chan struct{})}
	defer close(in.release)
	errc := make(chan error, 1)
	go func() { errc <- RunTCP(ctxT(t), l.Addr().String(), nil, "wc -c", in, io.Discard) }()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrIncompleteReply) {
			t.Fatalf("err = %v, want ErrIncompleteReply", err)
		}
	case <-time.After(defaultTestTimeout):
		t.Fatal("RunTCP waited for the input after the reply ended")
	}
}
