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

// SetSortMergeHook sets the function told of each merge of spill runs
// into a spill run: how many it read and the new run's level (nil: none).
func SetSortMergeHook(f func(runs, level int)) { sortMergeHook = f }

// SetQueueRangeHook sets the function told of each read of a range of a
// chunkQueue (nil: none).
func SetQueueRangeHook(f func()) { queueRangeHook = f }
