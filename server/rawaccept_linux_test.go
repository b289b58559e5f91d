//go:build linux && (amd64 || arm64)

package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/oracle"
	"github.com/halfclose/halfclose/internal/testenv"
)

// serveRawRoute serves pipeline on a route port of s (Listen's listener)
// and returns its address and Serve's result.
func serveRawRoute(t *testing.T, s *TCPServer, pipeline string) (string, func() error) {
	t.Helper()
	p, err := s.Engine.Compile(pipeline)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.ServeRoute(ln, p) }()
	served := sync.OnceValue(func() error { return <-done })
	t.Cleanup(func() { s.Close(); served() })
	return ln.Addr().String(), served
}

// sendRoute sends input and its FIN to addr and returns the reply.
func sendRoute(t *testing.T, addr string, input []byte) (string, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(defaultTestTimeout))
	c.Write(input)
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	return string(b), err
}

func sockoptOf(t *testing.T, c syscall.Conn, level, opt int) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	v, gerr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), level, opt) }); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	return v
}

// An inline route (a digest) accepts raw, with TCP_NODELAY and keepalive
// from its listener; a route whose job does not run inline keeps net's
// accept.
func TestRawAcceptInlineRouteOnly(t *testing.T) {
	input := bytes.Repeat([]byte("0123456789abcdef"), 64)
	for _, tc := range []struct {
		pipeline string
		raw      bool
	}{{"sha256sum", true}, {"sort", false}} {
		t.Run(tc.pipeline, func(t *testing.T) {
			s := &TCPServer{Engine: engine.New(engine.Config{Registry: testRegistry()}), RawAccept: RawAcceptInline}
			got := make(chan net.Conn, 1)
			s.accepted = func(c net.Conn) {
				if _, raw := c.(*rawTCPConn); raw != tc.raw {
					t.Errorf("accepted a %T", c)
				}
				if v := sockoptOf(t, c.(syscall.Conn), unix.IPPROTO_TCP, unix.TCP_NODELAY); v == 0 {
					t.Error("accepted socket without TCP_NODELAY")
				}
				if v := sockoptOf(t, c.(syscall.Conn), unix.SOL_SOCKET, unix.SO_KEEPALIVE); v == 0 {
					t.Error("accepted socket without SO_KEEPALIVE")
				}
				got <- c
			}
			addr, _ := serveRawRoute(t, s, tc.pipeline)
			reply, err := sendRoute(t, addr, input)
			testenv.Recv(t, hangTimeout, "the route's accepted connection", got)
			if want := oracle.Output(t, input, tc.pipeline); reply != want || err != nil {
				t.Errorf("reply %q, %v; want %q", reply, err, want)
			}
		})
	}
}

// waitParked waits until a goroutine's stack holds both frames: it
// waits in the netpoller (a busy loop never parks there).
func waitParked(t *testing.T, fn, wait string) {
	t.Helper()
	for {
		var b strings.Builder
		pprof.Lookup("goroutine").WriteTo(&b, 2)
		for _, g := range strings.Split(b.String(), "\n\n") {
			if strings.Contains(g, fn) && strings.Contains(g, wait) {
				return
			}
		}
		time.Sleep(time.Millisecond) // polling a condition, not a synchronisation
	}
}

// With nothing queued, the raw accept waits in the netpoller, and the
// connection that comes is the one it returns.
func TestRawAcceptWaits(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a := newRawAccepter(ln)
	defer a.close()
	type res struct {
		c   net.Conn
		err error
	}
	got := make(chan res, 1)
	go func() { c, err := a.accept(); got <- res{c, err} }()
	waitParked(t, "rawAccepter).accept", "runtime_pollWait")
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	r := testenv.Recv(t, hangTimeout, "accept's return after the dial", got)
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.c.Close()
	if v := sockoptOf(t, r.c.(syscall.Conn), unix.IPPROTO_TCP, unix.TCP_NODELAY); v == 0 {
		t.Error("no TCP_NODELAY (from the listener)")
	}
	if r.c.RemoteAddr().String() != d.LocalAddr().String() || r.c.LocalAddr().String() != d.RemoteAddr().String() {
		t.Errorf("accepted %v->%v; dialled %v->%v", r.c.RemoteAddr(), r.c.LocalAddr(), d.LocalAddr(), d.RemoteAddr())
	}
}

// A connection queued before the raw accepter set TCP_NODELAY and
// keepalive on the listener (its socket was made then, without them) gets
// them as net's do: set on it.
func TestRawAcceptQueuedBefore(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // no keepalive of its own
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d, err := net.Dial("tcp", ln.Addr().String()) // queued once dialled
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a := newRawAccepter(ln)
	defer a.close()
	c, err := a.accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, o := range [][2]int{{unix.IPPROTO_TCP, unix.TCP_NODELAY}, {unix.SOL_SOCKET, unix.SO_KEEPALIVE}} {
		if v := sockoptOf(t, c.(syscall.Conn), o[0], o[1]); v == 0 {
			t.Errorf("option %v not set", o)
		}
	}
}

