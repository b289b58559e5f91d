package main

import (
	"fmt"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// quotef quotes a file name for an error message as GNU coreutils does
// (quotef: gnulib's shell-escape quoting, with ':' quoted too), so that
// `halfclose md5sum '*.go'` reports `md5sum: '*.go': No such file or
// directory` exactly like md5sum:
//
//   - a name of safe characters is printed as it is;
//   - a name with a single quote and otherwise only characters safe
//     inside double quotes (letters, digits, space, %+,-./:@]_, and # or ~
//     first) is double-quoted: "it's";
//   - any other name that needs quoting is single-quoted, a single quote
//     written '\”, and control and non-printable bytes written $'\n',
//     $'\303' outside the quotes: 'a'$'\n”b'.
//
// Bytes at or over 0x80 are printable only in a UTF-8 locale (LC_ALL,
// LC_CTYPE or LANG naming UTF-8), as valid UTF-8 of a printable rune.
func quotef(name string) string {
	return quoteName(name, utf8Locale())
}

func utf8Locale() bool {
	for _, v := range []string{"LC_ALL", "LC_CTYPE", "LANG"} {
		if l := os.Getenv(v); l != "" {
			l = strings.ToLower(l)
			return strings.Contains(l, "utf-8") || strings.Contains(l, "utf8")
		}
	}
	return false
}

// quoteSpecial are the characters that make a name need quotes anywhere
// in it; '#' and '~' only as its first character, and '{' or '}' only as
// the whole name.
const quoteSpecial = " !\"$&'()*:;<=>?[\\^`|"

// dquoteSafe are the ASCII characters that may stand in a double-quoted
// name besides letters and digits.
const dquoteSafe = " %'+,-./:@]_"

// nameRune is one character of a name: r < 0 for bytes to escape.
type nameRune struct {
	r    rune
	text string // its bytes
}

func splitName(name string, utf8ok bool) []nameRune {
	var out []nameRune
	for i := 0; i < len(name); {
		r, size := rune(name[i]), 1
		if r >= utf8.RuneSelf {
			r, size = decodePrintable(name[i:], utf8ok)
		} else if r < 0x20 || r == 0x7f {
			r = -1
		}
		out = append(out, nameRune{r, name[i : i+size]})
		i += size
	}
	return out
}

func quoteName(name string, utf8ok bool) string {
	if name == "" {
		return "''"
	}
	runes := splitName(name, utf8ok)
	needs, quote, compat := false, false, true
	for i, c := range runes {
		r := c.r
		switch {
		case r < 0:
			needs, compat = true, false
		case r >= utf8.RuneSelf:
			// printable: fine anywhere, and inside double quotes
		case r == '\'':
			needs, quote = true, true
		case r == '#' || r == '~' || ((r == '{' || r == '}') && len(name) == 1):
			if i == 0 {
				needs = true
			} else {
				compat = false
			}
		case r == '{' || r == '}':
			compat = false
		case strings.ContainsRune(quoteSpecial, r):
			needs = true
			if !strings.ContainsRune(dquoteSafe, r) {
				compat = false
			}
		}
	}
	switch {
	case !needs:
		return name
	case quote && compat:
		return `"` + name + `"`
	case quote:
		// gnulib makes a dry pass over a name with a single quote, then
		// writes it in a second pass that starts in the state the first
		// ended in (coreutils 9.1 and earlier): a name ending in an
		// escape starts with its first escape unopened, or with an empty
		// '' pair. Reproduced, since GNU is the reference.
		_, pending := shellEscape(runes, false)
		out, _ := shellEscape(runes, pending)
		return out
	}
	out, _ := shellEscape(runes, false)
	return out
}

// shellEscape writes runes single-quoted, escapes as $'\n' pieces;
// pending says a $'...' piece is open. It returns the text and whether a
// piece was open at the end.
func shellEscape(runes []nameRune, pending bool) (string, bool) {
	var b strings.Builder
	b.WriteByte('\'')
	for _, c := range runes {
		switch {
		case c.r < 0:
			if !pending {
				b.WriteString(`'$'`)
				pending = true
			}
			for _, x := range []byte(c.text) {
				b.WriteString(escapeByte(x))
			}
		case c.r == '\'':
			b.WriteString(`'\''`)
			pending = false
		default:
			if pending {
				b.WriteString(`''`)
				pending = false
			}
			b.WriteString(c.text)
		}
	}
	b.WriteByte('\'')
	return b.String(), pending
}

// decodePrintable decodes the rune at the start of s (s[0] >= 0x80): its
// value and size when it is printable in the locale, else -1 and the
// size of the bytes to escape.
func decodePrintable(s string, utf8ok bool) (rune, int) {
	if !utf8ok {
		return -1, 1
	}
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && size <= 1 {
		return -1, 1
	}
	// glibc's iswprint: Go's graphic characters and the ASCII space,
	// and also the format characters (Cf), the other spaces (Zs: U+00A0,
	// U+3000) and private use (Co), which Go's IsPrint leaves out. A
	// character assigned in a Unicode version newer than the system's
	// glibc data (U+0CF3, Unicode 15) is printed here and escaped by GNU.
	if !unicode.IsPrint(r) && !unicode.In(r, unicode.Cf, unicode.Zs, unicode.Co) {
		return -1, size
	}
	return r, size
}

// escapeByte is a byte as $'...' writes it: \n and the other C escapes,
// else three octal digits.
func escapeByte(c byte) string {
	switch c {
	case '\a':
		return `\a`
	case '\b':
		return `\b`
	case '\t':
		return `\t`
	case '\n':
		return `\n`
	case '\v':
		return `\v`
	case '\f':
		return `\f`
	case '\r':
		return `\r`
	}
	return fmt.Sprintf(`\%03o`, c)
}
