package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/client"
	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/internal/testenv"
)

// fillCommand is a test-only command: after its input ends it writes
// fillBytes bytes, more than socket buffers hold, so a client that does not
// read keeps the job writing.
const (
	fillCommand = "halfclosed-test-fill"
	fillBytes   = 64 << 20
)

// addTestCommands adds the test-only commands to r.
func addTestCommands(r *compute.Registry) {
	r.Register(&compute.Command{
		Name:    fillCommand,
		Summary: "test only: write 64 MiB after the input",
		Build: func(*compute.Env, []string) (compute.Stage, error) {
			return compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
				if _, err := io.Copy(io.Discard, in); err != nil {
					return err
				}
				buf := make([]byte, 1<<20)
				for range fillBytes / len(buf) {
					if _, err := out.Write(buf); err != nil {
						return err
					}
				}
				return nil
			}), nil
		},
	})
}

// TestDrain: SIGTERM with jobs in flight on both adapters, and the default
// --drain-delay of 0. Readiness and health turn NOT_SERVING, the listeners
// close (new jobs cannot reach the server: refused connections, GOAWAY),
// and the running jobs finish with their correct results.
func TestDrain(t *testing.T) {
	d := startDaemon(t, "--shutdown-grace=30s")
	cc := rawGRPC(t, d.grpcAddr(), nil)
	api := apiv1.NewComputeServiceClient(cc)

	watchCtx, endWatch := context.WithCancel(testCtx(t))
	defer endWatch()
	watch, watchName := watchHealth(t, watchCtx, cc)
	for _, addr := range []string{d.httpAddr(), d.healthAddr()} {
		if code := httpStatus(t, addr, "/readyz"); code != http.StatusOK {
			t.Fatalf("/readyz on %s before the drain: %d", addr, code)
		}
	}

	a1, a2 := randomBytes(t, 100<<10), randomBytes(t, 200<<10)
	finishGRPC := holdGRPC(t, api, a1)
	b1, b2 := randomBytes(t, 100<<10), randomBytes(t, 200<<10)
	heldTCP := holdTCP(t, d.tcpAddr(), "sha256sum\n", b1)
	waitMetric(t, d.httpAddr(), "halfclose_jobs_in_flight", nil, 2)

	d.stop() // SIGTERM

	wantNotServing(t, watch, watchName)
	// The client ends its watches here; the drain would end them too
	// (TestDrainEndsWatches).
	endWatch()

	// New jobs cannot reach the server: the listeners close, and the
	// old gRPC connection gets GOAWAY.
	waitRefused(t, d.tcpAddr())
	waitRefused(t, d.grpcAddr())
	_, err := digest(t, grpcClient(t, d.grpcAddr()), []byte("late"))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("new gRPC job during the drain: %v", err)
	}
	waitGoAway(t, cc)
	if err := lateDigest(t, api); status.Code(err) != codes.Unavailable {
		t.Fatalf("new gRPC job on the old connection after its GOAWAY: %v", err)
	}

	// The running jobs finish, with their results.
	finishInFlight(t, d, finishGRPC, heldTCP, a1, a2, b1, b2)
}

// TestDrainEndsWatches: health Watch and reflection streams, which run no
// job and last as long as their clients like, do not hold the drain: the
// watches see NOT_SERVING, then end with UNAVAILABLE "server is shutting
// down", the reflection stream ends, and the server stops at once, well
// within its hour of grace. They held it to the end of the grace (and one
// second more), after which the forced stop cut them ("shutdown grace
// over; cancelling running gRPC jobs" with no job running).
func TestDrainEndsWatches(t *testing.T) {
	d := startDaemon(t, "--shutdown-grace=1h")
	cc := rawGRPC(t, d.grpcAddr(), nil)
	watch, watchName := watchHealth(t, testCtx(t), cc)
	rs, err := rpb.NewServerReflectionClient(cc).ServerReflectionInfo(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	rs.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}})
	if _, err := rs.Recv(); err != nil {
		t.Fatal(err)
	}

	d.stop() // SIGTERM
	wantNotServing(t, watch, watchName)
	for _, w := range []healthpb.Health_WatchClient{watch, watchName} {
		if hr, err := w.Recv(); status.Code(err) != codes.Unavailable || status.Convert(err).Message() != "server is shutting down" {
			t.Errorf("watch after NOT_SERVING: %v, %v; want UNAVAILABLE server is shutting down", hr, err)
		}
	}
	if _, err := rs.Recv(); err == nil {
		t.Error("the reflection stream is still open")
	}
	if err := d.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	wantCleanStop(t, d)
}