// The listener's close ends a raw accept's wait with net.ErrClosed, and
// closes the socket: the duplicate the wait is on does not keep it
// listening.
func TestRawAcceptListenerClose(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gl := NewGentleListener(ln)
	gl.rawAccept = newRawAccepter(ln)
	done := make(chan error, 1)
	go func() { _, err := gl.Accept(); done <- err }()
	waitParked(t, "rawAccepter).accept", "runtime_pollWait")
	gl.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v; want net.ErrClosed", err)
		}
	case <-time.After(defaultTestTimeout):
		t.Fatal("Accept still waits after the listener's Close")
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("the closed listener's port still accepts")
	}
}

// A gentle stop wakes the raw accept's wait, serves what is queued, and
// returns; a connection served before it gets its reply.
func TestRawAcceptGentleStop(t *testing.T) {
	s := &TCPServer{Engine: engine.New(engine.Config{Registry: testRegistry()}), RawAccept: RawAcceptInline}
	addr, served := serveRawRoute(t, s, "sha256sum")
	input := []byte("abc\n")
	want := oracle.Output(t, input, "sha256sum")
	if reply, err := sendRoute(t, addr, input); reply != want || err != nil {
		t.Fatalf("reply %q, %v; want %q", reply, err, want)
	}
	waitParked(t, "rawAccepter).accept", "runtime_pollWait")
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := served(); !errors.Is(err, ErrServerClosed) {
		t.Errorf("ServeRoute: %v; want ErrServerClosed", err)
	}
}

// A hurried stop (Close) aborts a connection's job mid-input, raw as
// net's: the client gets no reply (its FIN never came) but the error
// line, and Serve returns.
func TestRawAcceptHurriedStop(t *testing.T) {
	for _, mode := range []string{"inline", "off"} {
		t.Run(mode, func(t *testing.T) {
			s := &TCPServer{Engine: engine.New(engine.Config{Registry: testRegistry()}), RawAccept: mode}
			started := make(chan net.Conn, 1)
			s.accepted = func(c net.Conn) { started <- c }
			addr, served := serveRawRoute(t, s, "sha256sum")
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write([]byte("partial input, no FIN"))
			if _, raw := testenv.Recv(t, hangTimeout, "the accepted connection", started).(*rawTCPConn); raw != (mode == "inline") {
				t.Fatalf("raw accept %v in mode %s", raw, mode)
			}
			// The job waits for more input in the netpoller (a raw
			// connection has registered with it: its read had to wait).
			waitParked(t, "(*connReader).Read", "runtime_pollWait")
			s.Close()
			if err := served(); !errors.Is(err, ErrServerClosed) {
				t.Errorf("ServeRoute: %v; want ErrServerClosed", err)
			}
			c.SetReadDeadline(time.Now().Add(defaultTestTimeout))
			b, err := io.ReadAll(c)
			if want := "halfclose: error: UNAVAILABLE: "; !strings.HasPrefix(string(b), want) || err != nil {
				t.Errorf("reply %q, %v; want %q...", b, err, want)
			}
		})
	}
}

// rawPair returns a raw connection accepted from a client, and the client.
func rawPair(t *testing.T) (*rawTCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a := newRawAccepter(ln)
	defer a.close()
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	c, err := a.accept()
	if err != nil {
		t.Fatal(err)
	}
	return c.(*rawTCPConn), d.(*net.TCPConn)
}

