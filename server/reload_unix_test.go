//go:build unix

package server

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestReloaderPipe: a token file that is a pipe (--auth-token-file=<(vault
// read ...), a process substitution's /dev/fd/N, or a named pipe) is never
// read by a look: the stamp read its content before the load, which found
// it empty ("no tokens": the server did not start), and a named pipe with
// no writer held the look, every later reload and the shutdown, in open(2)
// forever. Its identity (device, inode) alone is its stamp: a write to a
// named pipe set its modification time, and the load that followed waited
// in open(2) for the next writer, forever too.
func TestReloaderPipe(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	if _, err := pw.WriteString("tok\n"); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	anon := fmt.Sprintf("/dev/fd/%d", pr.Fd())
	r := &Reloader{}
	r.Watch(ReloadToken, []string{anon}, Stamps(anon), func() ([]any, error) { return nil, nil })
	if n := r.Check(); n != 0 {
		t.Errorf("%d loads of a pipe nobody wrote to since", n)
	}
	got, err := io.ReadAll(pr)
	if err != nil || string(got) != "tok\n" {
		t.Errorf("the pipe %s after two looks: %q, %v; want \"tok\\n\" left for the load", anon, got, err)
	}

	named := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(named, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan int)
	go func() {
		r := &Reloader{}
		r.Watch(ReloadToken, []string{named}, Stamps(named), func() ([]any, error) { return nil, nil })
		n := r.Check()
		// A write sets the pipe's times (as a write a clock tick
		// after the look's stat would: Chtimes): no change either (a
		// load would wait in open(2) for the next writer).
		rw, err := os.OpenFile(named, os.O_RDWR, 0)
		if err == nil {
			_, err = rw.WriteString("tok\n")
			rw.Close()
		}
		if err == nil {
			err = os.Chtimes(named, time.Unix(1, 0), time.Unix(1, 0))
		}
		if err != nil {
			t.Error(err)
		}
		done <- n + r.Check()
	}()
	select {
	case n := <-done:
		if n != 0 {
			t.Errorf("%d loads of a named pipe, written to once", n)
		}
	case <-time.After(defaultTestTimeout): // a failure only, never a wait
		t.Errorf("a look still waits for a writer of the named pipe %s", named)
	}
}

// TestReloaderPipeReplaced: a pipe's stamp is its device and inode
// alone, so that a new pipe put at the path (made beside it and renamed
// over it: a new inode) is a change, loaded once, and the look opens
// neither.
func TestReloaderPipeReplaced(t *testing.T) {
	dir := t.TempDir()
	named := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(named, 0o600); err != nil {
		t.Fatal(err)
	}
	r := &Reloader{}
	loads := 0
	r.Watch(ReloadToken, []string{named}, Stamps(named), func() ([]any, error) { loads++; return nil, nil })
	if r.Check(); loads != 0 {
		t.Fatalf("%d loads of a pipe nobody touched, want 0", loads)
	}
	next := filepath.Join(dir, "fifo2")
	if err := syscall.Mkfifo(next, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, named); err != nil {
		t.Fatal(err)
	}
	if r.Check(); loads != 1 {
		t.Fatalf("%d loads after a new pipe was put at the path, want 1", loads)
	}
	if r.Check(); loads != 1 {
		t.Fatalf("%d loads after a look with no change, want 1", loads)
	}
}

// TestReloaderOpenFails: a file whose stat works but which cannot be
// opened now (too many open files, under a flood of connections) has not
// changed: it is not loaded, no failure is logged or counted, and nothing
// is "reloaded" once descriptors are free again. The stamp was the open's
// error, so each look under the limit loaded the file (which failed too)
// and the next one loaded it again: a warning and
// halfclose_reloads_total{result="error"}, which docs/operations.md says
// to alert on, for a file nobody touched.
func TestReloaderOpenFails(t *testing.T) {
	f := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(f, []byte("alpha\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &Reloader{}
	loads := 0
	r.Watch(ReloadToken, []string{f}, Stamps(f), func() ([]any, error) {
		loads++
		_, err := os.ReadFile(f)
		return nil, err
	})
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// The lowest free descriptor as the limit: every open fails.
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	low := lim
	setRlimit(&low.Cur, null.Fd())
	null.Close()
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	n := r.Check()
	_, openErr := os.Open(f)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(openErr, syscall.EMFILE) {
		t.Fatalf("open under the limit of %d descriptors: %v, want EMFILE", low.Cur, openErr)
	}
	n += r.Check()
	if n != 0 || loads != 0 {
		t.Fatalf("%d loads (%d logged) of a file that did not change, looked at with no descriptor free and then again", loads, n)
	}
	// A change made meanwhile is still seen.
	if err := os.WriteFile(f, []byte("gamma-delta\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r.Check(); loads != 1 {
		t.Fatalf("%d loads after a change, want 1", loads)
	}
}

// setRlimit sets an rlimit field to v: the field is a uint64 on Linux and
// Darwin, an int64 on FreeBSD.
func setRlimit[T int64 | uint64](field *T, v uintptr) { *field = T(v) }