// TestDrainDelay: during --drain-delay readiness and health say
// NOT_SERVING, and yet every job is served as before, on old connections
// and new ones, on both adapters; liveness stays OK. When the delay ends,
// the listeners close and the jobs in flight finish.
func TestDrainDelay(t *testing.T) {
	// An hour: the test ends the delay itself, when it has checked what
	// happens during it.
	d := startDaemon(t, "--drain-delay=1h")
	cc := rawGRPC(t, d.grpcAddr(), nil)
	api := apiv1.NewComputeServiceClient(cc)
	watchCtx, endWatch := context.WithCancel(testCtx(t))
	defer endWatch()
	watch, watchName := watchHealth(t, watchCtx, cc)
	a1, a2 := randomBytes(t, 100<<10), randomBytes(t, 200<<10)
	finishGRPC := holdGRPC(t, api, a1)
	b1, b2 := randomBytes(t, 100<<10), randomBytes(t, 200<<10)
	heldTCP := holdTCP(t, d.tcpAddr(), "sha256sum\n", b1)
	waitMetric(t, d.httpAddr(), "halfclose_jobs_in_flight", nil, 2)

	d.stop() // SIGTERM
	wantNotServing(t, watch, watchName)
	for _, addr := range []string{d.httpAddr(), d.healthAddr()} {
		if code := httpStatus(t, addr, "/readyz"); code != http.StatusServiceUnavailable {
			t.Errorf("/readyz on %s during the drain delay: %d, want 503", addr, code)
		}
		if code := httpStatus(t, addr, "/healthz"); code != http.StatusOK {
			t.Errorf("/healthz on %s during the drain delay: %d, want 200 (the process is alive)", addr, code)
		}
	}
	// Still serving: a new connection, the old one, the TCP port.
	in := randomBytes(t, 50<<10)
	if got, err := digest(t, grpcClient(t, d.grpcAddr()), in); err != nil || got != sha256Hex(in) {
		t.Fatalf("new gRPC connection during the drain delay: %q, %v", got, err)
	}
	if got, err := digest(t, client.New(cc), in); err != nil || got != sha256Hex(in) {
		t.Fatalf("old gRPC connection during the drain delay: %q, %v", got, err)
	}
	if reply, err := tcpJob(t, d.tcpAddr(), nil, "sha256sum\n", in); err != nil || reply != sha256Line(in) {
		t.Fatalf("TCP job during the drain delay: %q, %v", reply, err)
	}
	endWatch()

	close(d.endDrainDelay)
	waitRefused(t, d.tcpAddr())
	waitRefused(t, d.grpcAddr())
	finishInFlight(t, d, finishGRPC, heldTCP, a1, a2, b1, b2)
	if !strings.Contains(d.logs.String(), `"drain_delay":3600000000000`) {
		t.Errorf("the shutdown line does not give the drain delay:\n%s", d.logs)
	}
}

// watchHealth opens Health/Watch streams for the server ("") and for the
// ComputeService by name, and checks both start SERVING.
func watchHealth(t *testing.T, ctx context.Context, cc *grpc.ClientConn) (server, byName healthpb.Health_WatchClient) {
	t.Helper()
	for _, svc := range []string{"", "halfclose.v1.ComputeService"} {
		w, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			t.Fatal(err)
		}
		if hr, err := w.Recv(); err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health of %q before the drain: %v, %v", svc, hr, err)
		}
		if svc == "" {
			server = w
		} else {
			byName = w
		}
	}
	return server, byName
}

// wantNotServing waits for the watches to report NOT_SERVING.
func wantNotServing(t *testing.T, watches ...healthpb.Health_WatchClient) {
	t.Helper()
	for _, w := range watches {
		if hr, err := w.Recv(); err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("health during the drain: %v, %v", hr, err)
		}
	}
}

