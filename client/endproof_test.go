package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/oracle"
	"github.com/halfclose/halfclose/internal/testenv"
	"github.com/halfclose/halfclose/server"
)

// outcomes records how the server's jobs ended.
type outcomes struct {
	started chan struct{}
	ended   chan string
}

func newOutcomes() *outcomes {
	return &outcomes{started: make(chan struct{}, 100), ended: make(chan string, 100)}
}

func (o *outcomes) JobStarted(string) func(string, int64, int64) {
	o.started <- struct{}{}
	return func(oc string, _, _ int64) { o.ended <- oc }
}

// strictServers serves gRPC and the TCP command port over one engine, both
// requiring a proof of the end of input (--require-end).
func strictServers(t *testing.T) (grpcAddr, tcpAddr string, obs *outcomes) {
	t.Helper()
	obs = newOutcomes()
	eng := engine.New(engine.Config{Registry: builtin.Registry()})
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	apiv1.RegisterComputeServiceServer(gs, server.NewComputeService(eng, server.Options{RequireEnd: true, Observer: obs}))
	go gs.Serve(gl)
	t.Cleanup(gs.Stop)
	tcp := &server.TCPServer{Engine: eng, RequireEnd: true, Observer: obs}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { tcp.Serve(tl); close(done) }()
	t.Cleanup(func() { tcp.Close(); <-done })
	return gl.Addr().String(), tl.Addr().String(), obs
}

// TestClientProvesTheEnd: Digest and Run send the End message (a server
// with --require-end answers them), and RunTCP declares or frames its
// input (the TCP port with --require-end refuses a bare stream).
func TestClientProvesTheEnd(t *testing.T) {
	grpcAddr, tcpAddr, _ := strictServers(t)
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := New(conn)
	input := bytes.Repeat([]byte("proof of the end\n"), 30000)
	sha := strings.Fields(oracle.Output(t, input, "sha256sum"))[0]

	resp, err := c.Digest(ctxT(t), bytes.NewReader(input), []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}, nil)
	if err != nil || resp.GetDigests()[0].GetHex() != sha {
		t.Fatalf("Digest: %v %v", resp, err)
	}
	var out bytes.Buffer
	if _, err := c.Run(ctxT(t), "sha256sum", bytes.NewReader(input), &out); err != nil || out.String() != sha+"  -\n" {
		t.Fatalf("Run: %q %v", out.String(), err)
	}
	// The caller's own digest goes in the End message, and is checked.
	endSum := func(hex string) *DigestOptions {
		return &DigestOptions{EndDigests: []*apiv1.ExpectedDigest{{Algorithm: apiv1.Algorithm_ALGORITHM_SHA256, Value: &apiv1.ExpectedDigest_Hex{Hex: hex}}}}
	}
	if _, err := c.Digest(ctxT(t), bytes.NewReader(input), []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}, endSum(sha)); err != nil {
		t.Fatalf("Digest with its End digest: %v", err)
	}
	if _, err := c.Digest(ctxT(t), bytes.NewReader(input), []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}, endSum(strings.Repeat("0", 64))); status.Code(err) != codes.DataLoss {
		t.Fatalf("Digest with a wrong End digest: %v, want DataLoss", err)
	}

	file := filepath.Join(t.TempDir(), "input")
	if err := os.WriteFile(file, input, 0o600); err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() { pw.Write(input); pw.Close() }()
	defer pr.Close()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tc := range []struct {
		name string
		r    io.Reader
	}{
		{"bytes.Reader: @size", bytes.NewReader(input)},
		{"regular file: @size", f},
		{"pipe: @chunked", pr},
		{"plain reader: @chunked", io.MultiReader(bytes.NewReader(input[:1000]), bytes.NewReader(input[1000:]))},
	} {
		out.Reset()
		if err := RunTCP(ctxT(t), tcpAddr, nil, "sha256sum", tc.r, &out); err != nil || out.String() != sha+"  -\n" {
			t.Errorf("RunTCP, %s: %q %v", tc.name, out.String(), err)
		}
	}
}

// fakeTCP is a command port that reads the header and the input to the
// client's FIN, then writes reply and closes: a server that dies mid-reply
// (the kernel sends its FIN all the same), or one that answers wrongly.
func fakeTCP(t *testing.T, reply func(header string, input []byte) string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); testenv.Within(t, hangTimeout, "the fake server's connections", wg.Wait) })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			br := bufio.NewReader(c)
			header, _ := br.ReadString('\n')
			input, _ := io.ReadAll(br)
			io.WriteString(c, reply(header, input))
			c.Close()
		}
	}()
	return l.Addr().String()
}

