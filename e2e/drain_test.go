package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/halfclose/halfclose/client"
)

// blockingReader gives n bytes, then blocks until release is closed and
// fails: an upload whose sender is still there but has not finished.
type blockingReader struct {
	n       int
	release chan struct{}
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if r.n > 0 {
		k := min(len(p), r.n)
		clear(p[:k])
		r.n -= k
		return k, nil
	}
	<-r.release
	return 0, io.ErrClosedPipe
}

// TestSIGTERMMidUpload: the real server gets SIGTERM while uploads are
// under way and their clients still sending (no FIN, no CloseSend); its
// grace (1 s) runs out before they end. Each gets the documented
// UNAVAILABLE "server is shutting down" — the raw-TCP error line (bare
// header and @size), the gRPC status (the Go client) — never a result
// over what had arrived, and the server exits 0. Whatever step a job had
// reached when the signal came (its header read or not, its connection
// accepted or still queued), the answer is the same, so the test needs no
// synchronisation with the server.
func TestSIGTERMMidUpload(t *testing.T) {
	d := launch(t, "--shutdown-grace", "1s", "--drain-delay", "0")
	const sent = 1 << 20
	line := "halfclose: error: UNAVAILABLE: server is shutting down\n"
	var wg sync.WaitGroup
	for _, header := range []string{"sha256sum\n", "wc -c\n", fmt.Sprintf("@size=%d sha256sum\n", 2*sent), "@chunked sha256sum\n"} {
		c, err := net.Dial("tcp", d.TCP)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(defaultTestTimeout))
		if header == "@chunked sha256sum\n" {
			header += fmt.Sprintf("%d\n", 2*sent)
		}
		if _, err := io.WriteString(c, header); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			c.Write(make([]byte, sent)) // returns once the server has read most of it, or fails at the end
		})
		wg.Go(func() {
			reply, _ := io.ReadAll(c)
			if string(reply) != line {
				t.Errorf("%q, input not ended, SIGTERM: reply %q, want %q", header, reply, line)
			}
		})
	}
	cl, err := client.Dial(d.GRPC)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	release := make(chan struct{})
	defer close(release)
	for _, pipeline := range []string{"sha256sum", "sort"} {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
			defer cancel()
			sum, err := cl.Run(ctx, pipeline, &blockingReader{n: sent, release: release}, io.Discard)
			if status.Code(err) != codes.Unavailable || sum != nil {
				t.Errorf("gRPC %s, input not ended, SIGTERM: summary %v, error %v; want UNAVAILABLE", pipeline, sum, err)
			}
		})
	}
	d.killed.Store(true)
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	select {
	case <-d.exited:
	case <-time.After(defaultTestTimeout):
		d.cmd.Process.Kill()
		<-d.exited
		t.Fatalf("halfclosed did not stop within %v of SIGTERM", defaultTestTimeout)
	}
	if d.err != nil {
		t.Fatalf("halfclosed exited with %v after SIGTERM\n%s", d.err, d.log.String())
	}
}

// TestSIGTERMGrpcurlWatch: grpcurl watching the server's health while it
// drains, with no job running. The watch shows NOT_SERVING, then ends with
// UNAVAILABLE "server is shutting down", and the server exits at once,
// not at the end of its hour of grace: the watch held the drain to the
// end of the grace (30 s by default), then was cut.
func TestSIGTERMGrpcurlWatch(t *testing.T) {
	d := launch(t, "--shutdown-grace", "1h", "--drain-delay", "0")
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin(t, "grpcurl"), "-plaintext", "-d", `{"service":"halfclose.v1.ComputeService"}`,
		d.GRPC, "grpc.health.v1.Health/Watch")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() && !strings.Contains(sc.Text(), `"SERVING"`) {
	}
	d.killed.Store(true)
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var rest strings.Builder
	for sc.Scan() {
		rest.WriteString(sc.Text() + "\n")
	}
	err = cmd.Wait()
	if !strings.Contains(rest.String(), `"NOT_SERVING"`) || err == nil ||
		!strings.Contains(stderr.String(), "Code: Unavailable") || !strings.Contains(stderr.String(), "Message: server is shutting down") {
		t.Errorf("grpcurl Health/Watch across SIGTERM: %v\nstdout after SERVING:\n%s\nstderr:\n%s", err, rest.String(), stderr.String())
	}
	select {
	case <-d.exited:
	case <-time.After(defaultTestTimeout):
		d.cmd.Process.Kill()
		<-d.exited
		t.Fatalf("halfclosed did not stop within %v of SIGTERM: the watch held the drain", defaultTestTimeout)
	}
	if d.err != nil {
		t.Fatalf("halfclosed exited with %v after SIGTERM\n%s", d.err, d.log.String())
	}
}
