//go:build fleet && linux

package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// checkExampleAborts: the example clients (Python's grpcio, Node's
// grpc-js) abort mid-upload through the proxy, as their users abort them:
// Ctrl-C of `producer | client` (SIGINT, and at once the EOF of the dead
// producer), SIGINT while the client waits for more input (its input
// still open: grpc-js's cancel then sends END_STREAM before RST_STREAM,
// and nginx passes the END_STREAM on), and SIGKILL (a crash: the client's
// connection closes with no RST_STREAM; HAProxy then ends the upstream
// stream, often inside a message). The clients prove their end
// (require_end, End), so every such job must end as an abort on the
// replica, never ok, and the client must print nothing and fail.
func (f *fleet) checkExampleAborts(t *testing.T, p *proxy) {
	aborted := func(oc string) bool { return oc == "aborted" || oc == "reset" || oc == "canceled" }
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	cases := []struct {
		name  string
		sig   syscall.Signal
		flood bool // abortAfter bytes sent; else 4 KiB, and the client waits for more
		eof   bool // the input ends right after the signal (the producer died too)
	}{
		{"Ctrl-C of a pipeline", syscall.SIGINT, true, true},
		{"Ctrl-C waiting for input", syscall.SIGINT, false, false},
		{"Ctrl-C then EOF, waiting", syscall.SIGINT, false, true},
		{"SIGKILL", syscall.SIGKILL, true, true},
	}
	for _, lang := range exampleLangs {
		t.Run(lang, func(t *testing.T) {
			client := exampleClient(t, lang)
			for _, c := range cases {
				for _, args := range [][]string{{"digest"}, {"run", "wc -c"}} {
					method := map[string]string{"digest": "Digest", "run": "Run"}[args[0]]
					what := fmt.Sprintf("%s %v through %s, %s", lang, args, p.name, c.name)
					before := f.outcomes()
					received := f.received(t, method)
					argv := append(append(client, "--addr", p.grpc), args...)
					cmd := exec.Command(argv[0], argv[1:]...)
					cmd.Env = cleanEnv()
					in, err := cmd.StdinPipe()
					if err != nil {
						t.Fatal(err)
					}
					var stdout, stderr bytes.Buffer
					cmd.Stdout, cmd.Stderr = &stdout, &stderr
					if err := cmd.Start(); err != nil {
						t.Fatal(err)
					}
					exited := make(chan error, 1)
					go func() { exited <- cmd.Wait() }()
					if c.flood {
						// Once abortAfter bytes went into the pipe, the
						// client has sent all but what the buffers on the
						// way hold: a replica's job is running.
						for sent := 0; sent < abortAfter; sent += len(chunk) {
							if _, err := in.Write(chunk); err != nil {
								cmd.Process.Kill()
								t.Fatalf("%s: the client stopped reading after %d bytes: %v; stderr %q", what, sent, <-exited, stderr.Bytes())
							}
						}
					} else {
						if _, err := in.Write(chunk[:4096]); err != nil {
							t.Fatal(err)
						}
						// The replica has the header and the data.
						deadline := time.Now().Add(defaultTestTimeout)
						for f.received(t, method) < received+2 {
							if time.Now().After(deadline) {
								cmd.Process.Kill()
								t.Fatalf("%s: the replicas did not receive the header and data within %v; client: %v, stderr %q", what, defaultTestTimeout, <-exited, stderr.Bytes())
							}
							time.Sleep(10 * time.Millisecond) // polling the metrics, not synchronisation
						}
					}
					cmd.Process.Signal(c.sig)
					if c.eof {
						in.Close()
					}
					var werr error
					select {
					case werr = <-exited:
					case <-time.After(defaultTestTimeout):
						cmd.Process.Kill()
						<-exited
						t.Fatalf("%s: no exit within %v", what, defaultTestTimeout)
					}
					in.Close()
					var ee *exec.ExitError
					if !errors.As(werr, &ee) {
						t.Fatalf("%s: %v", what, werr)
					}
					ws, _ := ee.Sys().(syscall.WaitStatus)
					ok := ws.Signaled() && ws.Signal() == syscall.SIGKILL
					if c.sig == syscall.SIGINT {
						ok = ee.ExitCode() == 130 && bytes.Contains(stderr.Bytes(), []byte("interrupted"))
					}
					if !ok || stdout.Len() != 0 {
						t.Errorf("%s: %v, stdout %q, stderr %q; want no output and an abort", what, werr, stdout.Bytes(), stderr.Bytes())
					}
					oc := f.nextOutcome(t, before)
					t.Logf("%s: replica's job outcome %q", what, oc)
					if !aborted(oc) {
						t.Errorf("%s: replica's job outcome %q, want an abort", what, oc)
					}
				}
			}
		})
	}
}

// received sums the replicas' grpc_server_msg_received_total for method.
func (f *fleet) received(t *testing.T, method string) float64 {
	t.Helper()
	sum := 0.0
	for _, r := range f.replicas {
		sum += metric(t, r.metrics, "grpc_server_msg_received_total", method)
	}
	return sum
}