// TestRunTCPVerifiesTheReply: a reply without its trailer, or with one
// that does not count what came, is an error, never a result.
func TestRunTCPVerifiesTheReply(t *testing.T) {
	in := "some input\n"
	tests := []struct {
		name    string
		reply   string
		wantOut string
		wantErr string // "" for success
	}{
		{"complete", "output\nhalfclose: ok out=7 in=11\n", "output\n", ""},
		{"complete, empty", "halfclose: ok out=0 in=11\n", "", ""},
		{"complete, no newline at the end of the output", "abchalfclose: ok out=3 in=11\n", "abc", ""},
		{"output that looks like an error line", "halfclose: error: X: y\nhalfclose: ok out=23 in=11\n", "halfclose: error: X: y\n", ""},
		{"output that looks like a trailer", "halfclose: ok out=0 in=11\nhalfclose: ok out=26 in=11\n", "halfclose: ok out=0 in=11\n", ""},
		{"error line", "halfclose: error: DATA_LOSS: lost\n", "", "DATA_LOSS: lost"},
		{"empty: crashed before the reply", "", "", "the reply was empty"},
		{"crashed mid-reply", strings.Repeat("x", 100000), strings.Repeat("x", 100000), "the reply ended after 100000 bytes without its trailer"},
		// A --tcp-route port takes the header line for input and answers
		// without a trailer: the message names that cause too (the CLI
		// pointed at one said only "the server failed or the connection
		// was cut", after printing the route's output).
		{"a route port's reply", "3e0b2c  -\n", "3e0b2c  -\n", "or the port is a --tcp-route port, which sends none"},
		{"crashed mid-trailer", "output\nhalfclose: ok out=7 i", "output\nhalfclose: ok out=7 i", "without its trailer"},
		{"trailer counts other output", "output\nhalfclose: ok out=99 in=11\n", "output\nhalfclose: ok out=99 in=11\n", "without its trailer"},
		{"trailer counts other input", "output\nhalfclose: ok out=7 in=10\n", "", "the server received 10 bytes of input, the client sent 11"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runFakeTCP(t, tc.reply, "sort", in, "@size=11 @trailer sort\n", tc.wantErr)
			if out != tc.wantOut {
				t.Fatalf("output %q, want %q", out, tc.wantOut)
			}
			if strings.Contains(tc.wantErr, "trailer") || strings.Contains(tc.wantErr, "empty") {
				if !errors.Is(err, ErrIncompleteReply) {
					t.Fatalf("err = %v is not ErrIncompleteReply", err)
				}
			}
		})
	}
}

// runFakeTCP runs pipeline over in with RunTCP against a server that
// answers reply, checks the header line it sent and its error (wantErr a
// part of the message, "" for none), and returns the output and error.
func runFakeTCP(t *testing.T, reply, pipeline, in, wantHeader, wantErr string, opts ...TCPOption) (string, error) {
	t.Helper()
	var gotHeader string
	addr := fakeTCP(t, func(h string, input []byte) string {
		gotHeader = h
		return reply
	})
	var out bytes.Buffer
	err := RunTCP(ctxT(t), addr, nil, pipeline, strings.NewReader(in), &out, opts...)
	if gotHeader != wantHeader {
		t.Errorf("header line %q, want %q", gotHeader, wantHeader)
	}
	if wantErr == "" && err != nil || wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
		t.Fatalf("err = %v, want %q", err, wantErr)
	}
	return out.String(), err
}

// TestRunTCPStatus: with WithTCPStatus the header asks for @status and the
// trailer's status is the result's; a trailer without one (a server that
// ignored the option) or with a bad one is no proof of a whole reply.
func TestRunTCPStatus(t *testing.T) {
	in := "some input\n"
	tests := []struct {
		name       string
		reply      string
		wantOut    string
		wantStatus int
		wantErr    string // "" for success
	}{
		{"status 1", "halfclose: ok out=0 in=11 status=1\n", "", 1, ""},
		{"status 0", "out\nhalfclose: ok out=4 in=11 status=0\n", "out\n", 0, ""},
		{"status 2 after output", "xhalfclose: ok out=1 in=11 status=2\n", "x", 2, ""},
		{"no status", "out\nhalfclose: ok out=4 in=11\n", "out\nhalfclose: ok out=4 in=11\n", -1, "without its trailer"},
		{"bad status", "halfclose: ok out=0 in=11 status=x\n", "halfclose: ok out=0 in=11 status=x\n", -1, "without its trailer"},
		{"input count wrong", "halfclose: ok out=0 in=10 status=1\n", "", -1, "the server received 10 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status := -1
			out, _ := runFakeTCP(t, tc.reply, "sort -c", in, "@size=11 @trailer @status sort -c\n", tc.wantErr, WithTCPStatus(&status))
			if out != tc.wantOut || status != tc.wantStatus {
				t.Fatalf("output %q, status %d; want %q, %d", out, status, tc.wantOut, tc.wantStatus)
			}
		})
	}
}

