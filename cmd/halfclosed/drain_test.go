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

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute"
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

// TestDrain: SIGTERM with jobs in flight on both adapters. Readiness and
// health turn NOT_SERVING, the listeners close, new jobs are refused, and
// the running jobs finish with their correct results.
func TestDrain(t *testing.T) {
	d := startDaemon(t, "--shutdown-grace=30s")
	cc := rawGRPC(t, d.grpcAddr(), nil)
	api := apiv1.NewComputeServiceClient(cc)

	watchCtx, endWatch := context.WithCancel(testCtx(t))
	defer endWatch()
	watch, err := healthpb.NewHealthClient(cc).Watch(watchCtx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if hr, err := watch.Recv(); err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health before the drain: %v, %v", hr, err)
	}
	// Health is served for the service by name too, and drains with it.
	watchName, err := healthpb.NewHealthClient(cc).Watch(watchCtx, &healthpb.HealthCheckRequest{Service: "halfclose.v1.ComputeService"})
	if err != nil {
		t.Fatal(err)
	}
	if hr, err := watchName.Recv(); err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health of halfclose.v1.ComputeService before the drain: %v, %v", hr, err)
	}
	if code := httpStatus(t, d.httpAddr(), "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz before the drain: %d", code)
	}

	a1, a2 := randomBytes(t, 100<<10), randomBytes(t, 200<<10)
	finishGRPC := holdGRPC(t, api, a1)
	b1, b2 := randomBytes(t, 100<<10), randomBytes(t, 200<<10)
	heldTCP := holdTCP(t, d.tcpAddr(), "sha256sum\n", b1)
	waitMetric(t, d.httpAddr(), "halfclose_jobs_in_flight", nil, 2)

	d.stop() // SIGTERM

	hr, err := watch.Recv()
	if err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health during the drain: %v, %v", hr, err)
	}
	if hr, err := watchName.Recv(); err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health of halfclose.v1.ComputeService during the drain: %v, %v", hr, err)
	}
	if code := httpStatus(t, d.httpAddr(), "/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz during the drain: %d", code)
	}
	// A watch is a running call too: end it, or the drain waits for it.
	endWatch()

	// New jobs are refused: the TCP listener closes, and gRPC calls get
	// UNAVAILABLE on the old connection as on a new one.
	waitRefused(t, d.tcpAddr())
	_, err = digest(t, grpcClient(t, d.grpcAddr()), []byte("late"))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("new gRPC job during the drain: %v", err)
	}
	if err := lateDigest(t, api); status.Code(err) != codes.Unavailable {
		t.Fatalf("new gRPC job on the old connection: %v", err)
	}

	// The running jobs finish, with their results.
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
	if !strings.Contains(d.logs.String(), `"msg":"stopped"`) || strings.Contains(d.logs.String(), "grace over") {
		t.Errorf("want a clean stop within the grace:\n%s", d.logs)
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
	waitMetric(t, d.httpAddr(), "halfclose_jobs_in_flight", nil, 3)

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
	} else if c := status.Code(err); c != codes.Unavailable {
		t.Fatalf("stuck gRPC job: %v", err)
	}
	if line := <-stuckLine; line != errorLine("UNAVAILABLE", "server is shutting down") {
		t.Fatalf("stuck TCP job: %q", line)
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
