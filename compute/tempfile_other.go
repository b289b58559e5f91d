//go:build !windows

package compute

import "os"

// createThenUnlink creates a file in dir (the system's temp dir when
// empty) and unlinks it: its space is freed when its descriptor closes.
// A process killed between the two leaves the file behind.
func createThenUnlink(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, "halfclose-spool-*")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