// waitGoAway waits until cc has left its connection (the server's GOAWAY
// arrived), so that its next call needs a new one.
func waitGoAway(t *testing.T, cc *grpc.ClientConn) {
	t.Helper()
	ctx := testCtx(t)
	for cc.GetState() == connectivity.Ready {
		if !cc.WaitForStateChange(ctx, connectivity.Ready) {
			t.Fatal("the gRPC connection is still ready: no GOAWAY")
		}
	}
}

// finishInFlight sends the rest of the two jobs held across the drain (a
// gRPC Digest, a TCP sha256sum), checks that each gives the result for its
// whole input, then that the daemon stops cleanly.
func finishInFlight(t *testing.T, d *testDaemon, finishGRPC func([]byte) (*apiv1.DigestResponse, error), heldTCP net.Conn, a1, a2, b1, b2 []byte) {
	t.Helper()
	resp, err := finishGRPC(a2)
	if err != nil || resp.GetDigests()[0].GetHex() != sha256Hex(append(a1, a2...)) {
		t.Fatalf("gRPC job in flight: %v, %v", resp, err)
	}
	reply, err := finishTCP(t, heldTCP, b2)
	if err != nil || reply != sha256Line(append(b1, b2...)) {
		t.Fatalf("TCP job in flight: %q, %v", reply, err)
	}
	if err := d.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	wantCleanStop(t, d)
}

// wantCleanStop checks the log of a drain that ended within its grace,
// with no job refused or cut.
func wantCleanStop(t *testing.T, d *testDaemon) {
	t.Helper()
	logs := d.logs.String()
	if !strings.Contains(logs, `"msg":"stopped"`) || strings.Contains(logs, "grace over") {
		t.Errorf("want a clean stop within the grace:\n%s", logs)
	}
	if strings.Contains(logs, `"outcome":"unavailable"`) {
		t.Errorf("a job was refused or cut by the drain:\n%s", logs)
	}
}

