package compute

import (
	"strconv"
	"strings"
)

// FlagSpec declares one flag of a command, GNU style: a short form, a long
// form, or both. A command's table holds every flag of the GNU tool, the
// ones halfclose refuses included (Refuse), so that abbreviations and
// unknown flags are judged against the same table as GNU's getopt_long.
type FlagSpec struct {
	Short    byte   // e.g. 'n'; 0 when the flag has only a long form
	Long     string // e.g. "lines"; "" when the flag has only a short form
	Value    bool   // the flag takes an argument
	Optional bool   // with Value: the argument is optional (--long=ARG, -sARG only)
	// Same is the key of the flag this one is another spelling of (GNU's
	// same "val"): "--silent" is Same "q". Flags of one key whose Value and
	// Optional agree are one flag to getopt: a prefix of both is no
	// ambiguity ("--fixed-" for grep's --fixed-regexp and --fixed-strings).
	Same string
	// Refuse, when set, is why halfclose does not support this GNU flag;
	// using it is an error naming the flag and the reason.
	Refuse string
	// Misplaced, when set, is GNU's message for a flag its option loop
	// rejects wherever it meets it: a form GNU reads only in one place,
	// which the command reads itself before its flags (head's and tail's
	// obsolete -N, the first word). Using it is an error with that
	// message; it is not advertised (Supported).
	Misplaced string
	Summary   string // one line, for Capabilities
}

