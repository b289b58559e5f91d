//go:build !linux

package loopcc

func setReno(uintptr) {}
