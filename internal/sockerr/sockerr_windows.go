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

func tooManyFiles(err error) bool { return errors.Is(err, windows.WSAEMFILE) }

func addrUnavailable(err error) bool {
	return errors.Is(err, windows.WSAEADDRNOTAVAIL) || errors.Is(err, windows.WSAEAFNOSUPPORT) ||
		errors.Is(err, windows.WSAEPROTONOSUPPORT)
}

func addrInUse(err error) bool { return errors.Is(err, windows.WSAEADDRINUSE) }
