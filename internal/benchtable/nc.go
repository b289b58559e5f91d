//go:build linux

// The nc ceilings: what OpenBSD nc moves over loopback with no server at
// all, timed in the same run as the rows they bound.
//
// How this machine's nc (OpenBSD netcat, Debian 1.219) behaves, and so
// how it is driven here:
//
//   - `nc -v -n -l 127.0.0.1 0` listens on a port the kernel picks and
//     says which on stderr ("Listening on 127.0.0.1 PORT") once it
//     listens: no port is guessed, none is taken from another user.
//   - nc stops sending, and exits, when its peer's FIN arrives. So the
//     side that downloads must not half-close: `nc -N 127.0.0.1 PORT
//     </dev/null` sends its FIN at once and gets a truncated reply;
//     `nc 127.0.0.1 PORT </dev/null` reads until the sender's FIN, then
//     exits. The sender is `nc -N -l ... < FILE`: FIN after the file.
//   - -q (quit some seconds after stdin's EOF) is not used: it would add
//     its delay or cut the transfer.
//
// Every nc is started with command (killed with this process) under a
// context with a deadline, and each listener is killed and reaped before
// its function returns, whatever happened: no nc is left behind.

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// ncDeadline bounds one nc transfer, listener included.
const ncDeadline = 5 * time.Minute

// ncListener is an `nc -l` on 127.0.0.1, on a port the kernel chose.
type ncListener struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when Wait has returned
	err    error         // Wait's, once exited is closed
	port   string
	stderr *listenWriter
}

// startNCListener starts `nc [flags] -v -n -l 127.0.0.1 0` with stdin
// (nil: /dev/null) and stdout, and returns once it listens. The caller
// must call stop.
func startNCListener(ctx context.Context, ncPath string, stdin io.Reader, stdout io.Writer, flags ...string) (*ncListener, error) {
	args := append(append([]string{}, flags...), "-v", "-n", "-l", "127.0.0.1", "0")
	cmd := command(ctx, ncPath, args...)
	cmd.Stdin, cmd.Stdout = stdin, stdout
	l := &ncListener{cmd: cmd, exited: make(chan struct{}), stderr: &listenWriter{ready: make(chan struct{})}}
	cmd.Stderr = l.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { l.err = cmd.Wait(); close(l.exited) }()
	select {
	case <-l.stderr.ready:
		l.port = l.stderr.port
	case <-l.exited:
		return nil, fmt.Errorf("nc -l exited before listening: %v: %s", l.err, l.stderr.text())
	case <-ctx.Done():
		l.stop()
		return nil, fmt.Errorf("nc -l did not listen: %w", ctx.Err())
	}
	return l, nil
}

// wait waits for the listener to exit and returns Wait's error.
func (l *ncListener) wait(ctx context.Context) error {
	select {
	case <-l.exited:
	case <-ctx.Done():
		l.stop()
		return fmt.Errorf("nc -l did not exit: %w", ctx.Err())
	}
	if l.err != nil {
		return fmt.Errorf("nc -l: %v: %s", l.err, l.stderr.text())
	}
	return nil
}

// stop kills the listener if it still runs and reaps it.
func (l *ncListener) stop() {
	select {
	case <-l.exited:
	default:
		l.cmd.Process.Kill()
		<-l.exited
	}
}

// listenWriter is a listener's stderr: it finds the port in nc's
// "Listening on ADDR PORT" line and keeps the rest for errors.
type listenWriter struct {
	mu    sync.Mutex // protects buf, port and closing ready
	buf   bytes.Buffer
	port  string
	ready chan struct{} // closed once port is known
}

func (w *listenWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() < 64<<10 {
		w.buf.Write(p)
	}
	if w.port == "" {
		for _, line := range strings.SplitAfter(w.buf.String(), "\n") {
			f := strings.Fields(line)
			if strings.HasSuffix(line, "\n") && strings.HasPrefix(line, "Listening on ") && len(f) == 4 {
				w.port = f[3]
				close(w.ready)
				break
			}
		}
	}
	return len(p), nil
}

