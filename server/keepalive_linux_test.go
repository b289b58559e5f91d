package server

import (
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// keepAliveOf reads c's keepalive settings.
func keepAliveOf(t *testing.T, c syscall.Conn) [4]int {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got [4]int
	var gerr error
	raw.Control(func(fd uintptr) {
		for i, o := range [][2]int{
			{unix.SOL_SOCKET, unix.SO_KEEPALIVE},
			{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE},
			{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL},
			{unix.IPPROTO_TCP, unix.TCP_KEEPCNT},
		} {
			if got[i], err = unix.GetsockoptInt(int(fd), o[0], o[1]); err != nil {
				gerr = err
			}
		}
	})
	if gerr != nil {
		t.Fatal(gerr)
	}
	return got
}

// acceptOne accepts a connection dialed to l.
func acceptOne(t *testing.T, l net.Listener) *net.TCPConn {
	t.Helper()
	d, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// TestListenKeepAliveInherited: Listen sets keepalive once, on the
// listening socket, and the connections it accepts have what Go's own
// listener gives each accepted connection with 4 setsockopt calls.
func TestListenKeepAliveInherited(t *testing.T) {
	l, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := keepAliveOf(t, l.(*net.TCPListener)); got[0] == 0 {
		t.Fatalf("listening socket keepalive %v: not set on the listener", got)
	}
	goL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer goL.Close()
	want := keepAliveOf(t, acceptOne(t, goL))
	if want[0] == 0 {
		t.Fatalf("Go's accepted connection keepalive %v: off", want)
	}
	if got := keepAliveOf(t, acceptOne(t, l)); got != want {
		t.Fatalf("accepted connection keepalive (on, idle, interval, count) %v, want Go's %v", got, want)
	}
}
