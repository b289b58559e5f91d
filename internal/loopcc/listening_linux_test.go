package loopcc

import (
	"context"
	"net"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/halfclose/halfclose/internal/testenv"
)

func congestionOf(t *testing.T, c *net.TCPConn) string {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var cc string
	var gerr error
	raw.Control(func(fd uintptr) { cc, gerr = unix.GetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION) })
	if gerr != nil {
		t.Fatal(gerr)
	}
	return cc
}

func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	l, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestListeningLoopback: a listener on a loopback address gets Reno, and
// the connections it accepts have it without Accepted; one on every
// address is left alone. Skipped where the system's default is Reno
// already (testenv.DefaultCongestion).
func TestListeningLoopback(t *testing.T) {
	testenv.DefaultCongestion(t) // not Reno already: Reno tells
	if Listening(listen(t, "0.0.0.0:0")) {
		t.Error("a listener on 0.0.0.0 got Reno: its peers may be anywhere")
	}
	l := listen(t, "127.0.0.1:0")
	if !Listening(l) {
		t.Fatal("a listener on 127.0.0.1 did not get Reno")
	}
	d, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := congestionOf(t, c.(*net.TCPConn)); got != "reno" {
		t.Errorf("accepted connection uses %q, want reno (from its listener)", got)
	}
}
