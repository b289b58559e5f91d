package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
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

// blockSYNs attaches a classic BPF filter to the listening socket that
// drops every segment with SYN set and ACK clear, and passes the rest: no
// handshake begins any more, while those under way complete (their last
// segment is an ACK). The kernel runs a TCP socket's filter with the
// packet starting at the TCP header, whose byte 13 holds the flags.
// Connections accepted later inherit the filter, which passes all they
// receive. It reports whether the filter is attached.
func blockSYNs(raw syscall.RawConn) bool {
	const (
		flagACK = 0x10
		flagSYN = 0x02
	)
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 13},
		// Jumps count from the next instruction.
		{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, K: flagACK, Jt: 1}, // ACK: pass
		{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, K: flagSYN, Jt: 1}, // SYN: drop
		{Code: unix.BPF_RET | unix.BPF_K, K: 0xffffffff},                     // pass
		{Code: unix.BPF_RET | unix.BPF_K, K: 0},                              // drop
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog)
	}); err != nil {
		return false
	}
	return serr == nil
}

// handshakesUnderway counts the connections to addr in SYN_RECV: the
// kernel answered their SYN and waits for the ACK that queues them for
// accept. ok is false when the kernel does not say.
func handshakesUnderway(addr *net.TCPAddr) (n int, ok bool) {
	n, err := countTCP(tcpSynRecv, func(family uint8, id []byte) bool {
		return endpointIs(family, id[0:2], id[4:20], addr)
	})
	return n, err == nil
}

const (
	tcpSynRecv      = 3  // TCP_SYN_RECV in the kernel's state numbering
	inetDiagReqLen  = 56 // struct inet_diag_req_v2
	inetDiagMsgLen  = 72 // struct inet_diag_msg
	inetDiagMsgSock = 4  // offset of the socket id (inet_diag_sockid) in a reply
)

// countTCP counts the TCP sockets, IPv4 and IPv6, in the kernel state
// given whose inet_diag_sockid (source port, destination port, source
// address, destination address; network byte order) match accepts. It asks
// sock_diag (NETLINK_SOCK_DIAG), as ss does. A kernel without IPv6 refuses
// the IPv6 dump: it has no IPv6 sockets, and the count is the IPv4 one.
func countTCP(state int, match func(family uint8, id []byte) bool) (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	tv := unix.Timeval{Sec: 1}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return 0, err
	}
	total := 0
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		n, err := dumpTCP(fd, family, state, match)
		if errors.Is(err, errDumpRefused) && family == unix.AF_INET6 {
			continue
		}
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// errDumpRefused is sock_diag's answer to a dump of a family it does not
// know.
var errDumpRefused = errors.New("sock_diag knows no such family")

// dumpTCP is countTCP for one address family.
func dumpTCP(fd int, family uint8, state int, match func(family uint8, id []byte) bool) (int, error) {
	req := make([]byte, unix.SizeofNlMsghdr+inetDiagReqLen)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], 1) // sequence number
	body := req[unix.SizeofNlMsghdr:]
	body[0] = family
	body[1] = unix.IPPROTO_TCP
	binary.NativeEndian.PutUint32(body[4:], 1<<state)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, err
	}
	n := 0
	buf := make([]byte, 32<<10)
	for {
		m, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return 0, err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:m])
		if err != nil {
			return 0, err
		}
		for _, msg := range msgs {
			switch msg.Header.Type {
			case unix.NLMSG_DONE:
				return n, nil
			case unix.NLMSG_ERROR:
				// An nlmsgerr: the negated errno first. A family the
				// kernel has no sock_diag handler for is ENOENT.
				if len(msg.Data) >= 4 {
					switch errno := -int32(binary.NativeEndian.Uint32(msg.Data)); unix.Errno(errno) {
					case unix.ENOENT, unix.EAFNOSUPPORT:
						return 0, errDumpRefused
					default:
						return 0, fmt.Errorf("sock_diag refused the dump: %w", unix.Errno(errno))
					}
				}
				return 0, errors.New("sock_diag refused the dump")
			}
			if len(msg.Data) < inetDiagMsgLen || int(msg.Data[1]) != state {
				continue
			}
			if match(msg.Data[0], msg.Data[inetDiagMsgSock:]) {
				n++
			}
		}
	}
}

// endpointIs reports whether a port and an address of an inet_diag_sockid
// (network byte order; an IPv4 address in the first 4 of the 16 bytes) are
// addr's: its port, and its IP unless that is unspecified.
func endpointIs(family uint8, port, ip []byte, addr *net.TCPAddr) bool {
	if int(binary.BigEndian.Uint16(port)) != addr.Port {
		return false
	}
	if addr.IP == nil || addr.IP.IsUnspecified() {
		return true
	}
	if family == unix.AF_INET {
		ip = ip[:4]
	}
	return net.IP(ip).Equal(addr.IP)
}

// inheritKeepAlive: Linux gives an accepted socket its listener's
// SO_KEEPALIVE and TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT.
const inheritKeepAlive = true

// listenKeepAlive gives a listening socket Go's default keepalive for
// accepted connections (net.KeepAliveConfig's defaults).
func listenKeepAlive(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		for _, o := range [][3]int{
			{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
			{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 15},
			{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 15},
			{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 9},
		} {
			if serr = unix.SetsockoptInt(int(fd), o[0], o[1], o[2]); serr != nil {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// listenLinger gives a listening socket SO_LINGER 0, which Linux copies
// to every connection it makes from then on (armCrashReset), and reports
// whether it did, and how many connections were queued for accept then
// (made before: without it). A listening socket's TCP_INFO counts those
// in tcpi_unacked.
func listenLinger(rc syscall.RawConn) (ok bool, queued int) {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1})
		if serr != nil {
			return
		}
		var info *unix.TCPInfo
		if info, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); serr == nil {
			queued = int(info.Unacked)
		}
	}); err != nil || serr != nil {
		return false, 0
	}
	return true, queued
}
