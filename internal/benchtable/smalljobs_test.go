//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// jobServer is a small-jobs server for smallLoad's tests: it reads each
// connection to its FIN and answers with reply(input, job), then its FIN,
// or resets the connection when reply returns nil.
type jobServer struct {
	addr   *net.TCPAddr
	inputs chan []byte // every input read to its FIN
	jobs   atomic.Int64
	mu     sync.Mutex
	peers  map[string]bool // the clients' IPs; protected by mu
}

func startJobServer(t *testing.T, reply func(in []byte, job int64) []byte) *jobServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &jobServer{addr: l.Addr().(*net.TCPAddr), inputs: make(chan []byte, 1000), peers: map[string]bool{}}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.peers[c.RemoteAddr().(*net.TCPAddr).IP.String()] = true
			s.mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(defaultTestTimeout))
				in, err := io.ReadAll(c)
				if err != nil {
					return
				}
				select {
				case s.inputs <- in:
				default:
				}
				out := reply(in, s.jobs.Add(1))
				if out == nil {
					c.(*net.TCPConn).SetLinger(0)
					return
				}
				c.Write(out)
				c.(*net.TCPConn).CloseWrite()
				io.Copy(io.Discard, c)
			})
		}
	})
	return s
}

// sha256Line is sha256sum's line for in read from stdin.
func sha256Line(in []byte) []byte {
	sum := sha256.Sum256(in)
	return []byte(hex.EncodeToString(sum[:]) + "  -\n")
}

// loadJobs runs n jobs of input against addr, checking each reply.
func loadJobs(addr *net.TCPAddr, input []byte, n int, check func([]byte) error) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	started := 0
	l := &smallLoad{addr: addr, input: input, conns: 8, stall: defaultTestTimeout, check: check,
		more: func() bool { started++; return started <= n }}
	return l.run(ctx)
}

// TestSmallLoad: every job sends the whole input and its FIN (the server
// reads it to its end), and every reply is read to the server's FIN and
// checked; an empty input is the FIN alone. The jobs come from several
// loopback addresses, never 127.0.0.1 (smallJobSource).
func TestSmallLoad(t *testing.T) {
	for _, input := range [][]byte{bytes.Repeat([]byte("0123456789abcdef"), 64), nil, bytes.Repeat([]byte("x"), 1<<20)} {
		t.Run(fmt.Sprint(len(input)), func(t *testing.T) {
			s := startJobServer(t, func(in []byte, _ int64) []byte { return sha256Line(in) })
			want := sha256Line(input)
			var checked int64
			n, err := loadJobs(s.addr, input, 50, func(reply []byte) error {
				checked++
				if !bytes.Equal(reply, want) {
					return fmt.Errorf("reply %q, want %q", reply, want)
				}
				return nil
			})
			if err != nil || n != 50 || checked != 50 {
				t.Fatalf("%d jobs, %d replies checked, %v; want 50, 50, nil", n, checked, err)
			}
			if got := s.jobs.Load(); got != 50 {
				t.Fatalf("the server answered %d jobs, want 50", got)
			}
			for range 50 {
				if in := <-s.inputs; !bytes.Equal(in, input) {
					t.Fatalf("the server read %d bytes, want the %d of the input", len(in), len(input))
				}
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if len(s.peers) != 50 || s.peers["127.0.0.1"] {
				t.Fatalf("jobs from %d addresses (127.0.0.1: %v), want 50, not 127.0.0.1", len(s.peers), s.peers["127.0.0.1"])
			}
		})
	}
}

// TestSmallLoadFails: a reply the check refuses, a reset in place of a
// reply, or a refused connection (with input or none: no wait for the
// stall) ends the load with an error.
func TestSmallLoadFails(t *testing.T) {
	input := []byte("input")
	t.Run("wrong reply", func(t *testing.T) {
		s := startJobServer(t, func(in []byte, job int64) []byte {
			if job == 20 {
				return []byte("wrong\n")
			}
			return sha256Line(in)
		})
		errWrong := errors.New("wrong reply")
		_, err := loadJobs(s.addr, input, 50, func(reply []byte) error {
			if !bytes.Equal(reply, sha256Line(input)) {
				return errWrong
			}
			return nil
		})
		if !errors.Is(err, errWrong) {
			t.Fatalf("err %v, want the check's", err)
		}
	})
	t.Run("reset", func(t *testing.T) {
		s := startJobServer(t, func(in []byte, job int64) []byte {
			if job == 20 {
				return nil
			}
			return sha256Line(in)
		})
		_, err := loadJobs(s.addr, input, 50, func([]byte) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "connection reset") {
			t.Fatalf("err %v, want a reset", err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().(*net.TCPAddr)
		l.Close()
		for _, in := range [][]byte{input, nil} {
			if _, err := loadJobs(addr, in, 5, func([]byte) error { return nil }); !errors.Is(err, unix.ECONNREFUSED) {
				t.Fatalf("input %q: err %v from a port that refuses, want ECONNREFUSED", in, err)
			}
		}
	})
}

// TestSmallLoadWaitsForConnect: a job with no input half-closes only once
// connected. Its SYN goes unanswered here (the listener's accept queue is
// full) until the load has tried the job once; a shutdown then aborted the
// connecting socket (Linux's inet_shutdown disconnects one in SYN_SENT),
// and the job failed reading its reply (ENOTCONN).
func TestSmallLoadWaitsForConnect(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil { // one connection fills the queue
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "listener")
	l, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := l.Addr().(*net.TCPAddr)
	filler, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer filler.Close()

	accept := make(chan struct{})
	served := make(chan error, 1)
	go func() {
		<-accept
		for range 2 { // the filler, then the job
			c, err := l.Accept()
			if err != nil {
				served <- err
				return
			}
			if c.RemoteAddr().String() == filler.LocalAddr().String() {
				defer c.Close()
				continue
			}
			c.SetDeadline(time.Now().Add(defaultTestTimeout))
			in, err := io.ReadAll(c)
			if err == nil {
				_, err = c.Write(sha256Line(in))
			}
			c.(*net.TCPConn).CloseWrite()
			io.Copy(io.Discard, c)
			c.Close()
			served <- err
			return
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	started := 0
	load := &smallLoad{addr: addr, conns: 2, stall: defaultTestTimeout,
		more: func() bool {
			started++
			if started == 2 { // the job has been tried once: let it in
				close(accept)
			}
			return started == 1
		},
		check: func(reply []byte) error {
			if want := sha256Line(nil); !bytes.Equal(reply, want) {
				return fmt.Errorf("reply %q, want %q", reply, want)
			}
			return nil
		}}
	n, err := load.run(ctx)
	if n != 1 || err != nil {
		t.Fatalf("%d jobs, %v; want 1, nil", n, err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}
