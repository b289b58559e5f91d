package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/digest"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/oracle"

	"github.com/halfclose/halfclose/internal/testenv"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute"
)

// Test-only commands: testcat echoes its input; testfail echoes its input
// and then fails, after the input has ended, so the failure comes after the
// output has started.
// testRegistry returns every builtin command and the test-only ones.
func testRegistry() *compute.Registry {
	r := builtin.Registry()
	r.Register(&compute.Command{Name: "testcat", Build: func(*compute.Env, []string) (compute.Stage, error) {
		return compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
			_, err := io.Copy(out, in)
			return err
		}), nil
	}})
	r.Register(&compute.Command{Name: "testfail", Build: func(*compute.Env, []string) (compute.Stage, error) {
		return compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
			if _, err := io.Copy(out, in); err != nil {
				return err
			}
			return compute.Invalidf("testfail: failed after its output")
		}), nil
	}})
	return r
}

func runHeader(p string) *apiv1.RunRequest {
	return &apiv1.RunRequest{Message: &apiv1.RunRequest_Header{Header: &apiv1.RunHeader{Pipeline: p}}}
}

func runData(b []byte) *apiv1.RunRequest {
	return &apiv1.RunRequest{Message: &apiv1.RunRequest_Data{Data: b}}
}

// collectRun receives a Run reply: its output, its summary and its error.
func collectRun(stream apiv1.ComputeService_RunClient) ([]byte, *apiv1.RunSummary, error) {
	var out bytes.Buffer
	for {
		resp, err := stream.Recv()
		if err != nil {
			return out.Bytes(), nil, err
		}
		switch m := resp.GetMessage().(type) {
		case *apiv1.RunResponse_Output:
			out.Write(m.Output)
		case *apiv1.RunResponse_Summary:
			if _, err := stream.Recv(); err != io.EOF {
				return out.Bytes(), m.Summary, fmt.Errorf("after summary: %v", err)
			}
			return out.Bytes(), m.Summary, nil
		}
	}
}

