package main

import (
	"bytes"
	"strconv"
	"strings"
)

// The parsing of the lines of a checksum list, as GNU coreutils 9.1's
// md5sum … sha512sum, b2sum and cksum read them with -c (learnt from its
// src/digest.c, split_3 and bsd_split_3): an untagged line "HEX  NAME"
// (or "HEX *NAME", binary; or "HEX NAME", the BSD reversed form, not mixed
// with the first), a tagged line "TAG (NAME) = HEX", each after blanks and
// an optional "\" that says the name is escaped (\\, \n, \r).

// cksumTags are cksum's algorithms, as GNU names them in tagged lines, in
// GNU's order: the first three cannot be checked.
var cksumTags = []string{"BSD", "SYSV", "CRC", "MD5", "SHA1", "SHA224", "SHA256", "SHA384", "SHA512", "BLAKE2b", "SM3"}

// cksumBits are the digest sizes of cksumTags, in bits.
var cksumBits = []int{16, 16, 32, 128, 160, 224, 256, 384, 512, 512, 256}

// gnuTag is the tag of the fixed digest commands' tagged lines, and their
// digest size in bits.
var gnuTag = map[string]struct {
	tag  string
	bits int
}{
	"md5sum": {"MD5", 128}, "sha1sum": {"SHA1", 160}, "sha224sum": {"SHA224", 224},
	"sha256sum": {"SHA256", 256}, "sha384sum": {"SHA384", 384}, "sha512sum": {"SHA512", 512},
	"b2sum": {"BLAKE2b", 512},
}

// checkLine is a well-formed line of a list: the file to digest and the
// digest it must have.
type checkLine struct {
	name string // the file, unescaped
	hex  string // the expected digest, as written (either case)
	algo int    // cksum: the index in cksumTags
	bits int    // b2sum and cksum's BLAKE2b: the digest length to compute
}

// gnuParser holds what GNU keeps from one line to the next, over all the
// lists of a run: the hex length (digest_hex_bytes), the digest length
// (digest_length), cksum's algorithm (which a tagged line sets, also when
// the rest of the line is bad), and whether the untagged lines are in the
// BSD reversed form.
type gnuParser struct {
	cmd       string
	specified bool // cksum -a
	algo      int  // cksum: index in cksumTags
	bits      int
	hexLen    int
	minLen    int // the shortest untagged line
	reversed  int // -1 not known yet, 0 "HEX  NAME" seen, 1 "HEX NAME" seen
}

func newGNUParser(cmd, algo string) *gnuParser {
	p := &gnuParser{cmd: cmd, reversed: -1, minLen: 3}
	switch cmd {
	case "cksum":
		p.algo = 2 // crc, named in warnings until a line names another
		if algo != "" {
			p.specified = true
			for i, t := range cksumTags {
				if strings.EqualFold(t, algo) {
					p.algo = i
				}
			}
		}
		p.bits = cksumBits[p.algo]
	default:
		p.bits = gnuTag[cmd].bits
		if cmd != "b2sum" {
			p.minLen = p.bits/4 + 2
		}
	}
	p.hexLen = p.bits / 4
	return p
}

// typeString is the tag GNU names in its -w warnings: for cksum the
// algorithm of the last line that named one.
func (p *gnuParser) typeString() string {
	if p.cmd == "cksum" {
		return cksumTags[p.algo]
	}
	return gnuTag[p.cmd].tag
}

// variable reports whether the digest length comes from each line (b2sum,
// cksum's BLAKE2b).
func (p *gnuParser) variable() bool {
	return p.cmd == "b2sum" || p.cmd == "cksum" && cksumTags[p.algo] == "BLAKE2b"
}

func isWhite(c byte) bool { return c == ' ' || c == '\t' }

func isXdigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// cstr is s up to its first NUL: what C sees of a string.
func cstr(s []byte) []byte {
	if i := bytes.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// unescape undoes the escaping of a name: \\, \n and \r; any other
// backslash, a trailing one or a NUL makes the line bad.
func unescape(s []byte) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			return "", false
		case '\\':
			if i == len(s)-1 {
				return "", false
			}
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case '\\':
				b.WriteByte('\\')
			default:
				return "", false
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// parse reads one line (its newline and a carriage return before it
// taken off, not empty).
func (p *gnuParser) parse(s []byte) (checkLine, bool) {
	at := func(i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0 // the C string's end
	}
	i := 0
	for isWhite(at(i)) {
		i++
	}
	escaped := at(i) == '\\'
	if escaped {
		i++
	}
	if p.cmd == "cksum" && !p.specified {
		// Only tagged lines, of an algorithm that can be checked.
		k := 0
		for k <= 7 && at(i+k) != 0 && !isWhite(at(i+k)) && at(i+k) != '-' && at(i+k) != '(' {
			k++
		}
		if k > 7 {
			return checkLine{}, false
		}
		algo := -1
		for j, t := range cksumTags {
			if string(s[i:i+k]) == t {
				algo = j
			}
		}
		if algo <= 2 {
			return checkLine{}, false
		}
		p.algo = algo
	}
	if tag := p.typeString(); bytes.HasPrefix(s[i:], []byte(tag)) {
		i += len(tag)
		if p.cmd == "b2sum" || p.cmd == "cksum" {
			// GNU skips the character after the tag, whatever it is,
			// unless it is '('; a '-' starts a length.
			c := at(i)
			i++
			if c == '(' {
				i--
			}
			p.bits = 512
			if p.cmd == "cksum" {
				p.bits = cksumBits[p.algo]
			}
			if c == '-' {
				n, end, ok := parseUintmax(s, i)
				if !ok || n == 0 || n > uint64(p.bits) || n%8 != 0 {
					return checkLine{}, false
				}
				i, p.bits = end, int(n)
			}
			p.hexLen = p.bits / 4
		}
		if at(i) == ' ' {
			i++
		}
		if at(i) != '(' {
			return checkLine{}, false
		}
		return p.tagged(s[i+1:], escaped)
	}
	// Untagged.
	short := 0
	if at(i) == '\\' {
		short = 1
	}
	if len(s)-i < p.minLen+short {
		return checkLine{}, false
	}
	start := i
	if p.variable() {
		n := 0
		for isXdigit(at(i + n)) {
			n++
		}
		if n < 2 || n%2 != 0 || n > 128 {
			return checkLine{}, false
		}
		p.hexLen, p.bits = n, n*4
	}
	i += p.hexLen
	if !isWhite(at(i)) {
		return checkLine{}, false
	}
	hex := s[start : start+p.hexLen]
	i++
	for _, c := range hex {
		if !isXdigit(c) {
			return checkLine{}, false
		}
	}
	if len(s)-i == 1 || at(i) != ' ' && at(i) != '*' {
		// "HEX NAME", the BSD reversed form: not mixed with the other.
		if p.reversed == 0 {
			return checkLine{}, false
		}
		p.reversed = 1
	} else if p.reversed != 1 {
		p.reversed = 0
		i++ // the ' ' or '*' of text or binary mode
	}
	l := checkLine{hex: string(hex), algo: p.algo, bits: p.bits}
	if escaped {
		name, ok := unescape(s[i:])
		if !ok {
			return checkLine{}, false
		}
		l.name = name
	} else {
		l.name = string(cstr(s[i:]))
	}
	return l, true
}

// tagged reads the rest of a tagged line after its '(': "NAME) = HEX",
// the name up to the last ')'.
func (p *gnuParser) tagged(s []byte, escaped bool) (checkLine, bool) {
	j := bytes.LastIndexByte(s, ')')
	if j < 0 {
		return checkLine{}, false
	}
	l := checkLine{algo: p.algo, bits: p.bits}
	if escaped {
		name, ok := unescape(s[:j])
		if !ok {
			return checkLine{}, false
		}
		l.name = name
	} else {
		l.name = string(cstr(s[:j]))
	}
	k := j + 1
	for k < len(s) && isWhite(s[k]) {
		k++
	}
	if k >= len(s) || s[k] != '=' {
		return checkLine{}, false
	}
	k++
	for k < len(s) && isWhite(s[k]) {
		k++
	}
	hex := cstr(s[k:])
	if len(hex) != p.hexLen {
		return checkLine{}, false
	}
	for _, c := range hex {
		if !isXdigit(c) {
			return checkLine{}, false
		}
	}
	l.hex = string(hex)
	return l, true
}

// parseUintmax reads a number at s[i:] as gnulib's xstrtoumax(s, &end,
// 0, …, NULL) does: blanks (isspace) first, no '-', an optional '+', base
// 0 (0x hex, 0 octal, else decimal); ok is false for no digits or an
// overflow. end is where the number ends.
func parseUintmax(s []byte, i int) (n uint64, end int, ok bool) {
	for i < len(s) && (s[i] == ' ' || s[i] >= '\t' && s[i] <= '\r') {
		i++
	}
	if i < len(s) && s[i] == '-' {
		return 0, 0, false
	}
	if i < len(s) && s[i] == '+' {
		i++
	}
	base := 10
	switch {
	case i+1 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && i+2 < len(s) && isXdigit(s[i+2]):
		base, i = 16, i+2
	case i < len(s) && s[i] == '0':
		base = 8
	}
	j := i
	for j < len(s) {
		d, err := strconv.ParseUint(string(s[j]), base, 8)
		if err != nil {
			break
		}
		if n > (^uint64(0)-d)/uint64(base) {
			return 0, 0, false // ERANGE
		}
		n = n*uint64(base) + d
		j++
	}
	if j == i {
		return 0, 0, false
	}
	return n, j, true
}
