package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestExampleStdinDirectory: a client whose stdin is a directory (`client
// digest - < dir`) has an input error, not an empty input: it exits
// non-zero and prints no result. Node's process.stdin is an empty stream
// for such a descriptor, and the Node client printed the digest of
// nothing, exit 0, as the server answered the empty upload.
func TestExampleStdinDirectory(t *testing.T) {
	g, tcp := startDaemon(t)
	dir := t.TempDir()
	for _, lang := range exampleLangs {
		t.Run(lang, func(t *testing.T) {
			client := exampleClient(t, lang)
			for _, args := range [][]string{{"digest", "-a", "sha256", "-"}, {"run", "sort"}} {
				got := run(t, "", dir, append(append(client, "--addr", g), args...)...)
				if got.code == 0 || len(got.stdout) != 0 {
					t.Errorf("%v < DIR: exit %d, stdout %q, stderr %q: want an error and no output", args, got.code, got.stdout, got.stderr)
				}
			}
		})
	}
	t.Run("cli", func(t *testing.T) {
		for _, args := range [][]string{{"sha256sum"}, {"sort"}, {"--tcp", "sha256sum"}} {
			got := run(t, "", dir, append([]string{bin(t, "halfclose"), "--addr", g, "--tcp-addr", tcp}, args...)...)
			if got.code == 0 || len(got.stdout) != 0 {
				t.Errorf("%v < DIR: exit %d, stdout %q, stderr %q: want an error and no output", args, got.code, got.stdout, got.stderr)
			}
		}
	})
}

// TestCLITCPProcFile: a file of /proc says its size is 0 and holds text.
// `halfclose --tcp` declared @size=0 for it and printed the digest of
// nothing, exit 0; it now reads it to its end, as the gRPC path and GNU do.
func TestCLITCPProcFile(t *testing.T) {
	const proc = "/proc/version" // stable between reads, unlike /proc/cpuinfo
	if _, err := os.Stat(proc); err != nil {
		t.Skipf("no %s: %v", proc, err)
	}
	g, tcp := startDaemon(t)
	want := run(t, "", proc, "sha256sum")
	wantOp := run(t, "", "", "sha256sum", proc)
	for _, transport := range [][]string{{"--addr", g}, {"--tcp", "--tcp-addr", tcp}} {
		cli := append([]string{bin(t, "halfclose")}, transport...)
		got := run(t, "", proc, append(cli, "sha256sum")...)
		if got.code != 0 || !bytes.Equal(got.stdout, want.stdout) {
			t.Errorf("%v sha256sum < %s: exit %d, stderr %q\n%s", transport, proc, got.code, got.stderr, diff(got.stdout, want.stdout))
		}
		got = run(t, "", "", append(cli, "sha256sum", proc)...)
		if got.code != 0 || !bytes.Equal(got.stdout, wantOp.stdout) {
			t.Errorf("%v sha256sum %s: exit %d, stderr %q\n%s", transport, proc, got.code, got.stderr, diff(got.stdout, wantOp.stdout))
		}
	}
}

// TestExampleReadErrorNamed: a read error in the middle of the input (the
// test's own /proc/self/mem, whose first page is not mapped: EIO) cancels
// the call, is named on stderr, and a digest of several files goes on with
// the next one, as GNU does. The Python client printed grpc's "Exception
// iterating requests!" and stopped.
func TestExampleReadErrorNamed(t *testing.T) {
	const mem = "/proc/self/mem"
	if _, err := os.Stat(mem); err != nil {
		t.Skipf("no %s: %v", mem, err)
	}
	g, _ := startDaemon(t)
	file := randomFile(t, 1000)
	want := run(t, "", "", "sha256sum", file)
	for _, lang := range exampleLangs {
		t.Run(lang, func(t *testing.T) {
			client := append(exampleClient(t, lang), "--addr", g)
			got := run(t, "", "", append(client, "digest", "-a", "sha256", mem, file)...)
			if got.code != 1 || !bytes.Equal(got.stdout, want.stdout) || !bytes.Contains(got.stderr, []byte(mem)) {
				t.Errorf("digest %s FILE: exit %d, stderr %q, want exit 1 and FILE's digest\n%s", mem, got.code, got.stderr, diff(got.stdout, want.stdout))
			}
			// stdin: the test process's memory, opened by the test
			got = run(t, "", mem, append(client, "run", "wc -c")...)
			if got.code == 0 || len(got.stdout) != 0 || bytes.Contains(got.stderr, []byte("Exception iterating")) {
				t.Errorf("run < %s: exit %d, stdout %q, stderr %q: want the read error", mem, got.code, got.stdout, got.stderr)
			}
		})
	}
}

// wrongPortScript makes streaming calls of grpcio (Python) to a raw-TCP
// command port, each on a channel of its own, and prints each call's
// status.
const wrongPortScript = `
import sys
import grpc
from halfclose.v1 import compute_pb2 as pb, compute_pb2_grpc as pb_grpc

def requests():
    yield pb.RunRequest(header=pb.RunHeader(pipeline="wc -l"))
    yield pb.RunRequest(data=b"a\n" * 1000)

for _ in range(int(sys.argv[2])):
    with grpc.insecure_channel(sys.argv[1]) as ch:
        try:
            for _ in pb_grpc.ComputeServiceStub(ch).Run(requests()):
                pass
            print("OK")
        except grpc.RpcError as e:
            print(e.code().name, e.details())
`

// TestPythonWrongPort: a grpcio streaming call to the raw-TCP command port
// gets the port's UNAVAILABLE message. The port sent its FIN right after
// the reply and GOAWAY, while grpcio was still writing the call's
// messages: grpcio failed those writes first and reported "Socket closed"
// (17 calls in 20).
func TestPythonWrongPort(t *testing.T) {
	py, err := findPython()
	if err != nil {
		missing(t, "%v", err)
	}
	_, tcp := startDaemon(t)
	script := filepath.Join(t.TempDir(), "wrongport.py")
	if err := os.WriteFile(script, []byte(wrongPortScript), 0o644); err != nil {
		t.Fatal(err)
	}
	const calls = 10
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, script, tcp, strconv.Itoa(calls))
	cmd.Env = append(cleanEnv(), "PYTHONPATH="+filepath.Join(examplesDir(t), "python"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, stderr.Bytes())
	}
	const msg = "halfclose raw-TCP port: this port speaks the raw-TCP protocol, not gRPC; use the gRPC port"
	want := strings.Repeat("UNAVAILABLE "+msg+"\n", calls)
	if string(out) != want {
		t.Errorf("grpcio's calls to the raw-TCP port:\n%s", diff(out, []byte(want)))
	}
}

// TestCLITCPIdleAbortSaysReset: `halfclose --tcp` whose input stalls
// past the server's --idle-timeout reports the server's abort (now a
// reset) as such, not as the read that saw it.
func TestCLITCPIdleAbortSaysReset(t *testing.T) {
	_, tcp := startDaemon(t, "--idle-timeout", "300ms")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close() // held open and empty: the input stalls
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin(t, "halfclose"), "--tcp", "--tcp-addr", tcp, "sort")
	cmd.Env = cleanEnv()
	cmd.Stdin = pr
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	const want = "halfclose: incomplete reply: the server reset the connection before the input ended (it aborted the job: an idle timeout, a stop)\n"
	if err == nil || stdout.Len() != 0 || stderr.String() != want {
		t.Errorf("err %v, stdout %q, stderr %q, want %q", err, stdout.Bytes(), stderr.Bytes(), want)
	}
}
