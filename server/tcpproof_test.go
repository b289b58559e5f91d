package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/internal/oracle"
)

// chunk frames data as @chunked wants: its length in decimal, "\\n", data.
func chunk(data string) string { return strconv.Itoa(len(data)) + "\n" + data }

// TestTCPHeaderOptions: each option of the command port's header line,
// its errors and its proof, against the exact reply and the job's outcome.
func TestTCPHeaderOptions(t *testing.T) {
	env := startEnv(t, envConfig{})
	abcSum := oracle.Output(t, []byte("abc"), "sha256sum")
	tests := []struct {
		name, header, input string
		want                string
		outcome             string // "" when no job is recorded as run
	}{
		{"size", "@size=3 sha256sum\n", "abc", abcSum, OutcomeOK},
		{"size zero", "@size=0 wc -c\n", "", "0\n", OutcomeOK},
		{"size zero, data sent", "@size=0 testcat\n", "x", "halfclose: error: DATA_LOSS: input exceeds the 0 bytes declared by @size\n", OutcomeDataLoss},
		{"size short at FIN", "@size=4 sha256sum\n", "abc", "halfclose: error: DATA_LOSS: input ended after 3 of the 4 bytes declared by @size\n", OutcomeAborted},
		{"size short, nothing sent", "@size=10 testcat\n", "", "halfclose: error: DATA_LOSS: input ended after 0 of the 10 bytes declared by @size\n", OutcomeAborted},
		{"size over", "@size=2 sha256sum\n", "abc", "halfclose: error: DATA_LOSS: input exceeds the 2 bytes declared by @size\n", OutcomeDataLoss},
		{"size over after head is done", "@size=3 head -c 1\n", "abcd", "halfclose: error: DATA_LOSS: input exceeds the 3 bytes declared by @size\n", OutcomeDataLoss},
		{"chunked", "@chunked sha256sum\n", chunk("ab") + chunk("c") + "0\n", abcSum, OutcomeOK},
		{"chunked empty input", "@chunked wc -c\n", "0\n", "0\n", OutcomeOK},
		{"chunked with size", "@size=3 @chunked sha256sum\n", chunk("ab") + chunk("c") + "0\n", abcSum, OutcomeOK},
		{"chunked size mismatch", "@chunked @size=4 sha256sum\n", chunk("ab") + chunk("c") + "0\n", "halfclose: error: DATA_LOSS: received 3 bytes in chunks, @size declared 4\n", OutcomeDataLoss},
		{"chunked, FIN before the last chunk", "@chunked sha256sum\n", chunk("ab") + chunk("c"), "halfclose: error: DATA_LOSS: input ended without its last chunk (@chunked: a zero-length chunk ends the input)\n", OutcomeAborted},
		{"chunked, FIN inside a chunk", "@chunked testcat\n", "5\nab", "halfclose: error: DATA_LOSS: input ended without its last chunk (@chunked: a zero-length chunk ends the input)\n", OutcomeAborted},
		{"chunked, FIN inside a length line", "@chunked testcat\n", chunk("ab") + "1", "halfclose: error: DATA_LOSS: input ended without its last chunk (@chunked: a zero-length chunk ends the input)\n", OutcomeAborted},
		{"chunked, data after the last chunk", "@chunked sha256sum\n", chunk("abc") + "0\nx", "halfclose: error: INVALID_ARGUMENT: @chunked: data after the last (zero-length) chunk\n", OutcomeInvalid},
		{"chunked, bad length", "@chunked sha256sum\n", "x\nabc", "halfclose: error: INVALID_ARGUMENT: @chunked: bad chunk length \"x\\n\": want decimal digits and a newline\n", OutcomeInvalid},
		{"chunked, signed length", "@chunked sha256sum\n", "-1\n", "halfclose: error: INVALID_ARGUMENT: @chunked: bad chunk length \"-1\\n\": want decimal digits and a newline\n", OutcomeInvalid},
		{"chunked, FIN in a bad length line", "@chunked testcat\n", "hello world", "halfclose: error: INVALID_ARGUMENT: @chunked: bad chunk length \"hello world\": want decimal digits and a newline\n", OutcomeInvalid},
		{"chunked, FIN in a long length line", "@chunked testcat\n", chunk("ab") + "0000000000000000001", "halfclose: error: INVALID_ARGUMENT: @chunked: chunk length line longer than 19 bytes\n", OutcomeInvalid},
		{"chunked, long length line", "@chunked sha256sum\n", "0000000000000000000001\na0\n", "halfclose: error: INVALID_ARGUMENT: @chunked: chunk length line longer than 19 bytes\n", OutcomeInvalid},
		{"trailer", "@trailer sha256sum\n", "abc", abcSum + fmt.Sprintf("halfclose: ok out=%d in=3\n", len(abcSum)), OutcomeOK},
		{"trailer, empty output", "@trailer testcat\n", "", "halfclose: ok out=0 in=0\n", OutcomeOK},
		{"trailer and chunked", "@chunked @trailer testcat\n", chunk("hello ") + chunk("world") + "0\n", "hello worldhalfclose: ok out=11 in=11\n", OutcomeOK},
		{"trailer, error line unchanged", "@trailer frob\n", "abc", "halfclose: error: INVALID_ARGUMENT: unknown command \"frob\"\n", OutcomeInvalid},
		// A job that fails before its output: the error line, no trailer
		// (and no reset for the trailer's bytes left in the buffer).
		{"trailer, size short", "@size=4 @trailer testcat\n", "abc", "halfclose: error: DATA_LOSS: input ended after 3 of the 4 bytes declared by @size\n", OutcomeAborted},
		{"trailer, chunked, no last chunk", "@chunked @trailer @status testcat\n", chunk("abc"), "halfclose: error: DATA_LOSS: input ended without its last chunk (@chunked: a zero-length chunk ends the input)\n", OutcomeAborted},
		{"tabs and spaces", " @size=3\t@trailer  testcat\n", "abc", "abchalfclose: ok out=3 in=3\n", OutcomeOK},
		{"unknown option", "@frob sha256sum\n", "", "halfclose: error: INVALID_ARGUMENT: unknown header option \"@frob\" (known: @size=N, @chunked, @trailer, @status, @token=TOKEN, @file=N, @mtime=SECONDS)\n", OutcomeInvalid},
		// @status: the trailer carries the exit status, 0 too
		{"status", "@trailer @status grep -c x\n", "abc\n", "0\nhalfclose: ok out=2 in=4 status=1\n", OutcomeOK},
		{"status 0", "@status @trailer testcat\n", "abc", "abchalfclose: ok out=3 in=3 status=0\n", OutcomeOK},
		{"status without trailer", "@status testcat\n", "abc", "halfclose: error: INVALID_ARGUMENT: header option @status needs @trailer: the status is on the trailer line\n", OutcomeInvalid},
		{"status, error line unchanged", "@trailer @status frob\n", "abc", "halfclose: error: INVALID_ARGUMENT: unknown command \"frob\"\n", OutcomeInvalid},
		// @file: the input is a regular file (wc pads to its size's digits,
		// as GNU's wc < FILE); without it, a pipe (at least 7).
		{"file", "@file=4 wc\n", "a b\n", "1 2 4\n", OutcomeOK},
		{"file, large", "@file=12345 @size=4 wc -lc\n", "a b\n", "    1     4\n", OutcomeOK},
		{"file, one count", "@file=4 wc -l\n", "a b\n", "1\n", OutcomeOK},
		{"file, later stage reads a pipe", "@file=4 testcat | wc\n", "a b\n", "      1       2       4\n", OutcomeOK},
		{"no file", "wc\n", "a b\n", "      1       2       4\n", OutcomeOK},
		{"file without value", "@file wc\n", "", "halfclose: error: INVALID_ARGUMENT: header option @file wants the file's size: @file=N\n", OutcomeInvalid},
		{"negative file", "@file=-4 wc\n", "", "halfclose: error: INVALID_ARGUMENT: header option @file wants the file's size: @file=N\n", OutcomeInvalid},
		{"mtime without value", "@file=4 @mtime wc\n", "", "halfclose: error: INVALID_ARGUMENT: header option @mtime wants the file's modification time in seconds since the epoch: @mtime=SECONDS\n", OutcomeInvalid},
		{"mtime without file", "@mtime=5 wc\n", "", "halfclose: error: INVALID_ARGUMENT: header option @mtime needs @file: it is the time of the regular file the input is\n", OutcomeInvalid},
		{"mtime with file", "@mtime=-5 @file=4 wc\n", "a b\n", "1 2 4\n", OutcomeOK},
		{"size without value", "@size sha256sum\n", "", "halfclose: error: INVALID_ARGUMENT: header option @size wants a byte count: @size=N\n", OutcomeInvalid},
		{"negative size", "@size=-1 sha256sum\n", "", "halfclose: error: INVALID_ARGUMENT: header option @size wants a byte count: @size=N\n", OutcomeInvalid},
		// A long option is quoted to 32 bytes at a character's start:
		// "@" and 15 "é" (it showed the 16th's first byte, "\xc3").
		{"long option of two-byte characters", "@" + strings.Repeat("\u00e9", 20) + " wc\n", "", "halfclose: error: INVALID_ARGUMENT: unknown header option \"@" + strings.Repeat("\u00e9", 15) + "…\" (known: @size=N, @chunked, @trailer, @status, @token=TOKEN, @file=N, @mtime=SECONDS)\n", OutcomeInvalid},
		{"option twice", "@trailer @trailer wc\n", "", "halfclose: error: INVALID_ARGUMENT: header option \"@trailer\" given twice\n", OutcomeInvalid},
		{"value on a flag option", "@chunked=1 wc\n", "", "halfclose: error: INVALID_ARGUMENT: header option @chunked takes no value\n", OutcomeInvalid},
		{"options only", "@trailer\n", "", "halfclose: error: INVALID_ARGUMENT: pipeline: empty\n", OutcomeInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tcpCall(t, env.tcpAddr, tc.header, []byte(tc.input)); got != tc.want {
				t.Fatalf("reply %q, want %q", got, tc.want)
			}
			if oc := env.obs.nextOutcome(t); oc != tc.outcome {
				t.Fatalf("outcome %q, want %q", oc, tc.outcome)
			}
		})
	}
}

