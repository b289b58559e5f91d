package text

// Internals for the tests of package text_test.
const LineBufSize = lineBufSize

var (
	BuildSort    = buildSort
	ParseSortKey = parseSortKey
	CountWords   = countWords
)

// SetSortRunsHook sets the function told how many spill runs a sort has
// open after each spill (nil: none).
func SetSortRunsHook(f func(open int)) { sortRunsHook = f }