func TestRunSendsNothingBeforeCloseSend(t *testing.T) {
	env := startEnv(t, envConfig{})
	stream, err := env.client.Run(jobCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	input := randBytes(1, 1<<20)
	stream.Send(runHeader("testcat"))
	sendChunked(input, 100000, func(b []byte) error { return stream.Send(runData(b)) })
	got := make(chan error, 1)
	var first *apiv1.RunResponse
	go func() {
		var err error
		first, err = stream.Recv()
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("reply before CloseSend: %v %v", first, err)
	case <-time.After(200 * time.Millisecond):
	}
	stream.CloseSend()
	if err := testenv.Recv(t, hangTimeout, "the reply after CloseSend", got); err != nil {
		t.Fatal(err)
	}
	rest, sum, err := collectRun(stream)
	if err != nil {
		t.Fatal(err)
	}
	out := append(first.GetOutput(), rest...)
	if !bytes.Equal(out, input) || sum.GetInputBytes() != int64(len(input)) || sum.GetOutputBytes() != int64(len(input)) {
		t.Fatalf("output %d bytes, summary %v", len(out), sum)
	}
}

func TestRunLargeOutputStreams(t *testing.T) {
	env := startEnv(t, envConfig{})
	input := randBytes(2, 100)
	// 12 MB of output: several messages, more than the default spool memory.
	stream, err := env.client.Run(jobCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	stream.Send(runHeader("b3sum -l 6000000 --no-names"))
	stream.Send(runData(input))
	stream.CloseSend()
	out, sum, err := collectRun(stream)
	if err != nil {
		t.Fatal(err)
	}
	if want := oracle.Output(t, input, "b3sum", "-l", "6000000", "--no-names"); string(out) != want {
		t.Fatalf("output differs from b3sum (%d vs %d bytes)", len(out), len(want))
	}
	if sum.GetOutputBytes() != int64(len(out)) {
		t.Fatalf("summary %v for %d bytes", sum, len(out))
	}
}

func TestRunErrors(t *testing.T) {
	env := startEnv(t, envConfig{engine: engine.Config{MaxInputBytes: 1000}})
	tests := []struct {
		name    string
		msgs    []*apiv1.RunRequest
		code    codes.Code
		message string
	}{
		{"no messages", nil, codes.InvalidArgument, "missing header"},
		{"data first", []*apiv1.RunRequest{runData([]byte("x"))}, codes.InvalidArgument, "missing header"},
		{"empty pipeline", []*apiv1.RunRequest{runHeader("  ")}, codes.InvalidArgument, "pipeline: empty"},
		{"unknown command", []*apiv1.RunRequest{runHeader("sha256sum | frob")}, codes.InvalidArgument, `unknown command "frob"`},
		{"unknown flag", []*apiv1.RunRequest{runHeader("wc -Q")}, codes.InvalidArgument, `"-Q"`},
		{"file operand", []*apiv1.RunRequest{runHeader("sha256sum /etc/passwd")}, codes.InvalidArgument, "/etc/passwd"},
		{"shell syntax", []*apiv1.RunRequest{runHeader("wc > x")}, codes.InvalidArgument, `"> x", a redirection`},
		{"second header", []*apiv1.RunRequest{runHeader("wc"), runData([]byte("a")), runHeader("wc")}, codes.InvalidArgument, "unexpected header"},
		{"input limit", []*apiv1.RunRequest{runHeader("wc"), runData(make([]byte, 1001))}, codes.ResourceExhausted, "input exceeds the limit"},
		{"failure after output", []*apiv1.RunRequest{runHeader("testfail"), runData([]byte("abc"))}, codes.InvalidArgument, "testfail: failed after its output"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stream, err := env.client.Run(jobCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tc.msgs {
				if stream.Send(m) != nil {
					break
				}
			}
			stream.CloseSend()
			_, sum, err := collectRun(stream)
			if status.Code(err) != tc.code || !strings.Contains(status.Convert(err).Message(), tc.message) {
				t.Fatalf("got %v, want %v containing %q", err, tc.code, tc.message)
			}
			if sum != nil {
				t.Fatalf("a failed run sent a summary: %v", sum)
			}
		})
	}
}

func TestRunCancelAndIdle(t *testing.T) {
	env := startEnv(t, envConfig{}) // no idle timeout to race the cancel
	ctx, cancel := context.WithCancel(jobCtx(t))
	stream, err := env.client.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stream.Send(runHeader("testcat"))
	stream.Send(runData([]byte("partial")))
	env.obs.waitStarted(t)
	cancel()
	if oc := env.obs.nextOutcome(t); oc != "canceled" {
		t.Fatalf("outcome %q, want canceled", oc)
	}
	if out, _, err := collectRun(stream); status.Code(err) != codes.Canceled || len(out) != 0 {
		t.Fatalf("err = %v, %d bytes; want Canceled and nothing", err, len(out))
	}

	env = startEnv(t, envConfig{idle: 200 * time.Millisecond})
	stream, err = env.client.Run(jobCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	stream.Send(runHeader("testcat"))
	stream.Send(runData([]byte("partial")))
	out, _, err := collectRun(stream)
	if status.Code(err) != codes.DeadlineExceeded || len(out) != 0 {
		t.Fatalf("idle: err = %v, %d bytes; want DeadlineExceeded and nothing", err, len(out))
	}
}

func TestMaxJobs(t *testing.T) {
	env := startEnv(t, envConfig{engine: engine.Config{MaxJobs: 1, QueueWait: 50 * time.Millisecond}})
	// One job holds the only slot: it waits for its input.
	conn, err := net.Dial("tcp", env.tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "sha256sum\npartial")
	env.obs.waitStarted(t)

	stream, err := env.client.Run(jobCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	stream.Send(runHeader("wc"))
	stream.CloseSend()
	if _, _, err := collectRun(stream); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("gRPC over max jobs: %v", err)
	}
	if reply := tcpCall(t, env.tcpAddr, "wc\n", nil); !strings.HasPrefix(reply, "halfclose: error: RESOURCE_EXHAUSTED: too many jobs") {
		t.Fatalf("TCP over max jobs: %q", reply)
	}
	// The first job still completes.
	conn.(*net.TCPConn).CloseWrite()
	reply, _ := io.ReadAll(conn)
	if want := oracle.Output(t, []byte("partial"), "sha256sum"); string(reply) != want {
		t.Fatalf("held job: %q, want %q", reply, want)
	}
}

func TestCapabilities(t *testing.T) {
	env := startEnv(t, envConfig{engine: engine.Config{MaxInputBytes: 12345, MaxJobs: 7}})
	resp, err := env.client.Capabilities(jobCtx(t), &apiv1.CapabilitiesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]*apiv1.CommandInfo{}
	for _, c := range resp.GetCommands() {
		names[c.GetName()] = c
	}
	for _, want := range []string{"sha256sum", "b3sum", "cksum", "wc", "crc32c", "xxh3"} {
		if names[want] == nil {
			t.Errorf("Capabilities lacks %s", want)
		}
	}
	if c := names["wc"]; c != nil && len(c.GetFlags()) == 0 {
		t.Errorf("wc lists no flags")
	}
	if len(resp.GetAlgorithms()) != len(digest.Algos()) {
		t.Errorf("algorithms %v", resp.GetAlgorithms())
	}
	if l := resp.GetLimits(); l.GetMaxInputBytes() != 12345 || l.GetMaxJobs() != 7 {
		t.Errorf("limits %v", l)
	}
}

// tcpCall sends raw bytes, half-closes, and returns the whole reply.
func tcpCall(t *testing.T, addr, header string, input []byte) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(defaultTestTimeout))
	go func() {
		w := bufio.NewWriter(conn)
		w.WriteString(header)
		w.Write(input)
		w.Flush()
		conn.(*net.TCPConn).CloseWrite()
	}()
	reply, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("reading reply: %v", err)
	}
	return string(reply)
}

