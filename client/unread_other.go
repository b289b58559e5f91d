//go:build !unix

package client

import "net"

// unreadBytes reports none where no socket is peeked at (Windows: Go's
// sockets there have no non-blocking peek): a broken write of a
// connection whose reads returned nothing counts as unspoken.
func unreadBytes(net.Conn) bool { return false }
