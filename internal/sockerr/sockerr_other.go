//go:build !windows

package sockerr

// The errno values syscall names are the system's own: nothing more to match.

func refused(error) bool         { return false }
func reset(error) bool           { return false }
func broken(error) bool          { return false }
func peer(error) bool            { return false }
func tooManyFiles(error) bool    { return false }
func addrUnavailable(error) bool { return false }
func addrInUse(error) bool       { return false }