// Close waits for a raw call under way on the descriptor before it
// closes it: the number may belong to another socket once closed.
func TestRawTCPConnCloseWaitsForCall(t *testing.T) {
	c, _ := rawPair(t)
	inside, proceed := make(chan struct{}), make(chan struct{})
	var valid error
	ctlDone := make(chan error, 1)
	go func() {
		ctlDone <- (rawFD{c}).Control(func(fd uintptr) {
			close(inside)
			<-proceed
			_, valid = unix.FcntlInt(fd, unix.F_GETFD, 0) // still this socket's
		})
	}()
	testenv.Recv(t, hangTimeout, "the raw call's start", inside)
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	for {
		c.mu.Lock()
		closing := c.closing
		c.mu.Unlock()
		if closing {
			break
		}
		time.Sleep(time.Millisecond) // polling a condition, not a synchronisation
	}
	select {
	case <-closed:
		t.Fatal("Close returned while a raw call used the descriptor")
	default:
	}
	close(proceed)
	if err := testenv.Recv(t, hangTimeout, "the raw call's return", ctlDone); err != nil || valid != nil {
		t.Errorf("the raw call: %v, descriptor %v", err, valid)
	}
	if err := testenv.Recv(t, hangTimeout, "Close's return after the raw call", closed); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// Once closed, a raw connection never touches its old descriptor
// number, which a new socket takes at once.
func TestRawTCPConnClosedFDReused(t *testing.T) {
	c, _ := rawPair(t)
	old := c.fd
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s)
	// The lowest free number from old's: old, just closed.
	nfd, err := unix.FcntlInt(uintptr(s), unix.F_DUPFD_CLOEXEC, old)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(nfd)
	if nfd != old {
		t.Skipf("the closed number %d was not reused (%d)", old, nfd)
	}
	calls := map[string]error{
		"SetLinger":        c.SetLinger(0),
		"CloseWrite":       c.CloseWrite(),
		"SetReadDeadline":  c.SetReadDeadline(time.Now()),
		"SetWriteDeadline": c.SetWriteDeadline(time.Now().Add(time.Hour)),
		"Close":            c.Close(),
		"Control":          (rawFD{c}).Control(func(uintptr) { t.Error("Control ran on a closed connection") }),
	}
	_, calls["Write"] = c.Write([]byte("x"))
	_, calls["Read"] = c.Read(make([]byte, 1))
	for name, err := range calls {
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("%s after Close: %v; want net.ErrClosed", name, err)
		}
	}
	if l, err := unix.GetsockoptLinger(nfd, unix.SOL_SOCKET, unix.SO_LINGER); err != nil || l.Onoff != 0 {
		t.Errorf("the new socket's SO_LINGER: %+v, %v: set through the closed connection", l, err)
	}
}

// The stop path's deadlines race the connection's own reads and its
// Close (go test -race): a read ends, every call after Close fails with
// net.ErrClosed, and Close closes once.
func TestRawTCPConnStopRacesClose(t *testing.T) {
	for range 50 {
		c, d := rawPair(t)
		var wg sync.WaitGroup
		wg.Go(func() {
			c.SetReadDeadline(time.Now()) // the stop's
		})
		wg.Go(func() {
			c.Read(make([]byte, 16)) // ends by the deadline, or Close
		})
		wg.Go(func() {
			c.SetWriteDeadline(time.Now())
		})
		d.Write([]byte("x"))
		c.Close()
		testenv.Within(t, hangTimeout, "the accepted connection's goroutines", wg.Wait)
		if err := c.SetReadDeadline(time.Now()); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("SetReadDeadline after Close: %v", err)
		}
		if err := c.Close(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("second Close: %v", err)
		}
	}
}

