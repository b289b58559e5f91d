package e2e

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestHuntPipeLongWordError: a pipeline naming a long unknown command or
// flag (the text may be 64 KiB) is INVALID_ARGUMENT for every client,
// with a message that names the word's start: grpcio, whose metadata
// limit is 8 KiB, failed the call with INTERNAL ("Received RST_STREAM with
// error code 2") when the message quoted all of it. The CLI (gRPC and
// TCP) and the example clients are the oracle: each must say
// INVALID_ARGUMENT and the same message.
func TestHuntPipeLongWordError(t *testing.T) {
	g, tcp := startDaemon(t)
	in := randomFile(t, 1)
	cli := bin(t, "halfclose")
	for _, tc := range []struct{ name, pipeline, want string }{
		{"command", strings.Repeat("a", 20000), `unknown command "aaaa`},
		{"flag", "wc --" + strings.Repeat("x", 20000), `"--xxxx`},
		{"multibyte", "sort | " + strings.Repeat("\u00e9", 10000), `unknown command "`},
		{"tcp-sized", "wc --" + strings.Repeat("y", 3000), `"--yyyy`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var msgs [][]byte
			check := func(who string, got result) {
				t.Helper()
				i := bytes.Index(got.stderr, []byte("INVALID_ARGUMENT: "))
				if got.code != 1 || len(got.stdout) != 0 || i < 0 || !bytes.Contains(got.stderr, []byte(tc.want)) {
					t.Errorf("%s: exit %d, stdout %q, stderr %.300q; want exit 1 and INVALID_ARGUMENT with %q", who, got.code, got.stdout, got.stderr, tc.want)
					return
				}
				msg := bytes.TrimSpace(got.stderr[i:])
				if len(msg) > 2048 || !utf8.Valid(msg) {
					t.Errorf("%s: a message of %d bytes (valid UTF-8 %v): %.300q", who, len(msg), utf8.Valid(msg), msg)
				}
				msgs = append(msgs, msg)
			}
			check("halfclose", run(t, "", in, cli, "--addr", g, tc.pipeline))
			if len(tc.pipeline) < 4000 {
				check("halfclose --tcp", run(t, "", in, cli, "--tcp", "--tcp-addr", tcp, tc.pipeline))
			}
			for _, lang := range exampleLangs {
				t.Run(lang, func(t *testing.T) {
					check(lang, run(t, "", in, append(exampleClient(t, lang), "--addr", g, "run", tc.pipeline)...))
				})
			}
			for _, m := range msgs[1:] {
				if !bytes.Equal(m, msgs[0]) {
					t.Errorf("messages differ: %.200q and %.200q", msgs[0], m)
				}
			}
		})
	}
}
