//go:build !unix

package text

// openFilesLimit is gnulib's OPEN_MAX, where there is no getrlimit.
func openFilesLimit() uint64 { return gnuOpenMax }
