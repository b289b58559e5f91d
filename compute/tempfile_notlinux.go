//go:build !windows && !linux

package compute

import "os"

// createUnlinked creates a file in dir (the system's temp dir when empty)
// that vanishes with its descriptor (createThenUnlink).
func createUnlinked(dir string) (*os.File, error) { return createThenUnlink(dir) }