func (w *listenWriter) text() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.TrimSpace(w.buf.String())
}

// openWithDevNull opens path to read and /dev/null to write (an nc
// listener's stdout), and returns a func closing both.
func openWithDevNull(path string) (f, devNull *os.File, closeBoth func(), err error) {
	devNull, err = os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, nil, nil, err
	}
	f, err = os.Open(path)
	if err != nil {
		devNull.Close()
		return nil, nil, nil, err
	}
	return f, devNull, func() { f.Close(); devNull.Close() }, nil
}

// ncUpload times `nc -N 127.0.0.1 PORT < path` into an `nc -l` that
// writes what it reads to /dev/null itself (no pipe to this process),
// from the sender's start to the listener's exit, and reports both to
// rep: the sender as the client, the listener as the server.
func ncUpload(ctx context.Context, ncPath, path string, rep *Rep) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, ncDeadline)
	defer cancel()
	f, devNull, closeFiles, err := openWithDevNull(path)
	if err != nil {
		return 0, err
	}
	defer closeFiles()
	lis, err := startNCListener(ctx, ncPath, nil, devNull)
	if err != nil {
		return 0, err
	}
	defer lis.stop()
	start := time.Now()
	snd := command(ctx, ncPath, "-N", "127.0.0.1", lis.port)
	snd.Stdin = f
	var stderr bytes.Buffer
	snd.Stderr = &stderr
	if err := snd.Run(); err != nil {
		return 0, fmt.Errorf("nc -N < %s: %v: %s", path, err, bytes.TrimSpace(stderr.Bytes()))
	}
	if err := lis.wait(ctx); err != nil {
		return 0, err
	}
	d := time.Since(start)
	rep.Client(snd.ProcessState)
	rep.Server(lis.cmd.ProcessState)
	return d, nil
}

// ncDownload times `nc 127.0.0.1 PORT </dev/null` reading what `nc -N
// -l 127.0.0.1 PORT < path` sends, its stdout a pipe copied into w (as
// the rows' stdout is into their hash), from the receiver's start to its
// exit with all copied. It reports the receiver to rep as the client, the
// listener as the server.
func ncDownload(ctx context.Context, ncPath, path string, w io.Writer, rep *Rep) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, ncDeadline)
	defer cancel()
	f, devNull, closeFiles, err := openWithDevNull(path)
	if err != nil {
		return 0, err
	}
	defer closeFiles()
	lis, err := startNCListener(ctx, ncPath, f, devNull, "-N")
	if err != nil {
		return 0, err
	}
	defer lis.stop()
	start := time.Now()
	rcv := command(ctx, ncPath, "127.0.0.1", lis.port) // no -N: see the file comment
	rcv.Stdout = struct{ io.Writer }{w}                // a pipe, as TimeCommand's
	var stderr bytes.Buffer
	rcv.Stderr = &stderr
	if err := rcv.Run(); err != nil {
		return 0, fmt.Errorf("nc 127.0.0.1 %s: %v: %s", lis.port, err, bytes.TrimSpace(stderr.Bytes()))
	}
	d := time.Since(start)
	if err := lis.wait(ctx); err != nil {
		return 0, err
	}
	rep.Client(rcv.ProcessState)
	rep.Server(lis.cmd.ProcessState)
	return d, nil
}

// ncToNc times ncUpload of the -size random file: nc → nc, one way.
func ncToNc(env *Env) (Result, error) {
	in, err := env.RandomFile()
	if err != nil {
		return Result{}, err
	}
	ncPath, err := LookPath("nc")
	if err != nil {
		return Result{}, err
	}
	d, cpu, err := env.bestOf(func(rep *Rep) (time.Duration, error) {
		return ncUpload(env.Context(), ncPath, in, rep)
	})
	if err != nil {
		return Result{}, fmt.Errorf("nc -N → nc -l: %v", err)
	}
	return Result{Bytes: env.Size, Elapsed: d, CPU: cpu,
		Note: "timed from the sender's start (the listener listening) to the listener's exit"}, nil
}

