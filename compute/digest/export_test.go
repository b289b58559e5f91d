package digest

import "hash"

// Internals for the tests of package digest_test.
const MultiHashParallelMin = multiHashParallelMin

// NewSM3 is cksum -a sm3's hash.
func NewSM3() hash.Hash { return newSM3() }

const SM3BlockSize = sm3BlockSize
