package grep

// Internals for the tests of package grep_test.
const (
	GrepBlock   = grepBlock
	GrepBufSize = grepBufSize
)

var LowerASCII = lowerASCII
