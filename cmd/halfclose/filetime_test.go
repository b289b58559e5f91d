package main

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
)

// headerServer is a command port that records each header line, reads
// the input to its end and refuses with an error line.
func headerServer(t *testing.T) (addr string, headers <-chan string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ch := make(chan string, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			br := bufio.NewReader(c)
			line, _ := br.ReadString('\n')
			io.Copy(io.Discard, br)
			c.Write([]byte("halfclose: error: INVALID_ARGUMENT: recorded\n"))
			c.Close()
			ch <- strings.TrimSuffix(line, "\n")
		}
	}()
	return l.Addr().String(), ch
}

// headerService records each RunHeader and refuses the call.
type headerService struct {
	apiv1.UnimplementedComputeServiceServer
	headers chan *apiv1.RunHeader
}

func (s *headerService) Run(stream grpc.BidiStreamingServer[apiv1.RunRequest, apiv1.RunResponse]) error {
	m, err := stream.Recv()
	if err != nil {
		return err
	}
	s.headers <- m.GetHeader()
	return status.Error(codes.InvalidArgument, "recorded")
}

// TestCLISendsFileTimeOnlyWhenWanted: the CLI sends the input file's time
// (@mtime over --tcp, input_file_mtime over gRPC) only to a pipeline whose
// first stage lists it (gzip -l with -v): a server older than @mtime
// refuses that header option whatever the command, so `wc < FILE` sent
// with it failed against every older server. What else the header says
// (@file, @size, @trailer, @status) is unchanged.
func TestCLISendsFileTimeOnlyWhenWanted(t *testing.T) {
	tcpAddr, tcpHeaders := headerServer(t)
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	svc := &headerService{headers: make(chan *apiv1.RunHeader, 1)}
	gs := grpc.NewServer()
	apiv1.RegisterComputeServiceServer(gs, svc)
	go gs.Serve(gl)
	t.Cleanup(gs.Stop)

	file := filepath.Join(t.TempDir(), "in.gz")
	if err := os.WriteFile(file, []byte("not gzip\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const mtime = 1234567890
	if err := os.Chtimes(file, time.Unix(mtime, 0), time.Unix(mtime, 0)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pipeline string
		wants    bool
	}{
		{"wc", false},
		{"gzip -l", false},
		{"gzip -lvq", false},
		{"gzip -d | gzip -lv", false}, // only the first stage reads the file
		{"no-such-command -lv", false},
		{"gzip -lv", true},
		{"gunzip -lqv", true},
		{"zcat --list --verbose | wc", true},
	} {
		open := func() *os.File {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			return f
		}
		file := "@file=9 "
		if tc.wants {
			file += "@mtime=" + strconv.Itoa(mtime) + " "
		}
		want := file + "@size=9 @trailer @status " + tc.pipeline
		runCLIIn(t, open(), "--progress=false", "--tcp", "--tcp-addr", tcpAddr, tc.pipeline)
		if got := <-tcpHeaders; got != want {
			t.Errorf("--tcp %s < FILE: header line %q, want %q", tc.pipeline, got, want)
		}
		runCLIIn(t, open(), "--progress=false", "--addr", gl.Addr().String(), tc.pipeline)
		h := <-svc.headers
		if h.InputFileMtime != nil != tc.wants || tc.wants && h.GetInputFileMtime() != mtime || h.GetInputFileSize() != 9 || !h.GetRequireEnd() || h.GetPipeline() != tc.pipeline {
			t.Errorf("gRPC %s < FILE: header %v, want the time sent: %v", tc.pipeline, h, tc.wants)
		}
	}
}
