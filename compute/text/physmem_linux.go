package text

import "syscall"

// physicalMemory is the machine's RAM in bytes, as gnulib's
// physmem_total reads it (sysinfo's totalram × mem_unit).
func physicalMemory() uint64 {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil {
		return gnuPhysmemGuess
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}
