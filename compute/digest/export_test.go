package digest

// Internals for the tests of package digest_test.
const MultiHashParallelMin = multiHashParallelMin
