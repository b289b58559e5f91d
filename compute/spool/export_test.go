package spool

import "os"

// PunchHoles reports whether the file system of dir punches holes.
func PunchHoles(dir string) bool {
	f, err := os.CreateTemp(dir, "punch")
	if err != nil {
		return false
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.Write(make([]byte, 8<<10)); err != nil {
		return false
	}
	return punchHole(f, 0, 4<<10)
}
