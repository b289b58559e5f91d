//go:build !linux

package server

import "net"

// socketBroken cannot tell here (TCP_INFO's state is Linux's): an
// ambiguous errno of a send from a spill file keeps its default side.
func socketBroken(*net.TCPConn) (broken, known bool) { return false, false }
