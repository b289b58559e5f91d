package digest

import (
	"runtime"

	"golang.org/x/sys/cpu"
)

// crcDebugLine is the line GNU cksum 9.1 --debug writes on standard error
// when it sums with the CRC: which of its implementations it chose, by
// the CPU it runs on (pclmul with AVX on x86, else its generic one). We
// report what GNU would choose on the server's CPU; ours is the same
// CRC whatever it says.
func crcDebugLine() string {
	switch {
	case runtime.GOARCH != "amd64" && runtime.GOARCH != "386":
		return "cksum: using generic hardware support"
	case cpu.X86.HasPCLMULQDQ && cpu.X86.HasAVX:
		return "cksum: using pclmul hardware support"
	}
	return "cksum: pclmul support not detected"
}
