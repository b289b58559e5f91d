//go:build !unix

package computetest

import "time"

// processCPU returns 0: the CPU time is not read here.
func processCPU() time.Duration { return 0 }
