//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// defaultTestTimeout bounds each nc test.
const defaultTestTimeout = time.Minute

// needNC returns OpenBSD nc's path; a missing nc fails the test under CI.
func needNC(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("nc")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("nc (netcat-openbsd) not installed")
		}
		t.Skip("nc not installed")
	}
	return p
}

// ncChildren are the nc processes whose parent is this process, zombies
// included (/proc/PID/stat: "PID (comm) STATE PPID ...").
func ncChildren(t *testing.T) []int {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue // gone
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || !bytes.Contains(b[:i], []byte("(nc")) {
			continue
		}
		if f := strings.Fields(string(b[i+1:])); len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func noNCLeft(t *testing.T) {
	t.Helper()
	if pids := ncChildren(t); len(pids) > 0 {
		t.Fatalf("nc processes left behind: %v", pids)
	}
}

func randomFile(t *testing.T, size int) (string, []byte) {
	t.Helper()
	b := make([]byte, size)
	r := rand.NewChaCha8([32]byte{'n', 'c'})
	r.Read(b)
	p := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, b
}

// TestNCDownload: the receiver gets the listener's file whole (no early
// FIN from it), and both report their CPU.
func TestNCDownload(t *testing.T) {
	nc := needNC(t)
	path, want := randomFile(t, 8<<20+17)
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	for range 3 {
		var got bytes.Buffer
		var rep Rep
		if _, err := ncDownload(ctx, nc, path, &got, &rep); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("downloaded %d bytes, not the %d of the file", got.Len(), len(want))
		}
		if !rep.ranClient || !rep.ranServer {
			t.Fatalf("CPU not reported: %+v", rep)
		}
		noNCLeft(t)
	}
}

// TestNCUpload: the sender and the listener both exit 0 and report.
func TestNCUpload(t *testing.T) {
	nc := needNC(t)
	path, _ := randomFile(t, 8<<20)
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	var rep Rep
	if _, err := ncUpload(ctx, nc, path, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.ranClient || !rep.ranServer {
		t.Fatalf("CPU not reported: %+v", rep)
	}
	noNCLeft(t)
}

// stopWriter calls stop at its first Write, then takes everything.
type stopWriter struct {
	stop    func()
	stopped bool
}

func (w *stopWriter) Write(p []byte) (int, error) {
	if !w.stopped {
		w.stopped = true
		w.stop()
	}
	return len(p), nil
}

// TestNCInterrupted: a transfer cancelled, or whose listener is killed,
// mid-way returns an error and leaves no nc behind.
func TestNCInterrupted(t *testing.T) {
	nc := needNC(t)
	path, _ := randomFile(t, 64<<20)
	for _, tc := range []struct {
		name string
		stop func(cancel context.CancelFunc)
	}{
		{"context cancelled", func(cancel context.CancelFunc) { cancel() }},
		{"listener killed", func(context.CancelFunc) {
			for _, pid := range ncChildren(t) {
				cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
				if bytes.Contains(cmdline, []byte("\x00-l\x00")) {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
			defer cancel()
			w := &stopWriter{stop: func() { tc.stop(cancel) }}
			_, err := ncDownload(ctx, nc, path, w, &Rep{})
			if err == nil {
				t.Fatal("no error")
			}
			if !w.stopped {
				t.Fatalf("stopped before any byte: %v", err)
			}
			noNCLeft(t)
		})
	}
	t.Run("cancelled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := ncUpload(ctx, nc, path, &Rep{}); err == nil {
			t.Fatalf("ncUpload with a cancelled context: %v", err)
		}
		noNCLeft(t)
	})
}

// TestListenWriter: the port is read from nc's line, in whatever pieces
// it comes.
func TestListenWriter(t *testing.T) {
	w := &listenWriter{ready: make(chan struct{})}
	for _, s := range []string{"Listen", "ing on 127.0.0.1", " 41234", "\nConnection received on 127.0.0.1 5\n"} {
		select {
		case <-w.ready:
			t.Fatalf("ready before the line ended, port %q", w.port)
		default:
		}
		w.Write([]byte(s))
	}
	<-w.ready
	if w.port != "41234" {
		t.Fatalf("port %q", w.port)
	}
}

// orphanEnv makes the test binary a child that starts an nc (TestMain).
const orphanEnv = "BENCHTABLE_TEST_ORPHAN_NC"

// TestNoNCOutlivesUs: an nc started with command dies with the process
// that started it, even when that one is killed with SIGKILL (and so
// runs no cleanup). The nc holds a pipe's write end: its read end here
// sees EOF once the nc is gone.
func TestNoNCOutlivesUs(t *testing.T) {
	nc := needNC(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), orphanEnv+"="+nc)
	child.ExtraFiles = []*os.File{w}
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	line, err := bufio.NewReader(out).ReadString('\n')
	pid, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		child.Process.Kill()
		child.Wait()
		t.Fatalf("child: %q %v", line, err)
	}
	child.Process.Kill()
	child.Wait()
	r.SetReadDeadline(time.Now().Add(defaultTestTimeout))
	if n, err := io.Copy(io.Discard, r); err != nil || n != 0 {
		syscall.Kill(pid, syscall.SIGKILL) // the orphan, which holds the pipe: no other process can
		t.Fatalf("the nc of a killed parent still runs (pid %d): %v", pid, err)
	}
}