// Key is how a parsed flag is looked up: Same when set, else the short
// letter when there is one, else the long name.
func (s FlagSpec) Key() string {
	switch {
	case s.Same != "":
		return s.Same
	case s.Short != 0:
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

// Supported returns the flags of specs that are not refused: what a
// command advertises.
func Supported(specs []FlagSpec) []FlagSpec {
	var out []FlagSpec
	for _, s := range specs {
		if s.Refuse == "" && s.Misplaced == "" {
			out = append(out, s)
		}
	}
	return out
}

// Reasons for refusing GNU flags, shared by the commands' tables.
const (
	RefuseInfo    = "no help or version text: see Capabilities"
	RefuseFiles   = "no files: the input is the stream"
	RefuseOutput  = "the output is the reply stream"
	RefuseNotImpl = "not implemented"
)

// GNUStd is --help and --version, which every GNU tool has (and whose
// prefixes therefore count when long flags are abbreviated).
var GNUStd = []FlagSpec{
	{Long: "help", Refuse: RefuseInfo},
	{Long: "version", Refuse: RefuseInfo},
}

// WithStd returns specs followed by GNUStd.
func WithStd(specs ...FlagSpec) []FlagSpec {
	return append(specs, GNUStd...)
}

// FlagUse is one occurrence of a flag on the command line.
type FlagUse struct {
	Key   string // FlagSpec.Key
	Name  string // the flag's full name, e.g. "-n" or "--lines"
	Value string // the argument, for flags that take one
	// HasValue is false when a flag with an optional argument got none.
	HasValue bool
	// NextWord: the value is the word after the flag's (GNU's optarg ==
	// argv[optind - 1]), which Getopt.Unread gives back.
	NextWord bool
	// Optind is GNU getopt's optind once the flag is read: the index (in
	// the words after the command name) of the word it was read from while
	// more of that word is left, else of the next word to read (past the
	// flag's value). Operands skipped to reach a flag are counted in, as
	// GNU's permuting getopt counts them: grep's -NUM reads its digits
	// by comparing these (get_nondigit_option).
	Optind int
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

// Order is how a Getopt treats operands, as GNU getopt's optstring prefix.
type Order int

const (
	// Permute lets flags and operands mix (GNU's default).
	Permute Order = iota
	// RequireOrder ends the flags at the first operand ("+", e.g. tr).
	RequireOrder
	// InOrder returns operands one by one among the flags ("-", e.g.
	// sort and uniq, which give some operands a meaning of their own).
	InOrder
)

// Getopt parses a command line as GNU getopt_long does. Next returns the
// flags (and, with InOrder, the operands) one at a time.
type Getopt struct {
	Cmd   string
	Specs []FlagSpec
	Order Order
	// Exact parses as clap 2 does (b3sum): long flags are never
	// abbreviated, a long flag that takes no value ignores "=VALUE"
	// (b3sum --raw=x), the leading '='s of an attached value are dropped
	// (-l=5, --length==5), and a value in the next word may not start
	// with '-' unless it is "-" (-l -5 is an error).
	Exact bool

	args    []string
	i       int    // next word
	cluster string // rest of a short-flag cluster being read
	rest    []string
	done    bool
}

// NewGetopt returns a parser of args (the words after the command name).
func NewGetopt(cmd string, specs []FlagSpec, order Order, args []string) *Getopt {
	return &Getopt{Cmd: cmd, Specs: specs, Order: order, args: args}
}

// Item is one thing Next found: a flag, or (InOrder) an operand.
type Item struct {
	Flag    FlagUse
	Operand string
	IsFlag  bool
}

// Next returns the next flag or operand; ok is false at the end of the
// flags, after which Rest holds the remaining operands. A refused flag
// is an error naming it.
func (g *Getopt) Next() (it Item, ok bool, err error) {
	it, ok, err = g.next()
	if ok && it.IsFlag {
		it.Flag.Optind = g.i
		if g.cluster != "" {
			it.Flag.Optind = g.i - 1
		}
	}
	return it, ok, err
}

// next is Next without FlagUse.Optind.
func (g *Getopt) next() (it Item, ok bool, err error) {
	if g.done {
		return Item{}, false, nil
	}
	if g.cluster != "" {
		return g.short()
	}
	for g.i < len(g.args) {
		a := g.args[g.i]
		switch {
		case a == "--":
			g.rest = append(g.rest, g.args[g.i+1:]...)
			g.i = len(g.args)
		case strings.HasPrefix(a, "--"):
			g.i++
			return g.long(a[2:])
		case len(a) > 1 && a[0] == '-':
			g.i++
			g.cluster = a[1:]
			return g.short()
		default:
			g.i++
			switch g.Order {
			case InOrder:
				return Item{Operand: a}, true, nil
			case RequireOrder:
				g.rest = append(g.rest, g.args[g.i-1:]...)
				g.i = len(g.args)
			default:
				g.rest = append(g.rest, a)
			}
		}
	}
	g.done = true
	return Item{}, false, nil
}

// Peek returns the next word that has not been read, when Next stands
// between words (not inside a cluster of short flags).
func (g *Getopt) Peek() (string, bool) {
	if g.cluster != "" || g.done || g.i >= len(g.args) {
		return "", false
	}
	return g.args[g.i], true
}

// Unread gives back the word the flag Next just returned took as its
// value (FlagUse.NextWord), to be read again, as GNU's optind-- does.
func (g *Getopt) Unread() { g.i-- }

// Skip consumes the word Peek returned.
func (g *Getopt) Skip() { g.i++ }

// Rest returns the operands left after the flags ended: those after "--",
// and with Permute every operand, in order.
func (g *Getopt) Rest() []string { return g.rest }

func (g *Getopt) use(s *FlagSpec, name string) (Item, bool, error) {
	if s.Refuse != "" {
		return Item{}, false, Invalidf("%s: unsupported flag %q (%s)", g.Cmd, name, s.Refuse)
	}
	if s.Misplaced != "" {
		return Item{}, false, Invalidf("%s: %s -- %s (flag %q)", g.Cmd, s.Misplaced, strings.TrimLeft(name, "-"), name)
	}
	return Item{IsFlag: true, Flag: FlagUse{Key: s.Key(), Name: name}}, true, nil
}

func (g *Getopt) short() (Item, bool, error) {
	c := g.cluster[0]
	g.cluster = g.cluster[1:]
	s := lookupShort(g.Specs, c)
	if s == nil {
		g.cluster = ""
		return Item{}, false, Invalidf("%s: unknown flag %q", g.Cmd, "-"+string([]byte{c}))
	}
	name := "-" + string([]byte{c})
	it, ok, err := g.use(s, name)
	if err != nil || !s.Value {
		return it, ok, err
	}
	switch {
	case g.cluster != "":
		it.Flag.Value, it.Flag.HasValue = g.attached(g.cluster), true
	case s.Optional:
	case g.i < len(g.args) && g.separate(g.args[g.i]):
		it.Flag.Value, it.Flag.HasValue, it.Flag.NextWord = g.args[g.i], true, true
		g.i++
	default:
		return Item{}, false, Invalidf("%s: flag %q needs a value", g.Cmd, name)
	}
	g.cluster = ""
	return it, true, nil
}

func (g *Getopt) long(word string) (Item, bool, error) {
	name, val, hasVal := strings.Cut(word, "=")
	s, err := g.lookupLong(name)
	if err != nil {
		return Item{}, false, err
	}
	full := "--" + s.Long
	it, ok, err := g.use(s, full)
	if err != nil {
		return it, ok, err
	}
	switch {
	case hasVal && !s.Value && g.Exact:
		// clap 2 ignores the value of a flag that takes none.
	case hasVal && !s.Value:
		return Item{}, false, Invalidf("%s: flag %q takes no value", g.Cmd, full)
	case hasVal:
		it.Flag.Value, it.Flag.HasValue = g.attached(val), true
	case s.Value && !s.Optional:
		if g.i >= len(g.args) || !g.separate(g.args[g.i]) {
			return Item{}, false, Invalidf("%s: flag %q needs a value", g.Cmd, full)
		}
		it.Flag.Value, it.Flag.HasValue, it.Flag.NextWord = g.args[g.i], true, true
		g.i++
	}
	return it, true, nil
}

// attached is the value written in the flag's own word: clap 2 drops
// its leading '='s.
func (g *Getopt) attached(v string) string {
	if g.Exact {
		return strings.TrimLeft(v, "=")
	}
	return v
}

// separate reports whether the next word may be a flag's value: always
// for getopt; for clap 2, unless it looks like a flag.
func (g *Getopt) separate(w string) bool {
	return !g.Exact || w == "-" || !strings.HasPrefix(w, "-")
}

func lookupShort(specs []FlagSpec, c byte) *FlagSpec {
	for i := range specs {
		if specs[i].Short == c {
			return &specs[i]
		}
	}
	return nil
}

// lookupLong finds a long flag as getopt_long does: an exact name wins;
// otherwise the flags the name is a prefix of must all be one flag (same
// key and argument kind), else the name is ambiguous.
func (g *Getopt) lookupLong(name string) (*FlagSpec, error) {
	specs := g.Specs
	for i := range specs {
		if specs[i].Long != "" && specs[i].Long == name {
			return &specs[i], nil
		}
	}
	var match *FlagSpec
	var names []string
	ambiguous := false
	if !g.Exact {
		for i := range specs {
			s := &specs[i]
			if s.Long == "" || !strings.HasPrefix(s.Long, name) {
				continue
			}
			names = append(names, "--"+s.Long)
			if match == nil {
				match = s
			} else if s.Key() != match.Key() || s.Value != match.Value || s.Optional != match.Optional {
				ambiguous = true
			}
		}
	}
	if ambiguous {
		return nil, Invalidf("%s: ambiguous flag %q (%s)", g.Cmd, "--"+name, strings.Join(names, ", "))
	}
	if match == nil {
		return nil, Invalidf("%s: unknown flag %q%s", g.Cmd, "--"+name, DidYouMean("--"+name, flagNames(specs)))
	}
	return match, nil
}

// ParseFlags parses args the way GNU getopt_long does: flags and operands
// may mix (permutation), short flags cluster (-lc), a short flag's value may
// be attached (-n5) or the next word, long flags take --name=value or
// --name value and may be abbreviated to a prefix that names one flag,
// "--" ends flags, and "-" is an operand. Errors name the command and the
// flag; a flag of specs marked Refuse is an error.
func ParseFlags(cmd string, specs []FlagSpec, args []string) (*Flags, error) {
	return ParseFlagsOrder(cmd, specs, Permute, args)
}

// ParseFlagsOrder is ParseFlags with the given operand order; with
// InOrder, operands are collected like the others.
func ParseFlagsOrder(cmd string, specs []FlagSpec, order Order, args []string) (*Flags, error) {
	return ParseFlagsCheck(cmd, specs, order, args, nil)
}

// ParseFlagsCheck is ParseFlagsOrder calling check, when not nil, on
// each flag as it is read: the values GNU's option loop judges (head -n,
// base64 -w, grep -m ...) are judged in the same place, so that of two
// errors on a line the one named is the first, as in GNU (head -n x -Q:
// the number, not the unknown flag after it).
func ParseFlagsCheck(cmd string, specs []FlagSpec, order Order, args []string, check func(FlagUse) error) (*Flags, error) {
	g := NewGetopt(cmd, specs, order, args)
	f := &Flags{}
	for {
		it, ok, err := g.Next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if it.IsFlag {
			if check != nil {
				if err := check(it.Flag); err != nil {
					return nil, err
				}
			}
			f.Uses = append(f.Uses, it.Flag)
		} else {
			f.Operands = append(f.Operands, it.Operand)
		}
	}
	f.Operands = append(f.Operands, g.Rest()...)
	return f, nil
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