func TestTCPCommandPortAndRoute(t *testing.T) {
	env := startEnv(t, envConfig{routes: []string{"sha256sum", "wc -l"}})
	for _, size := range []int{0, 1, 4095, 4096, 65537, 5 << 20} {
		input := randBytes(uint64(size), size)
		want := oracle.Output(t, input, "sha256sum")
		if got := tcpCall(t, env.tcpAddr, "sha256sum\n", input); got != want {
			t.Errorf("command port, %d bytes: %q, want %q", size, got, want)
		}
		if got := tcpCall(t, env.tcpAddr, "sha256sum\r\n", input); got != want {
			t.Errorf("command port with CRLF header, %d bytes: %q, want %q", size, got, want)
		}
		if got := tcpCall(t, env.routes["sha256sum"], "", input); got != want {
			t.Errorf("route, %d bytes: %q, want %q", size, got, want)
		}
		if got, want := tcpCall(t, env.routes["wc -l"], "", input), oracle.Output(t, input, "wc", "-l"); got != want {
			t.Errorf("wc -l route, %d bytes: %q, want %q", size, got, want)
		}
	}
}

func TestTCPErrorLines(t *testing.T) {
	env := startEnv(t, envConfig{engine: engine.Config{MaxInputBytes: 1 << 20}, tcp: tcpSettings{MaxHeaderBytes: 100}})
	tests := []struct {
		name, header string
		input        []byte
		want         string
	}{
		{"unknown command", "frob -x\n", nil, `halfclose: error: INVALID_ARGUMENT: unknown command "frob"` + "\n"},
		{"unknown flag", "sha256sum --frob\n", []byte("data"), `halfclose: error: INVALID_ARGUMENT: sha256sum: unknown flag "--frob"` + "\n"},
		{"empty header", "\n", nil, "halfclose: error: INVALID_ARGUMENT: pipeline: empty\n"},
		{"no header", "", nil, "halfclose: error: INVALID_ARGUMENT: missing header line: the first line must be the pipeline\n"},
		{"half a header", "sha256", nil, "halfclose: error: INVALID_ARGUMENT: header line must end with a newline\n"},
		{"header too long", strings.Repeat("x", 200) + "\n", nil, "halfclose: error: INVALID_ARGUMENT: header line longer than 100 bytes\n"},
		{"input limit", "wc -c\n", make([]byte, 3<<20), "halfclose: error: RESOURCE_EXHAUSTED: input exceeds the limit of 1048576 bytes\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tcpCall(t, env.tcpAddr, tc.header, tc.input); got != tc.want {
				t.Fatalf("reply %q, want %q", got, tc.want)
			}
		})
	}
}

// TestTCPFailureAfterOutputResets: a job that fails once some of its
// output has reached the connection resets it (testfail's 1 MiB is more
// than the connection's 256 KiB reply buffer).
func TestTCPFailureAfterOutputResets(t *testing.T) {
	env := startEnv(t, envConfig{})
	conn, err := net.Dial("tcp", env.tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(defaultTestTimeout))
	go func() {
		fmt.Fprintf(conn, "testfail\n%s", bytes.Repeat([]byte("some output\n"), 1<<20/12))
		conn.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(conn)
	if err == nil || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read %d bytes, then %v; want a connection reset", len(got), err)
	}
}

