package text

// Internals for the tests of package text_test.
const LineBufSize = lineBufSize

var (
	BuildSort    = buildSort
	ParseSortKey = parseSortKey
	CountWords   = countWords
)
