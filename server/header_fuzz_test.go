package server

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
)

// FuzzReadHeader: any bytes give either the first line (without its "\n"
// or a "\r" before it, within the limit) or an INVALID_ARGUMENT error; and
// the line's option words either fail with INVALID_ARGUMENT or split it
// into options and a pipeline that does not start with "@", which render
// and parse back to the same.
func FuzzReadHeader(f *testing.F) {
	for _, s := range []string{
		"sha256sum\n", "grep -c x\r\nrest", "no newline", "", "\n", strings.Repeat("x", 200) + "\n",
		"@size=10 sha256sum\n", "@chunked @trailer wc -l\n", " \t@size=0\t@trailer  'a b'\n",
		"@size=99999999999999999999 wc\n", "@size=1 @size=2 wc\n", "@frob wc\n", "@trailer\n",
	} {
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

		opts, pipeline, err := parseHeaderOptions(line)
		if err != nil {
			if compute.CodeOf(err) != compute.CodeInvalid {
				t.Fatalf("options of %q: error %v is not INVALID_ARGUMENT", line, err)
			}
			return
		}
		if strings.HasPrefix(pipeline, "@") || !strings.HasSuffix(line, pipeline) {
			t.Fatalf("options of %q left pipeline %q", line, pipeline)
		}
		if opts.size < -1 || opts.proven() != (opts.size >= 0 || opts.chunked) {
			t.Fatalf("options of %q: %+v", line, opts)
		}
		again, pipeline2, err := parseHeaderOptions(opts.String() + " " + pipeline)
		if err != nil || again != opts || pipeline2 != pipeline {
			t.Fatalf("%q: %+v %q does not round-trip: %+v %q %v", line, opts, pipeline, again, pipeline2, err)
		}
	})
}
