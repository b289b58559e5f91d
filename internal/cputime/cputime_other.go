//go:build !unix && !windows

package cputime

import (
	"errors"
	"time"
)

// Process fails here: this system has no call for it that we use.
func Process() (time.Duration, error) {
	return 0, errors.New("cputime: not supported on this system")
}
