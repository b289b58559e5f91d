//go:build !linux && !darwin && !freebsd

package text

// physicalMemory is gnulib's guess where it cannot read the machine's.
func physicalMemory() uint64 { return gnuPhysmemGuess }
