//go:build !linux

package server

import "net"

// watchReset does nothing here: a reset after the FIN is found when the
// reply is written.
func watchReset(*net.TCPConn, func(error)) (stop func()) { return func() {} }