// TestTCPChunkedLarge: random chunk sizes over several MiB, against the
// GNU tool and as an echo.
func TestTCPChunkedLarge(t *testing.T) {
	env := startEnv(t, envConfig{})
	input := randBytes(9, 5<<20+17)
	r := rand.New(rand.NewPCG(9, 9))
	var framed bytes.Buffer
	for rest := input; len(rest) > 0; {
		n := min(len(rest), 1+r.IntN(300<<10))
		framed.WriteString(chunk(string(rest[:n])))
		rest = rest[n:]
	}
	framed.WriteString("0\n")
	if got, want := tcpCall(t, env.tcpAddr, "@chunked sha256sum\n", framed.Bytes()), oracle.Output(t, input, "sha256sum"); got != want {
		t.Fatalf("sha256sum: %q, want %q", got, want)
	}
	want := string(input) + fmt.Sprintf("halfclose: ok out=%d in=%d\n", len(input), len(input))
	if got := tcpCall(t, env.tcpAddr, "@chunked @trailer @size="+strconv.Itoa(len(input))+" testcat\n", framed.Bytes()); got != want {
		t.Fatalf("echo: %d bytes, want %d", len(got), len(want))
	}
}

// TestTCPTrailerFailureAfterOutputResets: @trailer does not change a
// failure after output: the connection is reset, and no trailer comes.
func TestTCPTrailerFailureAfterOutputResets(t *testing.T) {
	env := startEnv(t, envConfig{})
	conn, err := net.Dial("tcp", env.tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(defaultTestTimeout))
	out := strings.Repeat("some output\n", 1<<20/12) // over the 256 KiB reply buffer: output reaches the connection
	go func() {
		fmt.Fprintf(conn, "@trailer @size=%d testfail\n%s", len(out), out)
		conn.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(conn)
	if !errors.Is(err, syscall.ECONNRESET) || bytes.Contains(got, []byte("halfclose: ok")) {
		t.Fatalf("read %q, %v; want a connection reset and no trailer", got, err)
	}
}

// TestTCPRequireEnd: with --require-end the command port wants a proof;
// a route port has no header, and its stream is all input.
func TestTCPRequireEnd(t *testing.T) {
	env := startEnv(t, envConfig{requireEnd: true})
	if got, want := tcpCall(t, env.tcpAddr, "sha256sum\n", []byte("x")), "halfclose: error: INVALID_ARGUMENT: this server requires a proof of the end of input: start the header line with @size=N or @chunked\n"; got != want {
		t.Fatalf("no proof: %q, want %q", got, want)
	}
	want := oracle.Output(t, []byte("x"), "sha256sum")
	if got := tcpCall(t, env.tcpAddr, "@size=1 sha256sum\n", []byte("x")); got != want {
		t.Fatalf("@size: %q, want %q", got, want)
	}
	if got := tcpCall(t, env.tcpAddr, "@chunked sha256sum\n", []byte(chunk("x")+"0\n")); got != want {
		t.Fatalf("@chunked: %q, want %q", got, want)
	}
}

// TestTCPRouteHasNoOptions: a route port's stream is all input, a line
// that looks like options included.
func TestTCPRouteHasNoOptions(t *testing.T) {
	env := startEnv(t, envConfig{routes: []string{"testcat"}})
	in := "@trailer @size=3\nabc"
	if got := tcpCall(t, env.routes["testcat"], "", []byte(in)); got != in {
		t.Fatalf("route reply %q, want %q", got, in)
	}
}

// TestQuoteWordCutsAtCharacter: a long word is quoted with the most of its
// whole characters that fit in maxQuotedWord bytes, wherever characters
// of 1 to 4 bytes fall around the cut; a byte that is not UTF-8 counts
// as one character, escaped. The oracle walks the word a character at a
// time. It quoted the first maxQuotedWord bytes, the first bytes of a
// character cut there escaped ("\xc3").
func TestQuoteWordCutsAtCharacter(t *testing.T) {
	for _, r := range []string{"a", "\u00e9", "\u20ac", "\U0001F600", "\xff", "\x80"} {
		for pad := range 2 * utf8.UTFMax {
			for size := maxQuotedWord - 8; size <= maxQuotedWord+8; size++ {
				w := strings.Repeat("@", pad)
				w += strings.Repeat(r, max(0, size-len(w))/len(r))
				want := w
				if len(w) > maxQuotedWord {
					n := 0
					for n < len(w) {
						_, m := utf8.DecodeRuneInString(w[n:])
						if n+m > maxQuotedWord {
							break
						}
						n += m
					}
					want = w[:n] + "…"
				}
				if got := quoteWord(w); got != strconv.Quote(want) {
					t.Fatalf("%q after %d bytes, %d in all: %s, want %s", r, pad, len(w), got, strconv.Quote(want))
				}
			}
		}
	}
}

// TestParseHeaderMtime: @mtime=SECONDS, the input file's modification
// time (gzip -l lists it): signed decimal seconds, with @file only; any
// other value is INVALID_ARGUMENT naming @mtime.
func TestParseHeaderMtime(t *testing.T) {
	for _, tc := range []struct {
		line string
		want int64
	}{
		{"@file=3 @mtime=0 wc", 0},
		{"@mtime=1700000000 @file=3 wc", 1700000000},
		{"@file=3 @mtime=-123456789 wc", -123456789},
		{"@file=3 @mtime=-0 wc", 0},
		{"@file=3 @mtime=999999999999999999 wc", 999999999999999999},
		// A file's st_mtime is any int64 (tmpfs keeps all of it).
		{"@file=3 @mtime=1000000000000000000 wc", 1000000000000000000},
		{"@file=3 @mtime=9223372036854775807 wc", math.MaxInt64},
		{"@file=3 @mtime=-9223372036854775808 wc", math.MinInt64},
		{"@file=3 @mtime=0009223372036854775 wc", 9223372036854775},
	} {
		o, rest, err := parseHeaderOptions(tc.line)
		if err != nil || !o.hasMtime || o.mtime != tc.want || rest != "wc" {
			t.Errorf("%q: mtime %d (given %v), rest %q, err %v; want %d", tc.line, o.mtime, o.hasMtime, rest, err, tc.want)
			continue
		}
		// String gives the words back, parsed to the same options.
		if o2, _, err := parseHeaderOptions(o.String() + " wc"); err != nil || o2 != o {
			t.Errorf("%q: String %q parses to %+v, %v", tc.line, o.String(), o2, err)
		}
	}
	if o, _, err := parseHeaderOptions("@file=3 wc"); err != nil || o.hasMtime {
		t.Errorf("@file alone: mtime given %v, err %v", o.hasMtime, err)
	}
	const bad = "header option @mtime wants the file's modification time in seconds since the epoch: @mtime=SECONDS"
	for _, tc := range []struct{ line, msg string }{
		{"@file=3 @mtime wc", bad},
		{"@file=3 @mtime= wc", bad},
		{"@file=3 @mtime=- wc", bad},
		{"@file=3 @mtime=--1 wc", bad},
		{"@file=3 @mtime=+1 wc", bad},
		{"@file=3 @mtime=1.5 wc", bad},
		{"@file=3 @mtime=1e9 wc", bad},
		{"@file=3 @mtime=0x10 wc", bad},
		{"@file=3 @mtime=9223372036854775808 wc", bad},
		{"@file=3 @mtime=-9223372036854775809 wc", bad},
		{"@file=3 @mtime=10000000000000000000 wc", bad},
		{"@file=3 @mtime=- 1 wc", bad},
		{"@file=3 @mtime=1_000 wc", bad},
		{"@file=3 @mtime=1 @mtime=1 wc", `header option "@mtime" given twice`},
		{"@mtime=1 wc", "header option @mtime needs @file: it is the time of the regular file the input is"},
	} {
		_, _, err := parseHeaderOptions(tc.line)
		var ce *compute.Error
		if !errors.As(err, &ce) || ce.Code != compute.CodeInvalid || ce.Msg != tc.msg {
			t.Errorf("%q: %v, want INVALID_ARGUMENT %q", tc.line, err, tc.msg)
		}
	}
}
