package e2e

import (
	"bytes"
	"os"
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
