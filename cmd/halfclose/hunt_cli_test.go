package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/server"
)

// huntServer serves the gRPC ComputeService and the raw-TCP command port
// on 127.0.0.1 ports of the kernel's choosing, in this process.
func huntServer(t *testing.T) (grpcAddr, tcpAddr string) {
	t.Helper()
	eng := engine.New(engine.Config{Registry: builtin.Registry()})
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	apiv1.RegisterComputeServiceServer(gs, server.NewComputeService(eng, server.Options{}))
	go gs.Serve(gl)
	t.Cleanup(gs.Stop)
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcp := &server.TCPServer{Engine: eng}
	done := make(chan struct{})
	go func() { tcp.Serve(tl); close(done) }()
	t.Cleanup(func() { tcp.Close(); <-done })
	return gl.Addr().String(), tl.Addr().String()
}

// runCLIIn runs the CLI with stdin and returns its exit code and output.
func runCLIIn(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, stdin, &out, &errb)
	return code, out.String(), errb.String()
}

// changingFile is an input file that another process changes while it is
// being uploaded: after the first read, change runs once (a truncation, an
// append, a rewrite in place). It is an *os.File as far as the client can
// tell (it has Stat), as a redirected stdin is.
type changingFile struct {
	*os.File
	change func()
	done   bool
}

func (c *changingFile) Read(p []byte) (int, error) {
	n, err := c.File.Read(p)
	if !c.done && n > 0 {
		c.done = true
		c.change()
	}
	return n, err
}

// TestHuntFileChangedDuringUpload: a regular file that shrinks, grows or
// is rewritten while it is uploaded is an error on both transports, never
// a digest of bytes that were not the file's at any one time presented as
// its digest. (The gRPC path read it to whatever end it met and printed
// the digest of that, exit 0; --tcp caught only a size that no longer
// matched.)
func TestHuntFileChangedDuringUpload(t *testing.T) {
	g, tcp := huntServer(t)
	const size = 3 << 20 // several chunks: the change lands mid-upload
	for _, tc := range []struct {
		name   string
		change func(path string) error
	}{
		{"shrinks", func(p string) error { return os.Truncate(p, 1000) }},
		{"grows", func(p string) error {
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.Write(bytes.Repeat([]byte("y"), 1<<20))
			return err
		}},
		{"rewritten", func(p string) error {
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt(bytes.Repeat([]byte("z"), 4096), size-4096)
			if err == nil {
				// the same size, a later time: as a rewrite in place
				// within the clock's tick would not show, set one
				st, _ := f.Stat()
				err = os.Chtimes(p, st.ModTime(), st.ModTime().Add(1e9))
			}
			return err
		}},
	} {
		for _, transport := range [][]string{{"--addr", g}, {"--tcp", "--tcp-addr", tcp}} {
			for _, fileMode := range []bool{false, true} {
				name := tc.name + "/" + transport[0]
				if fileMode {
					name += "/FILE"
				}
				t.Run(name, func(t *testing.T) {
					p := filepath.Join(t.TempDir(), "f")
					if err := os.WriteFile(p, bytes.Repeat([]byte("x"), size), 0o644); err != nil {
						t.Fatal(err)
					}
					f, err := os.Open(p)
					if err != nil {
						t.Fatal(err)
					}
					defer f.Close()
					in := &changingFile{File: f, change: func() {
						if err := tc.change(p); err != nil {
							t.Error(err)
						}
					}}
					args := append(append([]string{}, transport...), "--progress=false", "sha256sum")
					if fileMode {
						args = append(args, "-") // FILE mode, stdin as "-"
					}
					code, out, errs := runCLIIn(t, in, args...)
					if code != 1 || out != "" || !strings.Contains(errs, "changed while it was read") {
						t.Errorf("exit %d, stdout %q, stderr %q; want exit 1, no digest, the file changed", code, out, errs)
					}
				})
			}
		}
	}
	// An unchanged file is still read, on both.
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, transport := range [][]string{{"--addr", g}, {"--tcp", "--tcp-addr", tcp}} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		code, out, errs := runCLIIn(t, f, append(transport, "sha256sum")...)
		f.Close()
		// GNU: printf 'hello\n' | sha256sum
		if want := "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  -\n"; code != 0 || out != want {
			t.Errorf("%q: exit %d, %q, stderr %q; want %q", transport, code, out, errs, want)
		}
	}
}