// fdCount is the number of descriptors the process has open.
func fdCount(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// A raw route port leaves no descriptor behind (the listener's
// duplicate, an accepted connection's) however serve ends: a gentle stop,
// a hurried one, or an accept error it returns (the listening socket shut
// down: EINVAL), whose caller then closes its listener.
func TestRawAcceptNoFDLeak(t *testing.T) {
	stops := map[string]func(s *TCPServer, ln net.Listener){
		"Shutdown": func(s *TCPServer, _ net.Listener) {
			ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
			defer cancel()
			s.Shutdown(ctx)
		},
		"Close": func(s *TCPServer, _ net.Listener) { s.Close() },
		"accept error": func(_ *TCPServer, ln net.Listener) {
			rc, err := ln.(*net.TCPListener).SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			rc.Control(func(fd uintptr) { unix.Shutdown(int(fd), unix.SHUT_RD) })
		},
	}
	for name, stop := range stops {
		for _, mode := range []string{"inline", "off"} {
			t.Run(name+"/"+mode, func(t *testing.T) {
				before := fdCount(t)
				s := &TCPServer{Engine: engine.New(engine.Config{Registry: testRegistry()}), RawAccept: mode}
				p, err := s.Engine.Compile("sha256sum")
				if err != nil {
					t.Fatal(err)
				}
				ln, err := Listen("127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- s.ServeRoute(ln, p) }()
				input := []byte("abc\n")
				if reply, err := sendRoute(t, ln.Addr().String(), input); reply != oracle.Output(t, input, "sha256sum") || err != nil {
					t.Fatalf("reply %q, %v", reply, err)
				}
				if mode == "inline" {
					waitParked(t, "rawAccepter).accept", "runtime_pollWait")
				}
				stop(s, ln)
				select {
				case err := <-done:
					if name == "accept error" && err == nil || name != "accept error" && !errors.Is(err, ErrServerClosed) {
						t.Errorf("ServeRoute: %v", err)
					}
				case <-time.After(defaultTestTimeout):
					t.Fatal("ServeRoute did not return")
				}
				ln.Close()
				s.Close()
				if after := fdCount(t); after != before {
					t.Errorf("%d descriptors open after the stop, %d before", after, before)
				}
			})
		}
	}
}

// A client's reset is a raw read's error, ECONNRESET, never its io.EOF
// (an abort, not an end): the first error a read returns, whether the
// reset came before the read or while it waited.
func TestRawTCPConnResetIsNotEOF(t *testing.T) {
	for _, wait := range []bool{false, true} {
		c, d := rawPair(t)
		if wait {
			go func() {
				waitParked(t, "(*rawTCPConn).Read", "runtime_pollWait")
				d.Write([]byte("some input"))
				d.SetLinger(0)
				d.Close()
			}()
		} else {
			d.Write([]byte("some input"))
			d.SetLinger(0)
			d.Close()
		}
		// No deadline: it would take the read through the os.File; a
		// reset always ends the read.
		var err error
		for err == nil {
			_, err = c.Read(make([]byte, 64))
		}
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("wait %v: a read after the client's reset: %v; want ECONNRESET", wait, err)
		}
		c.Close()
	}
}

// TestTCPAddrOfLinkLocalCached: a link-local IPv6 peer's zone is its
// interface's name, as net writes it, and naming it costs an accept no
// more allocations than an IPv4 peer's address does (it made a netlink
// request, net.InterfaceByIndex, at every accept: 29 allocations
// for lo against 2); an index with no interface is named in decimal.
func TestTCPAddrOfLinkLocalCached(t *testing.T) {
	ifs, err := net.Interfaces()
	if err != nil || len(ifs) == 0 {
		t.Skipf("no interfaces: %v", err)
	}
	ifi := ifs[0]
	v6 := func(ip string, scope uint32) *unix.RawSockaddrAny {
		var sa unix.RawSockaddrAny
		a := (*unix.RawSockaddrInet6)(unsafe.Pointer(&sa))
		a.Family, a.Scope_id = unix.AF_INET6, scope
		copy(a.Addr[:], net.ParseIP(ip).To16())
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		p[0], p[1] = 0x12, 0x34
		return &sa
	}
	var v4 unix.RawSockaddrAny
	a4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&v4))
	a4.Family, a4.Addr = unix.AF_INET, [4]byte{127, 0, 0, 1}
	ll, global := v6("fe80::1", uint32(ifi.Index)), v6("2001:db8::1", 0)
	if got, want := tcpAddrOf(ll).String(), (&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 0x1234, Zone: ifi.Name}).String(); got != want {
		t.Errorf("link-local peer on %s (index %d): %s, want %s", ifi.Name, ifi.Index, got, want)
	}
	if got, want := tcpAddrOf(v6("fe80::1", 1<<30)).Zone, "1073741824"; got != want {
		t.Errorf("index with no interface: zone %q, want %q", got, want)
	}
	common := testing.AllocsPerRun(100, func() { tcpAddrOf(&v4) })
	for name, sa := range map[string]*unix.RawSockaddrAny{"IPv6": global, "link-local IPv6": ll} {
		if n := testing.AllocsPerRun(100, func() { tcpAddrOf(sa) }); n > common {
			t.Errorf("%s peer: %v allocations an accept, an IPv4 peer's %v", name, n, common)
		}
	}
}

// TestZoneCache: a zoneCache looks an index up once per zoneCacheAge (and
// again should the clock go back), names an index with no interface in
// decimal, and holds at most zoneCacheMax indexes.
func TestZoneCache(t *testing.T) {
	lookups, names := 0, map[int]string{3: "eth0"}
	z := zoneCache{lookup: func(i int) (*net.Interface, error) {
		lookups++
		if n, ok := names[i]; ok {
			return &net.Interface{Index: i, Name: n}, nil
		}
		return nil, errors.New("no such interface")
	}}
	t0 := time.Unix(1e9, 0)
	for _, step := range []struct {
		index   int
		at      time.Duration
		rename  string
		want    string
		lookups int
	}{
		{3, 0, "", "eth0", 1},
		{3, zoneCacheAge - 1, "wlan0", "eth0", 1}, // renamed, not seen yet
		{3, zoneCacheAge, "", "wlan0", 2},
		{3, zoneCacheAge - 1, "", "wlan0", 3}, // the clock went back
		{9, 0, "", "9", 4},
		{9, 1, "", "9", 4},
	} {
		if step.rename != "" {
			names[step.index] = step.rename
		}
		if got := z.name(step.index, t0.Add(step.at)); got != step.want || lookups != step.lookups {
			t.Errorf("index %d at %v: %q after %d lookups, want %q after %d", step.index, step.at, got, lookups, step.want, step.lookups)
		}
	}
	for i := range 10 * zoneCacheMax {
		z.name(100+i, t0)
		if len(z.names) > zoneCacheMax {
			t.Fatalf("%d indexes held, at most %d", len(z.names), zoneCacheMax)
		}
	}
}