// TestTCPFailureBeforeOutputSent: a job that fails after its input ended
// with its output all still in the connection's reply buffer, none sent,
// gets the error line and the server's FIN, on the command port and a
// route port: the buffer is dropped. The connection was reset, and the
// client got nothing: nc an empty reply, exit 0.
func TestTCPFailureBeforeOutputSent(t *testing.T) {
	env := startEnv(t, envConfig{routes: []string{"testfail"}})
	const want = "halfclose: error: INVALID_ARGUMENT: testfail: failed after its output\n"
	for _, c := range []struct{ name, addr, header string }{
		{"command port", env.tcpAddr, "testfail\n"},
		{"route", env.routes["testfail"], ""},
		{"trailer", env.tcpAddr, "@trailer @size=11 testfail\n"},
	} {
		conn, err := net.Dial("tcp", c.addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(defaultTestTimeout))
		fmt.Fprintf(conn, "%ssome output", c.header)
		conn.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(conn)
		conn.Close()
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q and the server's FIN", c.name, got, err, want)
		}
	}
}

func TestTCPAborts(t *testing.T) {
	env := startEnv(t, envConfig{idle: 300 * time.Millisecond, tcp: tcpSettings{HeaderTimeout: 300 * time.Millisecond}})
	// Each abort: the server writes nothing and closes; the job (if one
	// started) ends as an abort.
	expectNothing := func(t *testing.T, conn net.Conn) {
		t.Helper()
		conn.SetReadDeadline(time.Now().Add(defaultTestTimeout))
		b, _ := io.ReadAll(conn)
		if len(b) != 0 {
			t.Fatalf("server wrote %q after an abort", b)
		}
	}
	t.Run("header timeout", func(t *testing.T) {
		conn, err := net.Dial("tcp", env.tcpAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "sha256s")
		expectNothing(t, conn)
		if oc := env.obs.nextOutcome(t); oc != OutcomeIdle {
			t.Fatalf("outcome %q, want %q", oc, OutcomeIdle)
		}
	})
	t.Run("idle timeout", func(t *testing.T) {
		conn, err := net.Dial("tcp", env.tcpAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "testcat\npartial input")
		expectNothing(t, conn)
		if oc := env.obs.nextOutcome(t); oc != "idle" {
			t.Fatalf("outcome %q, want idle", oc)
		}
	})
	t.Run("reset mid-input", func(t *testing.T) {
		env := startEnv(t, envConfig{}) // no idle timeout to race the reset
		conn, err := net.Dial("tcp", env.tcpAddr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "testcat\n")
		conn.Write(make([]byte, 1<<20))
		env.obs.waitStarted(t)
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close() // RST
		if oc := env.obs.nextOutcome(t); oc != OutcomeReset {
			t.Fatalf("outcome %q, want %q", oc, OutcomeReset)
		}
	})
	// The server still serves.
	if got, want := tcpCall(t, env.tcpAddr, "sha256sum\n", []byte("x")), oracle.Output(t, []byte("x"), "sha256sum"); got != want {
		t.Fatalf("after aborts: %q", got)
	}
}