// ncCeiling is the row that shows, in a group of rows sent with nc, what
// nc → nc moves over loopback with no server at all (measured once per run).
func ncCeiling(group string) Row {
	return Row{Group: group, Name: "ceiling: nc -N → nc -l, loopback, no server", Ceiling: "nc→nc", Run: func(env *Env) (Result, error) {
		if r, ok := env.timed.Load("nc → nc"); ok {
			return r.(Result), nil
		}
		r, err := ncToNc(env)
		r.Note = ""
		if err == nil {
			env.timed.Store("nc → nc", r)
		}
		return r, err
	}}
}

// replyCeiling is the ceiling of a group whose rows reply with much of
// their input (grep -F of a frequent string, grep -v): the product sends
// no reply before the client's FIN, so such a row takes at least an
// upload of the input and then a download of the reply. It times, in
// this run, ncUpload of the input and ncDownload of exactly what GNU
// (argv) writes for it, into a hash; its time is the best upload of that
// input in this run (ceilings of other groups included) plus the best
// download, its CPU theirs.
func replyCeiling(group string, input func(env *Env) (string, error), argv []string) Row {
	return Row{Group: group, Name: "ceiling: nc upload of the input, then nc download of GNU's output", Ceiling: "nc up+down", Run: func(env *Env) (Result, error) {
		in, err := input(env)
		if err != nil {
			return Result{}, err
		}
		ncPath, err := LookPath("nc")
		if err != nil {
			return Result{}, err
		}
		reply, err := env.gnuOutput(in, argv)
		if err != nil {
			return Result{}, err
		}
		defer os.Remove(reply)
		st, err := os.Stat(reply)
		if err != nil {
			return Result{}, err
		}
		up, upCPU, err := env.bestOf(func(rep *Rep) (time.Duration, error) {
			return ncUpload(env.Context(), ncPath, in, rep)
		})
		if err != nil {
			return Result{}, err
		}
		// Groups of the same input share their uploads: the best of
		// them all in this run counts (the machine is shared; more
		// samples, less noise).
		key := "nc upload " + in
		if prev, ok := env.timed.Load(key); ok && prev.(Result).Elapsed < up {
			up, upCPU = prev.(Result).Elapsed, prev.(Result).CPU
		}
		env.timed.Store(key, Result{Elapsed: up, CPU: upCPU})
		var sum []byte
		down, downCPU, err := env.bestOf(func(rep *Rep) (time.Duration, error) {
			h := sha256.New()
			d, err := ncDownload(env.Context(), ncPath, reply, h, rep)
			if err != nil {
				return 0, err
			}
			s := h.Sum(nil)
			if sum != nil && !bytes.Equal(s, sum) {
				return 0, errors.New("nc download: output differs between runs")
			}
			sum = s
			return d, nil
		})
		if err != nil {
			return Result{}, err
		}
		inSt, err := os.Stat(in)
		if err != nil {
			return Result{}, err
		}
		return Result{Bytes: inSt.Size(), Elapsed: up + down, OutputSum: sum, CPU: upCPU.Add(downCPU),
			Note: fmt.Sprintf("upload %.2f s (the best of this input's in this run), then download of %d MB %.2f s (the best)",
				up.Seconds(), st.Size()/1e6, down.Seconds())}, nil
	}}
}

// gnuOutput runs argv (a GNU tool, LC_ALL=C) with stdin from the file in
// and its stdout into a new temporary file, and returns that file's name:
// the caller removes it. Not timed.
func (e *Env) gnuOutput(in string, argv []string) (string, error) {
	f, err := os.Open(in)
	if err != nil {
		return "", err
	}
	defer f.Close()
	out, err := os.CreateTemp("", "benchtable-reply-*")
	if err != nil {
		return "", err
	}
	cmd := command(e.ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdin, cmd.Stdout = f, out
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if err == nil {
		// Written back before the timing, as File's inputs: a reply of
		// half a GiB (grep -v INFO, grep -F INFO: 535 and 539 MB) was
		// written back by the kernel 30 s later, during this row's
		// uploads or the next row's run.
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out.Name())
		return "", fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out.Name(), nil
}