// TestDrainGraceOver: jobs still running when --shutdown-grace ends are
// cancelled with an error and never give a result, whether they were still
// reading input or already writing output.
func TestDrainGraceOver(t *testing.T) {
	d := startDaemon(t, "--shutdown-grace=200ms")
	api := apiv1.NewComputeServiceClient(rawGRPC(t, d.grpcAddr(), nil))

	stuckGRPC := holdGRPC(t, api, []byte("never finished"))
	stuckTCP := holdTCP(t, d.tcpAddr(), "sha256sum\n", []byte("never finished"))
	// A job whose client does not read its reply: output has started.
	notReading := holdTCP(t, d.tcpAddr(), fillCommand+"\n", nil)
	notReading.(*net.TCPConn).CloseWrite()
	if _, err := io.ReadFull(notReading, make([]byte, 1)); err != nil {
		t.Fatalf("fill job: %v", err)
	}
	// And a gRPC Run whose client reads none of its output past the first
	// message: its status cannot overtake the output it has not read, and
	// it must not hold the shutdown.
	notReadingRun, err := api.Run(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := notReadingRun.Send(&apiv1.RunRequest{Message: &apiv1.RunRequest_Header{Header: &apiv1.RunHeader{Pipeline: fillCommand}}}); err != nil {
		t.Fatal(err)
	}
	notReadingRun.CloseSend()
	if _, err := notReadingRun.Recv(); err != nil {
		t.Fatalf("fill job over gRPC: %v", err)
	}
	waitMetric(t, d.httpAddr(), "halfclose_jobs_in_flight", nil, 4)

	// The stuck TCP client reads its reply, then half-closes as a client
	// does, so the server's drain of the connection ends at once.
	stuckLine := make(chan string, 1)
	go func() {
		line, err := bufio.NewReader(stuckTCP).ReadString('\n')
		stuckTCP.(*net.TCPConn).CloseWrite()
		if err != nil {
			line += " (" + err.Error() + ")"
		}
		stuckLine <- line
	}()

	d.stop()
	if err := d.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !strings.Contains(d.logs.String(), "grace over") {
		t.Errorf("no log of the cancellation:\n%s", d.logs)
	}

	if resp, err := stuckGRPC(nil); err == nil {
		t.Fatalf("stuck gRPC job got a result: %v", resp)
	} else if st := status.Convert(err); st.Code() != codes.Unavailable || st.Message() != "server is shutting down" {
		// A closed connection is UNAVAILABLE too, but says nothing of why:
		// the status must reach the client before the connection closes.
		t.Fatalf("stuck gRPC job: %v; want UNAVAILABLE server is shutting down", err)
	}
	if line := testenv.Recv(t, hangTimeout, "the stuck TCP job's error line", stuckLine); line != errorLine("UNAVAILABLE", "server is shutting down") {
		t.Fatalf("stuck TCP job: %q", line)
	}
	for {
		m, err := notReadingRun.Recv()
		if err != nil {
			if err == io.EOF {
				t.Fatal("gRPC fill job cancelled while writing: the stream ended OK")
			}
			break
		}
		if m.GetSummary() != nil {
			t.Fatalf("gRPC fill job cancelled while writing: a summary: %v", m)
		}
	}
	n, err := io.Copy(io.Discard, notReading)
	if err == nil || n >= fillBytes {
		t.Fatalf("TCP job cancelled while writing: read %d bytes, err %v; want a reset before the end", n, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("TCP job cancelled while writing: the server never reset: %v", err)
	}
}

// TestDrainGraceOverBeforeData: calls that --shutdown-grace's end finds
// before their first data message get the documented UNAVAILABLE "server
// is shutting down" (a gRPC client with no retry policy, as grpcurl), never
// a result: a Run whose job waits for its first data, a Digest waiting
// for the only --max-jobs slot, and a Run whose header has not come. The
// two whose job waited in a receive saw the connection closed under them
// (statusFlushWait later): UNAVAILABLE with grpc-go's words for a
// dropped connection and nothing of why.
func TestDrainGraceOverBeforeData(t *testing.T) {
	// The Digest waits for its slot until the grace's end: with the
	// default --job-wait (2 s) its wait ran out first under load (make
	// test: refused RESOURCE_EXHAUSTED 70 ms before the grace was over,
	// 1 run in 20 with the server's tests beside it).
	d := startDaemon(t, "--shutdown-grace=200ms", "--max-jobs=1", "--job-wait=1h")
	api := apiv1.NewComputeServiceClient(rawGRPC(t, d.grpcAddr(), nil))
	started := map[string]string{"grpc_method": "Run"}

	noData, err := api.Run(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := noData.Send(&apiv1.RunRequest{Message: &apiv1.RunRequest_Header{Header: &apiv1.RunHeader{Pipeline: "wc -c"}}}); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, d.httpAddr(), "halfclose_jobs_in_flight", nil, 1)
	slot, err := api.Digest(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := slot.Send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Header{Header: &apiv1.DigestHeader{Algorithms: sha256Algo}}}); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, d.httpAddr(), "halfclose_jobs_waiting", nil, 1)
	noHeader, err := api.Run(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	waitMetric(t, d.httpAddr(), "grpc_server_started_total", started, 2)

	d.stop()
	if err := d.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := func(what string, err error) {
		t.Helper()
		if st := status.Convert(err); st.Code() != codes.Unavailable || st.Message() != "server is shutting down" {
			t.Errorf("%s at the grace's end: %v; want UNAVAILABLE server is shutting down", what, err)
		}
	}
	for what, s := range map[string]apiv1.ComputeService_RunClient{"Run waiting for its first data": noData, "Run waiting for its header": noHeader} {
		m, err := s.Recv()
		if err == nil {
			t.Errorf("%s at the grace's end: a reply %v", what, m)
			continue
		}
		want(what, err)
	}
	var resp apiv1.DigestResponse
	if err := slot.RecvMsg(&resp); err == nil {
		t.Errorf("Digest waiting for a slot at the grace's end: a result %v", &resp)
	} else {
		want("Digest waiting for a slot", err)
	}
}

// lateDigest tries a Digest job on a connection of a draining server.
func lateDigest(t *testing.T, api apiv1.ComputeServiceClient) error {
	stream, err := api.Digest(testCtx(t))
	if err != nil {
		return err
	}
	stream.Send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Header{Header: &apiv1.DigestHeader{Algorithms: sha256Algo}}})
	_, err = stream.CloseAndRecv()
	return err
}

// waitRefused dials addr until the connection is refused.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(defaultTestTimeout)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepts connections", addr)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