func TestTCPMaxConns(t *testing.T) {
	env := startEnv(t, envConfig{tcp: tcpSettings{MaxConns: 1}})
	held, err := net.Dial("tcp", env.tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	fmt.Fprintf(held, "sha256sum\n")
	env.obs.waitStarted(t)
	if got := tcpCall(t, env.tcpAddr, "sha256sum\n", []byte("x")); got != "halfclose: error: RESOURCE_EXHAUSTED: too many connections: limit 1\n" {
		t.Fatalf("over max conns: %q", got)
	}
}

// TestTCPSlotsFreedBeforeFIN: a connection whose reply is complete (an
// error line, or output) holds no place of --max-conns or of its
// address's --max-requests-per-peer while the server waits for its
// client's FIN, and neither does a connection refused for its address's
// cap. Both held them for the whole drain (up to 5 s): with --max-conns 1
// a client that had read its error line and its EOF and opened the next
// connection was refused "too many connections" (2 runs in 200 of
// sequential `nc -N` with a bad pipeline), and one address past its own
// cap filled --max-conns for every other address with the connections it
// was refused, which is what the cap is there to prevent.
func TestTCPSlotsFreedBeforeFIN(t *testing.T) {
	// readReply reads c's reply up to the server's FIN, without closing
	// c's own side: the server is then waiting for c's FIN.
	readReply := func(t *testing.T, c net.Conn) string {
		t.Helper()
		reply, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("reading reply: %v", err)
		}
		return string(reply)
	}
	t.Run("after an error line", func(t *testing.T) {
		env := startEnv(t, envConfig{tcp: tcpSettings{MaxConns: 1, drainTimeout: 10 * defaultTestTimeout}})
		c := tcpFrom(t, env.tcpAddr, "127.0.0.1")
		io.WriteString(c, "frob\n")
		if got := readReply(t, c); !strings.Contains(got, `unknown command "frob"`) {
			t.Fatalf("bad pipeline: %q", got)
		}
		if got := tcpCall(t, env.tcpAddr, "wc -c\n", []byte("abc")); got != "3\n" {
			t.Fatalf("the next connection, the first still open (no FIN yet): %q", got)
		}
	})
	t.Run("refused for its address", func(t *testing.T) {
		env := startEnv(t, envConfig{peerRequests: NewPeerCap(1), tcp: tcpSettings{MaxConns: 2, drainTimeout: 10 * defaultTestTimeout}})
		held := tcpFrom(t, env.tcpAddr, "127.0.0.1")
		io.WriteString(held, "wc -c\n")
		env.obs.waitStarted(t)
		extra := tcpFrom(t, env.tcpAddr, "127.0.0.1")
		const refused = "halfclose: error: RESOURCE_EXHAUSTED: too many open requests from this address: limit 1\n"
		if got := readReply(t, extra); got != refused {
			t.Fatalf("127.0.0.1's second connection: %q, want %q", got, refused)
		}
		other := tcpFrom(t, env.tcpAddr, "127.0.0.2")
		io.WriteString(other, "wc -c\nabcd")
		other.CloseWrite()
		if got := readReply(t, other); got != "4\n" {
			t.Fatalf("127.0.0.2, with 127.0.0.1 at its cap (its refused connection still open): %q", got)
		}
		io.WriteString(held, "ab")
		held.CloseWrite()
		if got := readReply(t, held); got != "2\n" {
			t.Fatalf("the held job: %q", got)
		}
	})
}

