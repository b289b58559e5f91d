package compute

// cClasses are the POSIX character classes in the C locale.
var cClasses = map[string]func(c byte) bool{
	"alpha":  func(c byte) bool { return isCUpper(c) || isCLower(c) },
	"upper":  isCUpper,
	"lower":  isCLower,
	"digit":  isCDigit,
	"alnum":  func(c byte) bool { return isCDigit(c) || isCUpper(c) || isCLower(c) },
	"xdigit": func(c byte) bool { return isCDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' },
	"space":  isCSpace,
	"blank":  func(c byte) bool { return c == ' ' || c == '\t' },
	"punct":  func(c byte) bool { return c > ' ' && c < 0x7f && !isCDigit(c) && !isCUpper(c) && !isCLower(c) },
	"print":  func(c byte) bool { return c >= ' ' && c < 0x7f },
	"graph":  func(c byte) bool { return c > ' ' && c < 0x7f },
	"cntrl":  func(c byte) bool { return c < ' ' || c == 0x7f },
}

// CClass returns the C locale's test for the POSIX character class name
// ("alpha", "digit", ...), as grep's brackets and tr's sets use them.
func CClass(name string) (func(c byte) bool, bool) {
	f, ok := cClasses[name]
	return f, ok
}

func isCUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isCLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isCDigit(c byte) bool { return '0' <= c && c <= '9' }
