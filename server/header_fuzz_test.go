package server

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
)

// FuzzReadHeader: any bytes give either the first line (without its "\n"
// or a "\r" before it, within the limit) or an INVALID_ARGUMENT error.
func FuzzReadHeader(f *testing.F) {
	for _, s := range []string{"sha256sum\n", "grep -c x\r\nrest", "no newline", "", "\n", strings.Repeat("x", 200) + "\n"} {
		f.Add([]byte(s))
	}
	const max = 100
	f.Fuzz(func(t *testing.T, in []byte) {
		line, err := readHeader(bufio.NewReaderSize(bytes.NewReader(in), 16), max)
		if err != nil {
			if compute.CodeOf(err) != compute.CodeInvalid {
				t.Fatalf("error %v is not INVALID_ARGUMENT", err)
			}
			return
		}
		i := bytes.IndexByte(in, '\n')
		if i < 0 || i+1 > max {
			t.Fatalf("accepted %q from %q", line, in)
		}
		if want := strings.TrimSuffix(string(in[:i]), "\r"); line != want {
			t.Fatalf("line %q, want %q", line, want)
		}
	})
}
