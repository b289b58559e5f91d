package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/halfclose/halfclose/internal/testenv"
)

// tcpSynSent is TCP_SYN_SENT in the kernel's state numbering: a client's
// socket whose SYN is unanswered.
const tcpSynSent = 2

// TestGentleRefusesDuringStop: once the stop began, a client's SYN is
// dropped, so its connect never completes against a socket about to
// close; when the socket has closed, the SYN sent again is refused.
// Without the filter the kernel completes the handshake (the test's
// client connects, and the close would have reset it).
func TestGentleRefusesDuringStop(t *testing.T) {
	t.Parallel()
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().(*net.TCPAddr)
	raw, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if !blockSYNs(raw) {
		t.Fatal("the SYN filter could not be attached to a plain-TCP listener")
	}
	dialed := make(chan error, 1)
	go func() {
		d := net.Dialer{Timeout: defaultTestTimeout}
		c, err := d.Dial("tcp", addr.String())
		if err == nil {
			c.Close()
		}
		dialed <- err
	}()
	// Wait until the client's SYN went out and stayed unanswered: its
	// socket is in SYN_SENT (a handshake the filter let through would be
	// done within microseconds on loopback; the check is repeated below).
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	for {
		n, err := countTCP(tcpSynSent, func(family uint8, id []byte) bool {
			return endpointIs(family, id[2:4], id[20:36], addr)
		})
		if err != nil {
			t.Fatalf("sock_diag: %v", err)
		}
		if n > 0 {
			break
		}
		select {
		case err := <-dialed:
			t.Fatalf("the connect ended (%v) while SYNs were dropped; want it pending", err)
		case <-ctx.Done():
			t.Fatal("the client's socket never showed in SYN_SENT")
		default:
			runtime.Gosched()
		}
	}
	if n, ok := handshakesUnderway(addr); !ok || n != 0 {
		t.Fatalf("handshakes under way: %d, %v; want 0 (the SYN was dropped)", n, ok)
	}
	ln.Close()
	if err := testenv.Recv(t, hangTimeout, "the dial's result", dialed); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("connect after the close: %v; want refused", err)
	}
}

// TestGentleStopUnderConnects stops listeners while clients connect in a
// loop, each sending a request and its FIN: every client gets its reply
// or a refused connect, never a reset after connecting. Closing the
// socket once the queue is found empty, the backlog at 0 but without the
// SYN filter, reset a client after its connect in 2 of 200 rounds of the
// long variant (make test-long); in 1 of 100 on Go's default (Multipath
// TCP) listener, which takes no filter.
func TestGentleStopUnderConnects(t *testing.T) {
	t.Parallel()
	// groups of rounds run side by side, each round one listener and its
	// clients; a round lasts about a second (a dropped SYN is sent again a
	// second later).
	groups, rounds, clients := 2, 2, 8
	if testenv.Long() {
		groups, rounds = 4, 25
	}
	var replies, refused atomic.Int64
	var wg sync.WaitGroup
	for range groups {
		wg.Go(func() {
			for range rounds {
				stopUnderConnects(t, clients, &replies, &refused)
			}
		})
	}
	wg.Wait()
	t.Logf("%d replies, %d refused connects", replies.Load(), refused.Load())
}

// stopUnderConnects is one round of TestGentleStopUnderConnects.
func stopUnderConnects(t *testing.T, clients int, replies, refused *atomic.Int64) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Error(err)
		return
	}
	addr := ln.Addr().String()
	gl := NewGentleListener(ln)
	served := make(chan error, 1)
	go func() { served <- echoServe(gl) }()
	var cwg, first sync.WaitGroup
	first.Add(clients)
	stop := make(chan struct{})
	for i := range clients {
		cwg.Go(func() {
			firstDone := sync.OnceFunc(first.Done)
			defer firstDone()
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.Dial("tcp", addr)
				if errors.Is(err, syscall.ECONNREFUSED) {
					refused.Add(1)
					return
				}
				if err != nil {
					t.Errorf("connect: %v", err)
					return
				}
				tc := c.(*net.TCPConn)
				req := fmt.Sprintf("%d.%d", i, j)
				io.WriteString(tc, req)
				tc.CloseWrite()
				b, err := io.ReadAll(tc)
				tc.Close()
				if err != nil || string(b) != "reply to "+req {
					t.Errorf("client connected during the stop: reply %q, %v; want %q", b, err, "reply to "+req)
					return
				}
				replies.Add(1)
				firstDone()
			}
		})
	}
	testenv.Within(t, hangTimeout, "every client in its loop", first.Wait)
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	if err := gl.StopAccepting(ctx); err != nil {
		t.Errorf("StopAccepting: %v", err)
	}
	close(stop)
	testenv.Within(t, hangTimeout, "the clients' return after the stop", cwg.Wait)
	testenv.Recv(t, hangTimeout, "Serve's return after the stop", served)
}

// TestSockDiagUnknownFamily: a dump of a family sock_diag has no handler
// for (a kernel without IPv6 has none for AF_INET6) is errDumpRefused,
// which countTCP takes for no sockets; any other refusal (an invalid
// family) stays an error.
func TestSockDiagUnknownFamily(t *testing.T) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		t.Skipf("no sock_diag here: %v", err)
	}
	defer unix.Close(fd)
	all := func(uint8, []byte) bool { return true }
	if _, err := dumpTCP(fd, unix.AF_DECnet, tcpSynRecv, all); !errors.Is(err, errDumpRefused) {
		t.Errorf("dump of AF_DECnet: %v; want errDumpRefused (ENOENT)", err)
	}
	if _, err := dumpTCP(fd, 250, tcpSynRecv, all); err == nil || errors.Is(err, errDumpRefused) {
		t.Errorf("dump of family 250: %v; want another error (EINVAL)", err)
	}
	if _, err := dumpTCP(fd, unix.AF_INET, tcpSynRecv, all); err != nil {
		t.Errorf("dump of AF_INET: %v", err)
	}
}
