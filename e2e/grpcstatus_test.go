package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// stalledRun runs argv with stdin a pipe that gets stdin's bytes and is
// then held open, empty: its input stalls after them. With then, once it
// returns, the pipe gets late and is closed (a client that reads its
// input to the end before it looks at the call); without, the pipe is
// held until the command exits. It returns the command's stdout, stderr
// and error.
func stalledRun(t *testing.T, stdin string, then func(), late string, env []string, argv ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if _, err := io.WriteString(pw, stdin); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdin = pr
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if then != nil {
		then()
		io.WriteString(pw, late)
		pw.Close()
	}
	err = cmd.Wait()
	return out.Bytes(), errb.Bytes(), err
}

// idleCall waits for the record of a call of method, beyond the first
// skip, that the server's timeout ended.
func (d *daemon) idleCall(t *testing.T, method string, skip int) {
	t.Helper()
	d.waitRecord(t, func() []map[string]any { return d.calls(method) }, skip, func(c map[string]any) bool {
		return c["grpc.code"] == "DeadlineExceeded"
	})
}

// TestTimeoutStatusReachesClients: a gRPC call that the server's
// --header-timeout or --idle-timeout stops while it waits on its client
// (no header, no first data, a pause between data messages, a reply not
// read) gets DEADLINE_EXCEEDED with the server's words, in the halfclose
// CLI, grpcurl and grpcio alike. Each once got grpc-go's bare "context
// deadline exceeded" (the CLI made it "the server's --idle-timeout ended
// the call: ..."), but for the pause between messages.
func TestTimeoutStatusReachesClients(t *testing.T) {
	// Each timeout is short only on the daemon whose cases test it: a
	// header that comes late on a busy machine would end an idle case
	// with the header's message. hd: the header timeout's; d: the idle
	// timeout's.
	hd := launch(t, "--header-timeout", "300ms", "--idle-timeout", "1m")
	d := launch(t, "--header-timeout", "1m", "--idle-timeout", "300ms")
	const (
		noHeader = "header timeout: no header message within 300ms"
		noInput  = "no input for 300ms (idle timeout)"
		notRead  = "the reply was not read for 300ms (idle timeout)"
	)

	t.Run("cli", func(t *testing.T) {
		for _, c := range []struct{ name, stdin string }{{"no data", ""}, {"between messages", "some input\n"}} {
			out, stderr, err := stalledRun(t, c.stdin, nil, "", nil, bin(t, "halfclose"), "--addr", d.GRPC, "sort")
			want := "halfclose: DEADLINE_EXCEEDED: " + noInput + "\n"
			if err == nil || len(out) != 0 || string(stderr) != want {
				t.Errorf("%s: %v, stdout %q, stderr %q; want %q", c.name, err, out, stderr, want)
			}
		}
	})

	t.Run("cli reply not read", func(t *testing.T) {
		// 48 MiB of output from 48 KiB of input: far over what the
		// client's stream window (grpc-go grows it to 16 MiB at most),
		// the server's write quota and the sockets hold.
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(make([]byte, 48<<20))
		zw.Close()
		in := writeFile(t, t.TempDir(), "zeros.gz", gz.Bytes())
		before := len(d.calls("Run"))
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer pr.Close()
		ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin(t, "halfclose"), "--addr", d.GRPC, "gunzip", "-c")
		cmd.Env = cleanEnv()
		f, err := os.Open(in)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.Stdin = f
		cmd.Stdout = pw
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		// Its stdout is read only once the server has given up on it.
		d.idleCall(t, "Run", before)
		n, _ := io.Copy(io.Discard, pr)
		err = cmd.Wait()
		want := "halfclose: DEADLINE_EXCEEDED: " + notRead + "\n"
		if err == nil || n >= 48<<20 || stderr.String() != want {
			t.Errorf("%v after %d bytes of output, stderr %q; want %q", err, n, stderr.Bytes(), want)
		}
	})

	t.Run("grpcurl", func(t *testing.T) {
		for _, c := range []struct {
			name, stdin, want string
			d                 *daemon
		}{
			{"no header", "", noHeader, hd},
			{"no data", `{"header":{"algorithms":["ALGORITHM_SHA256"]}}` + "\n", noInput, d},
			{"between messages", `{"header":{"algorithms":["ALGORITHM_SHA256"]}}` + "\n" + `{"text":"some"}` + "\n", noInput, d},
		} {
			// grpcurl reads its input to the end before it looks at the
			// call: it sees the status when its next message finds the
			// stream ended.
			before := len(c.d.calls("Digest"))
			then := func() { c.d.idleCall(t, "Digest", before) }
			out, stderr, err := stalledRun(t, c.stdin, then, `{"text":"late"}`+"\n", nil, bin(t, "grpcurl"), "-plaintext", "-d", "@", c.d.GRPC, "halfclose.v1.ComputeService/Digest")
			want := "ERROR:\n  Code: DeadlineExceeded\n  Message: " + c.want + "\n"
			if err == nil || len(out) != 0 || string(stderr) != want {
				t.Errorf("%s: %v, stdout %q, stderr %q; want %q", c.name, err, out, stderr, want)
			}
		}
	})

	t.Run("grpcio", func(t *testing.T) {
		py, err := findPython()
		if err != nil {
			missing(t, "%v", err)
		}
		script := filepath.Join(t.TempDir(), "stalled.py")
		if err := os.WriteFile(script, []byte(stalledScript), 0o644); err != nil {
			t.Fatal(err)
		}
		out, stderr, err := stalledRun(t, "", nil, "", []string{"PYTHONPATH=" + filepath.Join(examplesDir(t), "python")}, py, script, hd.GRPC, d.GRPC)
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		var want strings.Builder
		for _, m := range []string{"Digest", "Run"} {
			for _, c := range []struct{ name, msg string }{{"no header", noHeader}, {"no data", noInput}, {"between messages", noInput}} {
				want.WriteString(m + " " + c.name + ": DEADLINE_EXCEEDED " + c.msg + "\n")
			}
		}
		if string(out) != want.String() {
			t.Errorf("grpcio's stalled calls:\n%s", diff(out, []byte(want.String())))
		}
	})
}

