//go:build !linux

package loopcc

func setReno(uintptr) {}

func trySetReno(uintptr) bool { return false }
