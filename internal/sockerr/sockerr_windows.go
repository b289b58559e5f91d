package sockerr

import (
	"errors"

	"golang.org/x/sys/windows"
)

// refused: ConnectEx reports WSAECONNREFUSED or ERROR_CONNECTION_REFUSED.
func refused(err error) bool {
	return errors.Is(err, windows.WSAECONNREFUSED) || errors.Is(err, windows.ERROR_CONNECTION_REFUSED)
}

func reset(err error) bool { return errors.Is(err, windows.WSAECONNRESET) }

// broken: a write to a connection the peer reset or closed fails with
// WSAECONNRESET or WSAECONNABORTED (what Go's net takes for a broken
// connection on Windows), or WSAESHUTDOWN; a shutdown after the reset,
// WSAENOTCONN.
func broken(err error) bool {
	return errors.Is(err, windows.WSAECONNRESET) || errors.Is(err, windows.WSAECONNABORTED) ||
		errors.Is(err, windows.WSAESHUTDOWN) || errors.Is(err, windows.WSAENOTCONN)
}

// peer: a send that timed out, or whose peer or network cannot be
// reached or is down, or whose connection was aborted or refused, or
// that Winsock had no buffer for (WSAENOBUFS).
func peer(err error) bool {
	return errors.Is(err, windows.WSAETIMEDOUT) || errors.Is(err, windows.WSAEHOSTUNREACH) ||
		errors.Is(err, windows.WSAENETUNREACH) || errors.Is(err, windows.WSAEHOSTDOWN) ||
		errors.Is(err, windows.WSAENETDOWN) || errors.Is(err, windows.WSAENETRESET) ||
		errors.Is(err, windows.WSAECONNREFUSED) || errors.Is(err, windows.WSAENOBUFS)
}

func tooManyFiles(err error) bool { return errors.Is(err, windows.WSAEMFILE) }

func addrUnavailable(err error) bool {
	return errors.Is(err, windows.WSAEADDRNOTAVAIL) || errors.Is(err, windows.WSAEAFNOSUPPORT) ||
		errors.Is(err, windows.WSAEPROTONOSUPPORT)
}

func addrInUse(err error) bool { return errors.Is(err, windows.WSAEADDRINUSE) }
