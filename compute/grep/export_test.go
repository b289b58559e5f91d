package grep

// Internals for the tests of package grep_test.
const (
	GrepBlock   = grepBlock
	GrepBufSize = grepBufSize
)

var LowerASCII = lowerASCII

// GNUReadEnds are where GNU grep's reads of in end, as modelled
// (blocks.go), before the end of in.
func GNUReadEnds(in []byte) []int64 {
	var ends []int64
	reads, clean := newGNUReads(), int64(0)
	for reads.end < int64(len(in)) {
		ends = append(ends, reads.end)
		advanceReads(&reads, &clean, in, 0, reads.end, true, nil)
	}
	return ends
}
