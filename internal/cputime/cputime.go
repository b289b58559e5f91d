// Package cputime reads the process's own CPU time (user + system), which
// the benchmarks report per GiB. It is getrusage(2) on Unix and
// GetProcessTimes on Windows: syscall has no one call for both, and a
// benchmark's file that called syscall.Getrusage kept its package's tests
// from compiling for Windows.
package cputime
