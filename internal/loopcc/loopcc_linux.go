package loopcc

import "golang.org/x/sys/unix"

func setReno(fd uintptr) { trySetReno(fd) }

// trySetReno sets Reno and reports whether it could.
func trySetReno(fd uintptr) bool {
	return unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, "reno") == nil
}
