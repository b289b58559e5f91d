package text

import (
	"math"

	"github.com/halfclose/halfclose/compute"
)

// GNU sort's resource flags, -S (--buffer-size), --parallel and
// --batch-size, change how much memory, how many threads and how many
// files at once GNU uses, never its output. The server sets those for
// every job (--spool-mem, --spool-disk, --spool-dir): a sort command
// line taken from a script that tunes them runs as it is, its values
// checked as GNU checks them and then ignored. -T (a directory the
// request would name) and --compress-program (a program it would run)
// stay refused: the server never opens a path or runs a program a
// request names.

// sortSizeSuffixes are the multipliers GNU sort 9.1 takes after -S's
// number (xstrtoumax's valid_suffixes in specify_sort_size); 'b' and '%'
// are read apart from them.
const sortSizeSuffixes = "EgGkKmMPtTYZ"

// sortResourceFlag checks the value of -S, --parallel or --batch-size
// as GNU sort does, and refuses what GNU refuses with its reason. Other
// flags are not its concern.
func sortResourceFlag(u compute.FlagUse) error {
	switch u.Key {
	case "S":
		return sortBufferSize(u)
	case "parallel":
		return sortParallel(u)
	case "batch-size":
		return sortBatchSize(u)
	}
	return nil
}

// sortBufferSize is GNU's specify_sort_size without its effect: a
// number with a multiplier suffix, KiB without one, 'b' bytes, '%' a
// share of the machine's physical memory; too large is past the size
// type (size_t) once multiplied.
func sortBufferSize(u compute.FlagUse) error {
	n, rest, e := compute.XStrtoumax(u.Value, 10, sortSizeSuffixes)
	lastDigit := func() bool {
		// GNU's c_isdigit (suffix[-1]): the byte before what is left.
		i := len(u.Value) - len(rest) - 1
		return i >= 0 && '0' <= u.Value[i] && u.Value[i] <= '9'
	}
	if e == compute.NumOK && lastDigit() {
		if n > math.MaxUint64/1024 {
			e = compute.NumOverflow
		} else {
			n *= 1024 // the default unit is KiB
		}
	}
	if e == compute.NumBadSuffix && lastDigit() && len(rest) == 1 {
		switch rest[0] {
		case 'b':
			e = compute.NumOK
		case '%':
			// physmem_total () * n / 100, in double as GNU's.
			if mem := float64(physicalMemory()) * float64(n) / 100; mem < math.MaxUint64 {
				n, e = uint64(mem), compute.NumOK
			} else {
				e = compute.NumOverflow
			}
		}
	}
	if e == compute.NumOK && n > math.MaxUint {
		e = compute.NumOverflow // past size_t (32-bit targets)
	}
	return sortNumberError(u, e)
}

// sortParallel is GNU's specify_nthreads: a number, an overflow being
// the most threads; zero is refused.
func sortParallel(u compute.FlagUse) error {
	n, _, e := compute.XStrtoumax(u.Value, 10, "")
	if e == compute.NumOverflow {
		return nil
	}
	if e != compute.NumOK {
		return sortNumberError(u, e)
	}
	if n == 0 {
		return compute.Invalidf("sort: number in parallel must be nonzero (%s %q)", u.Name, u.Value)
	}
	return nil
}

// sortBatchSize is GNU's specify_nmerge: at least 2, and at most the
// files GNU could open at once, its soft limit of open files less 3
// (here the server's).
func sortBatchSize(u compute.FlagUse) error {
	n, _, e := compute.XStrtoumax(u.Value, 10, "")
	if e == compute.NumOK && n < 2 {
		return compute.Invalidf("sort: invalid %s argument %q: the minimum is 2", u.Name, u.Value)
	}
	if limit := max(openFilesLimit(), 3) - 3; e == compute.NumOverflow || e == compute.NumOK && (n > math.MaxUint32 || n > limit) {
		return compute.Invalidf("sort: %s argument %q too large: the maximum with the server's limit of open files is %d", u.Name, u.Value, limit)
	}
	return sortNumberError(u, e)
}

// sortNumberError is gnulib's xstrtol_fatal for a flag's value: nil for
// NumOK.
func sortNumberError(u compute.FlagUse, e compute.NumErr) error {
	switch {
	case e == compute.NumOK:
		return nil
	case e&compute.NumInvalid != 0:
		return compute.Invalidf("sort: invalid %s argument %q", u.Name, u.Value)
	case e&compute.NumBadSuffix != 0:
		return compute.Invalidf("sort: invalid suffix in %s argument %q", u.Name, u.Value)
	default:
		return compute.Invalidf("sort: %s argument %q too large", u.Name, u.Value)
	}
}

// gnulib's fallbacks where the system does not say: physmem_total's
// guess of 64 MiB, and OPEN_MAX.
const (
	gnuPhysmemGuess = 64 << 20
	gnuOpenMax      = 20
)