// stalledScript makes grpcio calls whose requests stop (after no message,
// the header, or the header and some data) until the call has ended, and
// prints each call's status: those without a header to the server at
// argv[1], the others to the one at argv[2].
const stalledScript = `
import sys
import threading
import grpc
from halfclose.v1 import compute_pb2 as pb, compute_pb2_grpc as pb_grpc

def stalled(msgs, ended):
    yield from msgs
    ended.wait()

with grpc.insecure_channel(sys.argv[1]) as hch, grpc.insecure_channel(sys.argv[2]) as ch:
    hstub, stub = pb_grpc.ComputeServiceStub(hch), pb_grpc.ComputeServiceStub(ch)
    for method in ("Digest", "Run"):
        if method == "Digest":
            head = pb.DigestRequest(header=pb.DigestHeader(algorithms=[pb.ALGORITHM_SHA256]))
            data = pb.DigestRequest(data=b"some")
            call = lambda st, reqs: st.Digest(reqs)
        else:
            head = pb.RunRequest(header=pb.RunHeader(pipeline="sort"))
            data = pb.RunRequest(data=b"some\n")
            call = lambda st, reqs: list(st.Run(reqs))
        for name, msgs in (("no header", []), ("no data", [head]), ("between messages", [head, data])):
            ended = threading.Event()
            try:
                call(stub if msgs else hstub, stalled(msgs, ended))
                print(method, name + ": a result")
            except grpc.RpcError as e:
                print(method, name + ":", e.code().name, e.details())
            finally:
                ended.set()
`
