package digest

import (
	"bufio"
	"hash"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/halfclose/halfclose/compute"
)

// b3sum.

// maxB3Len bounds b3sum -l: BLAKE3's output is unbounded, a reply is not.
const maxB3Len = 64 << 20

var b3Flags = []compute.FlagSpec{
	{Short: 'l', Long: "length", Value: true, Summary: "output bytes before hex encoding (default 32, at most 64 MiB)"},
	{Long: "no-names", Summary: "omit the name"},
	{Long: "raw", Summary: "write the raw output bytes, no hex and no name"},
	{Long: "derive-key", Value: true, Summary: "key derivation mode with this context string"},
	{Long: "num-threads", Value: true, Summary: "accepted; has no effect"},
	{Long: "no-mmap", Summary: "accepted; has no effect"},
}

var b3Reject = []compute.FlagSpec{
	{Short: 'c', Long: "check", Refuse: refuseCheck},
	{Long: "quiet", Refuse: refuseCheckOnly},
	{Long: "keyed", Refuse: "the key would be read from the input"},
	{Short: 'h', Long: "help", Refuse: compute.RefuseInfo},
	{Short: 'V', Long: "version", Refuse: compute.RefuseInfo},
}

// parseUsize parses as Rust's usize::from_str: an optional '+' and digits.
func parseUsize(s string) (uint64, bool) {
	s = strings.TrimPrefix(s, "+")
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

func buildB3sum(env *compute.Env, args []string) (compute.Stage, error) {
	const cmd = "b3sum"
	// b3sum parses its flags with clap: long flags are never abbreviated.
	g := compute.NewGetopt(cmd, append(append([]compute.FlagSpec(nil), b3Flags...), b3Reject...), compute.Permute, args)
	g.Exact = true
	f := &compute.Flags{}
	var twice error
	for {
		it, ok, err := g.Next()
		if err != nil {
			// An unknown flag, or -h or -V (refused here), wins over a
			// flag given twice: clap looks at every word first.
			return nil, err
		}
		if !ok {
			break
		}
		for _, u := range f.Uses {
			if u.Key == it.Flag.Key && twice == nil {
				// clap 2: no b3sum flag may be given twice.
				twice = compute.Invalidf("%s: flag %q given more than once", cmd, it.Flag.Name)
			}
		}
		f.Uses = append(f.Uses, it.Flag)
	}
	if twice != nil {
		return nil, twice
	}
	f.Operands = g.Rest()
	outputs, err := stdinOperands(cmd, f)
	if err != nil {
		return nil, err
	}
	var (
		size    uint64 = 32
		noNames bool
		raw     bool
		newHash = func() hash.Hash { return newParallelBlake3() }
	)
	for _, u := range f.Uses {
		switch u.Key {
		case "l":
			n, ok := parseUsize(u.Value)
			if !ok {
				return nil, compute.Invalidf("%s: invalid length %q for %s", cmd, u.Value, u.Name)
			}
			if n > maxB3Len {
				return nil, compute.Invalidf("%s: length %q for %s is over the limit of %d bytes", cmd, u.Value, u.Name, maxB3Len)
			}
			size = n
		case "no-names":
			noNames = true
		case "raw":
			raw = true
		case "derive-key":
			if !utf8.ValidString(u.Value) {
				// clap reads the context as UTF-8 (b3sum panics, exit 101).
				return nil, compute.Invalidf("%s: the context of %s is not valid UTF-8", cmd, u.Name)
			}
			ctxStr := u.Value
			newHash = func() hash.Hash { return newDeriveKeyBlake3(ctxStr) }
		case "num-threads":
			if _, ok := parseUsize(u.Value); !ok {
				return nil, compute.Invalidf("%s: invalid number %q for %s", cmd, u.Value, u.Name)
			}
		}
	}
	if raw && outputs > 1 {
		return nil, compute.Invalidf("%s: --raw takes at most one input", cmd)
	}
	return &digestStage{
		newHash: newHash,
		names:   repeatName("-", outputs),
		lineMax: digestLineMax(int(size), ""), // --raw: size alone
		print: func(w *bufio.Writer, h hash.Hash, _ int64, name string) error {
			d := h.(*parallelBlake3).XOF()
			var buf [4096]byte
			for left := size; left > 0; {
				k := min(left, uint64(len(buf)))
				if _, err := io.ReadFull(d, buf[:k]); err != nil {
					return compute.Internal("b3sum: output failed", err)
				}
				if raw {
					w.Write(buf[:k])
				} else {
					writeHex(w, buf[:k])
				}
				left -= k
			}
			if raw {
				return nil
			}
			if !noNames {
				w.WriteString("  ")
				w.WriteString(name)
			}
			return w.WriteByte('\n')
		},
	}, nil
}
