//go:build !linux

package loopcc

func setReno(fd uintptr) { trySetReno(fd) }

func trySetReno(uintptr) bool { return false }
