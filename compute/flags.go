package compute

import (
	"strconv"
	"strings"
)

// FlagSpec declares one flag of a command, GNU style: a short form, a long
// form, or both.
type FlagSpec struct {
	Short   byte   // e.g. 'n'; 0 when the flag has only a long form
	Long    string // e.g. "lines"; "" when the flag has only a short form
	Value   bool   // the flag takes an argument
	Summary string // one line, for Capabilities
}

// Key is how a parsed flag is looked up: the short letter when there is one,
// else the long name.
func (s FlagSpec) Key() string {
	if s.Short != 0 {
		return string(s.Short)
	}
	return s.Long
}

// Names returns the flag's spellings with dashes, e.g. ["-n", "--lines"].
func (s FlagSpec) Names() []string {
	var n []string
	if s.Short != 0 {
		n = append(n, "-"+string(s.Short))
	}
	if s.Long != "" {
		n = append(n, "--"+s.Long)
	}
	return n
}

// FlagUse is one occurrence of a flag on the command line.
type FlagUse struct {
	Key   string // FlagSpec.Key
	Name  string // as written, e.g. "-n" or "--lines"
	Value string // the argument, for flags that take one
}

// Flags is the result of ParseFlags.
type Flags struct {
	Uses     []FlagUse // in command-line order
	Operands []string  // non-flag words, in order
}

// Has reports whether the flag with this key was given.
func (f *Flags) Has(key string) bool {
	for _, u := range f.Uses {
		if u.Key == key {
			return true
		}
	}
	return false
}

// Value returns the last value given for key, as GNU tools do.
func (f *Flags) Value(key string) (FlagUse, bool) {
	for i := len(f.Uses) - 1; i >= 0; i-- {
		if f.Uses[i].Key == key {
			return f.Uses[i], true
		}
	}
	return FlagUse{}, false
}

// Values returns every value given for key, in order.
func (f *Flags) Values(key string) []string {
	var v []string
	for _, u := range f.Uses {
		if u.Key == key {
			v = append(v, u.Value)
		}
	}
	return v
}

// ParseFlags parses args the way GNU getopt_long does: flags and operands
// may mix (permutation), short flags cluster (-lc), a short flag's value may
// be attached (-n5) or the next word, long flags take --name=value or
// --name value and may be abbreviated to a unique prefix, "--" ends flags,
// and "-" is an operand. Errors name the command and the flag.
func ParseFlags(cmd string, specs []FlagSpec, args []string) (*Flags, error) {
	f := &Flags{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			f.Operands = append(f.Operands, args[i+1:]...)
			return f, nil
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			spec, err := lookupLong(cmd, specs, name)
			if err != nil {
				return nil, err
			}
			written := "--" + spec.Long
			switch {
			case spec.Value && !hasVal:
				if i+1 >= len(args) {
					return nil, Invalidf("%s: flag %q needs a value", cmd, written)
				}
				i++
				val = args[i]
			case !spec.Value && hasVal:
				return nil, Invalidf("%s: flag %q takes no value", cmd, written)
			}
			f.Uses = append(f.Uses, FlagUse{Key: spec.Key(), Name: written, Value: val})
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				spec := lookupShort(specs, a[j])
				if spec == nil {
					return nil, Invalidf("%s: unknown flag %q", cmd, "-"+string(a[j]))
				}
				use := FlagUse{Key: spec.Key(), Name: "-" + string(a[j])}
				if spec.Value {
					if j+1 < len(a) {
						use.Value = a[j+1:]
					} else if i+1 < len(args) {
						i++
						use.Value = args[i]
					} else {
						return nil, Invalidf("%s: flag %q needs a value", cmd, use.Name)
					}
					f.Uses = append(f.Uses, use)
					break
				}
				f.Uses = append(f.Uses, use)
			}
		default:
			f.Operands = append(f.Operands, a)
		}
	}
	return f, nil
}

func lookupShort(specs []FlagSpec, c byte) *FlagSpec {
	for i := range specs {
		if specs[i].Short == c {
			return &specs[i]
		}
	}
	return nil
}

func lookupLong(cmd string, specs []FlagSpec, name string) (*FlagSpec, error) {
	var match *FlagSpec
	for i := range specs {
		s := &specs[i]
		if s.Long == "" {
			continue
		}
		if s.Long == name {
			return s, nil
		}
		if name != "" && strings.HasPrefix(s.Long, name) {
			if match != nil {
				return nil, Invalidf("%s: ambiguous flag %q", cmd, "--"+name)
			}
			match = s
		}
	}
	if match == nil {
		return nil, Invalidf("%s: unknown flag %q%s", cmd, "--"+name, DidYouMean("--"+name, flagNames(specs)))
	}
	return match, nil
}

// NoOperands fails when a command that reads only its input got operands: a
// server never opens a file a request names.
func NoOperands(cmd string, f *Flags) error {
	if len(f.Operands) > 0 {
		return Invalidf("%s: unexpected operand %q (no file operands: input is the stream)", cmd, f.Operands[0])
	}
	return nil
}

// ParseCount parses a non-negative decimal count for flag use, with the
// error naming the flag.
func ParseCount(cmd string, use FlagUse) (int64, error) {
	n, err := strconv.ParseInt(use.Value, 10, 64)
	if err != nil || n < 0 {
		return 0, Invalidf("%s: invalid number %q for %s", cmd, use.Value, use.Name)
	}
	return n, nil
}

// NoOperandsButStdin is NoOperands, except that a lone "-" (stdin) is
// accepted as GNU accepts it.
func NoOperandsButStdin(cmd string, f *Flags) error {
	for _, o := range f.Operands {
		if o != "-" {
			return NoOperands(cmd, &Flags{Operands: []string{o}})
		}
	}
	return nil
}
