//go:build darwin || freebsd

package text

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// physicalMemory is the machine's RAM in bytes, as gnulib's
// physmem_total reads it (the hw.memsize or hw.physmem sysctl).
func physicalMemory() uint64 {
	name := "hw.physmem"
	if runtime.GOOS == "darwin" {
		name = "hw.memsize"
	}
	n, err := unix.SysctlUint64(name)
	if err != nil || n == 0 {
		return gnuPhysmemGuess
	}
	return n
}