// blockingReader gives n bytes, then blocks until released: an upload in
// progress.
type blockingReader struct {
	n       int
	release chan struct{}
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if b.n == 0 {
		<-b.release
		return 0, errors.New("released")
	}
	n := min(len(p), b.n)
	b.n -= n
	return n, nil
}

// TestRunTCPCancelResets: a cancelled RunTCP resets the connection: the
// server aborts the job (outcome reset), never computes over the partial
// input; a failing input does the same.
func TestRunTCPCancelResets(t *testing.T) {
	_, tcpAddr, obs := strictServers(t)
	for _, name := range []string{"cancel", "input error"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(ctxT(t))
			defer cancel()
			in := &blockingReader{n: 300 << 10, release: make(chan struct{})}
			var r io.Reader = in
			if name == "input error" {
				r = &failingReader{n: 300 << 10}
			}
			errc := make(chan error, 1)
			go func() { errc <- RunTCP(ctx, tcpAddr, nil, "sha256sum", r, io.Discard) }()
			testenv.Recv(t, hangTimeout, "the job's start", obs.started)
			if name == "cancel" {
				cancel()
			}
			err := testenv.Recv(t, hangTimeout, "the call's return", errc)
			close(in.release)
			if oc := testenv.Recv(t, hangTimeout, "the job's end", obs.ended); oc != server.OutcomeReset {
				t.Fatalf("server outcome %q, want %q", oc, server.OutcomeReset)
			}
			switch name {
			case "cancel":
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("err = %v, want context.Canceled", err)
				}
			case "input error":
				if !errors.Is(err, errBroken) {
					t.Fatalf("err = %v, want the input's error", err)
				}
			}
			if strings.Count(fmt.Sprint(err), "halfclose:") > 0 {
				t.Fatalf("error %q repeats the program's name", err)
			}
		})
	}
}

// TestCancelWhileInputBlocks: Run and Digest return on cancel even while
// a Read of their input is blocked (a terminal, a pipe), and the server
// records a cancel, not a result.
func TestCancelWhileInputBlocks(t *testing.T) {
	grpcAddr, _, obs := strictServers(t)
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := New(conn)
	for _, name := range []string{"Run", "Digest"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(ctxT(t))
			defer cancel()
			in := &blockingReader{n: 300 << 10, release: make(chan struct{})}
			defer close(in.release)
			errc := make(chan error, 1)
			go func() {
				var err error
				if name == "Run" {
					_, err = c.Run(ctx, "sha256sum", in, io.Discard)
				} else {
					_, err = c.Digest(ctx, in, []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}, nil)
				}
				errc <- err
			}()
			testenv.Recv(t, hangTimeout, "the job's start", obs.started)
			cancel()
			if err := testenv.Recv(t, hangTimeout, "the call's return after the cancel", errc); status.Code(err) != codes.Canceled {
				t.Fatalf("err = %v, want Canceled", err)
			}
			if oc := testenv.Recv(t, hangTimeout, "the job's end", obs.ended); oc != server.OutcomeCanceled {
				t.Fatalf("server outcome %q, want %q", oc, server.OutcomeCanceled)
			}
		})
	}
}

// TestRunTellsARegularFile: Run and RunTCP say when their input is a
// regular file (input_file_size, @file=N), so wc pads as GNU's wc < FILE
// does (the digits of the size), and as for a pipe otherwise (at least 7).
func TestRunTellsARegularFile(t *testing.T) {
	grpcAddr, tcpAddr, _ := strictServers(t)
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := New(conn)
	input := bytes.Repeat([]byte("two words\n"), 1234)
	file := filepath.Join(t.TempDir(), "input")
	if err := os.WriteFile(file, input, 0o600); err != nil {
		t.Fatal(err)
	}
	asPipe := oracle.Output(t, input, "wc")
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gnu := exec.Command(testenv.Tool(t, "wc"))
	gnu.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
	gnu.Stdin = f // a regular file
	asFile, err := gnu.Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(asFile) == asPipe {
		t.Fatalf("GNU wc pads a file as a pipe: %q", asFile)
	}
	open := func() io.Reader {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	for _, tc := range []struct {
		name string
		r    func() io.Reader
		want string
	}{
		{"regular file", open, string(asFile)},
		{"bytes.Reader", func() io.Reader { return bytes.NewReader(input) }, asPipe},
		{"plain reader", func() io.Reader { return struct{ io.Reader }{bytes.NewReader(input)} }, asPipe},
	} {
		var out bytes.Buffer
		if _, err := c.Run(ctxT(t), "wc", tc.r(), &out); err != nil || out.String() != tc.want {
			t.Errorf("Run, %s: %q %v, want %q", tc.name, out.String(), err, tc.want)
		}
		out.Reset()
		if err := RunTCP(ctxT(t), tcpAddr, nil, "wc", tc.r(), &out); err != nil || out.String() != tc.want {
			t.Errorf("RunTCP, %s: %q %v, want %q", tc.name, out.String(), err, tc.want)
		}
	}
}
