package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBadInputGNU: input GNU gunzip, zcat and base64 -d fail or warn on,
// through the real daemon on its three paths: the CLI over gRPC, nc -N on
// the command port, nc -N on a route port. GNU's exit status decides: 0
// (trailing zeros, several members) is the output, as GNU's; 2 (a warning:
// trailing garbage, or zeros under -v) is the whole output too, with exit
// status 2 and GNU's stderr from the CLI, and the output alone from nc (a
// raw-TCP reply carries no status); 1 is never a result: the CLI exits 1
// with INVALID_ARGUMENT and GNU's words for the fault, and nc gets the one
// error line with them, the output GNU printed before its error being
// under the connection's 256 KiB reply buffer (it got an empty reply when
// the job failed after its input ended: "cut-300k", "b64-no-pad").
// A failure after more output than that resets the connection, never a
// clean end (a raw client's read: ECONNRESET).
func TestBadInputGNU(t *testing.T) {
	t.Parallel()
	need(t, "gzip")
	routes := []string{"gunzip -c", "zcat -v", "base64 -d"}
	var args []string
	for _, r := range routes {
		args = append(args, "--tcp-route", "127.0.0.1:0="+r)
	}
	d := launch(t, args...)
	host, port, _ := net.SplitHostPort(d.TCP)
	nc := need(t, "nc")
	dir := t.TempDir()

	gz := func(b []byte) []byte {
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
		zw.Write(b)
		zw.Close()
		return z.Bytes()
	}
	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[len(b)+i] ^= 1; return b }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	r := rand.New(rand.NewPCG(3, 5))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	m := gz([]byte("hello\n"))
	k300 := gz(random(300_000)) // a member of 300 KB (incompressible)
	m2 := gz(random(2_000_000)) // 2 MB, past the reply buffer
	enc := []byte(base64.StdEncoding.EncodeToString(random(150_000)))
	inputs := map[string][]byte{
		"member":        m,
		"members":       cat(m, m, gz(nil)),
		"zeros":         cat(m, make([]byte, 100)),
		"garbage":       cat(m, []byte("garbage\n")),
		"zeros-garbage": cat(m, make([]byte, 3), []byte("x")),
		"empty":         nil,
		"one-byte":      []byte("x"),
		"not-gzip":      []byte("plain text\n"),
		"member-x":      cat(m, []byte("x")),
		"member-magic":  cat(m, []byte{0x1f, 0x8b}),
		"cut":           m[:len(m)-3],
		"cut-300k":      k300[:len(k300)-1000],
		"crc":           flip(m, -6),
		"length":        flip(m, -2),
		"crc-300k":      flip(k300, -6),
		"second-cut":    cat(m, m[:12]),
		"cut-2m":        m2[:len(m2)-5000],
		"b64":           enc,
		"b64-bad":       []byte("aGV*bG8K\n"),
		"b64-no-pad":    enc[:len(enc)-2],
		"b64-pad-only":  []byte("====\n"),
		"b64-crlf":      []byte("aGVs\r\nbG8K\r\n"),
	}
	cases := []struct {
		pipeline string
		inputs   []string
	}{
		{"gunzip -c", []string{"member", "members", "zeros", "garbage", "zeros-garbage", "empty", "one-byte", "not-gzip",
			"member-x", "member-magic", "cut", "cut-300k", "crc", "length", "crc-300k", "second-cut", "cut-2m"}},
		{"zcat -v", []string{"zeros", "garbage", "cut", "crc-300k"}},
		{"base64 -d", []string{"b64", "b64-bad", "b64-no-pad", "b64-pad-only", "b64-crlf"}},
	}
	reasons := []string{"unexpected end of file", "crc error", "length error", "not in gzip format", "invalid input"}
	for _, c := range cases {
		argv := strings.Fields(c.pipeline)
		for _, name := range c.inputs {
			in := writeFile(t, dir, strings.ReplaceAll(c.pipeline, " ", "")+"-"+name, inputs[name])
			what := fmt.Sprintf("%s < %s", c.pipeline, name)
			t.Run(what, func(t *testing.T) {
				t.Parallel() // one daemon serves them all at once, as it would clients
				want := runPiped(t, "", in, argv...)
				grpc := run(t, "", in, clientArgv(t, d.GRPC, d.TCP, "grpc", c.pipeline)...)
				cmdPort := run(t, "", "", "sh", "-c", `(printf '%s\n' "$1"; cat "$2") | "$3" -N "$4" "$5"`, "sh", c.pipeline, in, nc, host, port)
				route := run(t, "", in, ncArgv(t, d.Routes[c.pipeline])...)
				if want.code == 0 || want.code == 2 {
					if !bytes.Equal(grpc.stdout, want.stdout) || grpc.code != want.code || !bytes.Equal(grpc.stderr, want.stderr) {
						t.Errorf("%s over gRPC: exit %d (GNU %d), stderr %q (GNU %q)\n%s", what, grpc.code, want.code, grpc.stderr, want.stderr, diff(grpc.stdout, want.stdout))
					}
					for path, got := range map[string]result{"command port": cmdPort, "route": route} {
						if !bytes.Equal(got.stdout, want.stdout) {
							t.Errorf("%s, nc on the %s:\n%s", what, path, diff(got.stdout, want.stdout))
						}
					}
					return
				}
				reason := ""
				for _, r := range reasons {
					if bytes.Contains(want.stderr, []byte(r)) {
						reason = r
						break
					}
				}
				if reason == "" {
					t.Fatalf("%s: GNU exits %d with %q, no reason known", what, want.code, want.stderr)
				}
				if grpc.code != 1 || !strings.HasPrefix(string(grpc.stderr), "halfclose: INVALID_ARGUMENT: "+argv[0]+": ") || !strings.Contains(string(grpc.stderr), reason) {
					t.Errorf("%s over gRPC: exit %d, stderr %q; GNU exits %d: %q", what, grpc.code, grpc.stderr, want.code, want.stderr)
				}
				if name == "cut-2m" {
					// 2 MB of output before the fault: a reset.
					if n, err := rawReply(t, d.Routes[c.pipeline], in); !errors.Is(err, syscall.ECONNRESET) {
						t.Errorf("%s on a route: %d bytes, then %v; want a reset", what, n, err)
					}
					return
				}
				for path, got := range map[string]result{"command port": cmdPort, "route": route} {
					line := string(got.stdout)
					if !strings.HasPrefix(line, "halfclose: error: INVALID_ARGUMENT: "+argv[0]+": ") || !strings.Contains(line, reason) || strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
						t.Errorf("%s, nc on the %s: %q (%d bytes); want the error line with %q", what, path, computeTrunc(got.stdout), len(got.stdout), reason)
					}
				}
			})
		}
	}
}

// rawReply sends the file in to addr, half-closes, and reads the reply to
// its end: the bytes read and the read's error (nil at a FIN).
func rawReply(t *testing.T, addr, in string) (int64, error) {
	t.Helper()
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(defaultTestTimeout))
	go func() {
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
	}()
	return io.Copy(io.Discard, c)
}

// computeTrunc shortens b for a message.
func computeTrunc(b []byte) []byte {
	if len(b) > 120 {
		return b[:120]
	}
	return b
}