func TestTCPShutdownLetsJobsFinish(t *testing.T) {
	env := startEnv(t, envConfig{})
	conn, err := net.Dial("tcp", env.tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "sha256sum\nfirst half ")
	env.obs.waitStarted(t)
	shut := make(chan error, 1)
	go func() { shut <- env.tcp.Shutdown(jobCtx(t)) }()
	// New connections are refused once the listener is closed, which
	// Shutdown does first (in its goroutine: wait for the close).
	waitListenerClosed(t, env.tcpLn)
	if c, err := net.Dial("tcp", env.tcpAddr); err == nil {
		c.Close()
		t.Fatal("the listener still accepts after Shutdown closed it")
	}
	fmt.Fprintf(conn, "second half")
	conn.(*net.TCPConn).CloseWrite()
	reply, _ := io.ReadAll(conn)
	if want := oracle.Output(t, []byte("first half second half"), "sha256sum"); string(reply) != want {
		t.Fatalf("in-flight job: %q, want %q", reply, want)
	}
	if err := testenv.Recv(t, hangTimeout, "Shutdown's return", shut); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// waitListenerClosed waits until l's socket is closed.
func waitListenerClosed(t *testing.T, l *GentleListener) {
	t.Helper()
	timeout := time.After(defaultTestTimeout)
	for {
		l.mu.Lock()
		closed, changed := l.closed, l.changed
		l.mu.Unlock()
		if closed {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("the listener is still open %v into Shutdown", defaultTestTimeout)
		}
	}
}

func TestTCPShutdownGraceExpires(t *testing.T) {
	env := startEnv(t, envConfig{})
	conn, err := net.Dial("tcp", env.tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "sha256sum\nnever finished")
	env.obs.waitStarted(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := env.tcp.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	conn.SetReadDeadline(time.Now().Add(defaultTestTimeout))
	reply, _ := io.ReadAll(conn)
	if string(reply) != "halfclose: error: UNAVAILABLE: server is shutting down\n" {
		t.Fatalf("cancelled job replied %q", reply)
	}
}

// A route's pipeline is compiled once and run by every connection of the
// port: its stages must hold no per-job state. Concurrent connections (under
// -race) each get the answer GNU gives for their own input.
func TestTCPRouteSharedPipeline(t *testing.T) {
	const route = "sort | uniq -c | tr a-z A-Z | cut -c1-12 | grep -v QQ | tac | head -n 50 | base64 | sha256sum"
	env := startEnv(t, envConfig{routes: []string{route}})
	inputs := make([][]byte, 6)
	wants := make([]string, len(inputs))
	for i := range inputs {
		var b strings.Builder
		for j, w := range strings.Fields(string(randBytes(uint64(i), 3000))) {
			fmt.Fprintf(&b, "%x %d\n", w, j%7)
		}
		inputs[i] = []byte(b.String())
		wants[i] = oracle.Output(t, inputs[i], "sh", "-c", "LC_ALL=C "+strings.ReplaceAll(route, "sort", "LC_ALL=C sort"))
	}
	got := make([]string, len(inputs))
	var wg sync.WaitGroup
	for i := range inputs {
		wg.Go(func() { got[i] = tcpCall(t, env.routes[route], "", inputs[i]) })
	}
	wg.Wait()
	for i := range inputs {
		if got[i] != wants[i] {
			t.Errorf("connection %d: %q, want %q", i, got[i], wants[i])
		}
	}
}

// TestTCPHeaderTooLongWithoutNewline: a header line that passes
// --max-header-bytes without a newline is refused with its error line as
// soon as the extra byte arrives, while the client waits: the server
// waited to fill its 64 KiB reader (or the client's FIN) and, for a
// client that then waited for an answer, aborted silently at the header
// timeout.
func TestTCPHeaderTooLongWithoutNewline(t *testing.T) {
	env := startEnv(t, envConfig{tcp: tcpSettings{MaxHeaderBytes: 100, HeaderTimeout: time.Hour}})
	for _, n := range []int{101, 5000} {
		conn, err := net.Dial("tcp", env.tcpAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(defaultTestTimeout))
		if _, err := conn.Write(bytes.Repeat([]byte("x"), n)); err != nil {
			t.Fatal(err)
		}
		// No FIN: the client waits for an answer.
		reply, _ := io.ReadAll(conn)
		if want := "halfclose: error: INVALID_ARGUMENT: header line longer than 100 bytes\n"; string(reply) != want {
			t.Fatalf("%d bytes without a newline: reply %q, want %q", n, reply, want)
		}
	}
	// At the limit, the line may still end: a line of 100 bytes with its
	// newline is a header.
	if got, want := tcpCall(t, env.tcpAddr, "sha256sum"+strings.Repeat(" ", 90)+"\n", []byte("x")), oracle.Output(t, []byte("x"), "sha256sum"); got != want {
		t.Fatalf("a header line of exactly 100 bytes: %q, want %q", got, want)
	}
}

// TestIdleEmptyMessages: --idle-timeout counts input bytes, not messages:
// a client that keeps sending empty data or text messages (or messages
// with no field) sends no input and is aborted as idle, as one that sends
// nothing is; it does not hold its job slot for as long as it likes.
func TestIdleEmptyMessages(t *testing.T) {
	const idle = 200 * time.Millisecond
	for _, c := range []struct {
		name  string
		msg   *apiv1.RunRequest
		after bool // after some input, or from the start
	}{
		{"empty data", runData([]byte{}), false},
		{"empty text", &apiv1.RunRequest{Message: &apiv1.RunRequest_Text{Text: ""}}, false},
		{"no field", &apiv1.RunRequest{}, false},
		{"empty data after input", runData([]byte{}), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := startEnv(t, envConfig{idle: idle})
			// No deadline (the server would take it for the idle timeout):
			// the call is cancelled if the server never ends it.
			ctx, cancel := context.WithCancel(context.Background())
			defer time.AfterFunc(defaultTestTimeout, cancel).Stop()
			defer cancel()
			stream, err := env.client.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			stream.Send(runHeader("testcat"))
			if c.after {
				stream.Send(runData([]byte("partial"))) // the input flows, then stalls
			}
			// An empty message every idle/10, until the server ends the
			// stream.
			for stream.Send(c.msg) == nil {
				time.Sleep(idle / 10) // the client's pace, not a synchronisation
			}
			// The message is grpc-go's when the server stopped a blocked
			// receive (docs/operations.md); the job's outcome says why.
			if out, _, err := collectRun(stream); status.Code(err) != codes.DeadlineExceeded || len(out) != 0 {
				t.Fatalf("err = %v, %d bytes; want DeadlineExceeded and nothing", err, len(out))
			}
			if oc := env.obs.nextOutcome(t); oc != "idle" {
				t.Fatalf("outcome %q, want idle", oc)
			}
		})
	}
}
