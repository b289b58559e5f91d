package loopcc

import "golang.org/x/sys/unix"

func setReno(fd uintptr) {
	_ = unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, "reno")
}
