//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package main

// Without the terminal ioctls used here (Windows, Solaris, ...), stderr is never taken for a
// terminal: progress shows only with --progress, a line now and then.
func isTerminal(int) bool { return false }

func termWidth(int) int { return 0 }
