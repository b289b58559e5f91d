//go:build !linux

package server

// resetWatchMinInput: see resetwatch_linux.go; nothing is watched here.
const resetWatchMinInput = 0

// watchesReset: nothing is watched here.
const watchesReset = false

// watchReset does nothing here: a reset after the FIN is found when the
// reply is written.
func watchReset(tcpConn, func(error)) (stop func() error) { return func() error { return nil } }
