package server

import (
	"errors"
	"net"
	"os"
	"syscall"
)

const gentleSupported = true

// shrinkBacklog sets the listening socket's backlog to 0: Linux then
// queues at most one connection not yet accepted and drops further SYNs.
func shrinkBacklog(raw syscall.RawConn) {
	raw.Control(func(fd uintptr) { syscall.Listen(int(fd), 0) })
}

// acceptNow accepts a queued connection without waiting: EAGAIN when
// there is none.
func acceptNow(raw syscall.RawConn) (*net.TCPConn, error) {
	nfd := -1
	var aerr error
	if err := raw.Control(func(fd uintptr) {
		nfd, _, aerr = syscall.Accept4(int(fd), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
	}); err != nil {
		return nil, err
	}
	if aerr != nil {
		return nil, aerr
	}
	f := os.NewFile(uintptr(nfd), "accepted")
	defer f.Close() // FileConn holds a duplicate
	c, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		c.Close()
		return nil, errors.New("accepted a connection that is not TCP")
	}
	return tc, nil
}
