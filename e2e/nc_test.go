package e2e

import (
	"bytes"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// ncArgv is OpenBSD nc sending stdin to addr, then FIN (-N).
func ncArgv(t testing.TB, addr string) []string {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return []string{need(t, "nc"), "-N", host, port}
}

// TestNcRoute: `nc -N host PORT < file` on a route port prints what the
// route's pipeline prints locally.
func TestNcRoute(t *testing.T) {
	t.Parallel()
	need(t, "nc")
	d := launch(t,
		"--tcp-route", "127.0.0.1:0=sha256sum",
		"--tcp-route", "127.0.0.1:0=b2sum --tag -l 256",
		"--tcp-route", "127.0.0.1:0=wc",
		"--tcp-route", "127.0.0.1:0=sha256sum | sha256sum",
	)
	for pipeline, addr := range d.Routes {
		for _, n := range append(slices.Clone(sizes), bigSize) {
			in := randomFile(t, n)
			want := runPiped(t, "", in, "sh", "-c", pipeline).stdout
			got := run(t, "", in, ncArgv(t, addr)...)
			if got.code != 0 || !bytes.Equal(got.stdout, want) {
				t.Errorf("route %q, %s bytes: exit %d, stderr %q\n%s", pipeline, sizeName(n), got.code, got.stderr, diff(got.stdout, want))
			}
		}
	}
}

// TestNcCommandPort: `(echo PIPELINE; cat file) | nc -N host TCPPORT`
// prints what PIPELINE prints locally.
func TestNcCommandPort(t *testing.T) {
	t.Parallel()
	nc := need(t, "nc")
	_, tcp := startDaemon(t)
	host, port, _ := net.SplitHostPort(tcp)
	for _, pipeline := range []string{"sha256sum", "md5sum --tag", "b3sum", "cksum", "wc -lwc", "sha1sum | wc -c"} {
		for _, n := range sizes {
			in := randomFile(t, n)
			want := runPiped(t, "", in, "sh", "-c", pipeline).stdout
			got := run(t, "", "", "sh", "-c", `(printf '%s\n' "$1"; cat "$2") | "$3" -N "$4" "$5"`, "sh", pipeline, in, nc, host, port)
			if got.code != 0 || !bytes.Equal(got.stdout, want) {
				t.Errorf("%q, %s bytes: exit %d, stderr %q\n%s", pipeline, sizeName(n), got.code, got.stderr, diff(got.stdout, want))
			}
		}
	}
	// A "\r\n" header, as a telnet-style client sends, is the same pipeline.
	in := randomFile(t, 65537)
	want := gnu(t, in, "sha256sum")
	got := run(t, "", "", "sh", "-c", `(printf 'sha256sum\r\n'; cat "$1") | "$2" -N "$3" "$4"`, "sh", in, nc, host, port)
	if !bytes.Equal(got.stdout, want) {
		t.Errorf("CRLF header: %s", diff(got.stdout, want))
	}
}

// TestNcErrorLines: an error found before output starts is one line
// "halfclose: error: CODE: message\n", then the server's FIN.
func TestNcErrorLines(t *testing.T) {
	t.Parallel()
	nc := need(t, "nc")
	_, tcp := startDaemon(t, "--max-header-bytes", "128")
	host, port, _ := net.SplitHostPort(tcp)
	big := randomFile(t, 3<<20)
	cases := []struct {
		name, script string
		want         string
	}{
		{"unknown command", `printf 'nosuchcmd -x\n'`, "halfclose: error: INVALID_ARGUMENT: unknown command \"nosuchcmd\"\n"},
		{"unknown command, then 3 MiB", `printf 'nosuchcmd\n'; cat "$1"`, "halfclose: error: INVALID_ARGUMENT: unknown command \"nosuchcmd\"\n"},
		{"unknown flag", `printf 'sha256sum --bogus\n'`, "halfclose: error: INVALID_ARGUMENT: sha256sum: unknown flag \"--bogus\"\n"},
		{"unknown short flag in a pipeline", `printf 'sha256sum | wc -Q\n'; cat "$1"`, "halfclose: error: INVALID_ARGUMENT: wc: unknown flag \"-Q\"\n"},
		{"file operand", `printf 'sha256sum /etc/passwd\n'`, "halfclose: error: INVALID_ARGUMENT: sha256sum: unexpected operand \"/etc/passwd\""},
		{"header without newline, then FIN", `printf 'sha256sum'`, "halfclose: error: INVALID_ARGUMENT: header line must end with a newline\n"},
		{"nothing, then FIN", `:`, "halfclose: error: INVALID_ARGUMENT: missing header line"},
		{"empty header", `printf '\n'; cat "$1"`, "halfclose: error: INVALID_ARGUMENT: pipeline: empty\n"},
		{"header too long", `head -c 4000 "$1" | tr -d '\n'; cat "$1"`, "halfclose: error: INVALID_ARGUMENT: header line longer than 128 bytes\n"},
		{"shell syntax", `printf 'sha256sum > /tmp/x\n'`, "halfclose: error: INVALID_ARGUMENT: pipeline: unsupported shell syntax \"> /tmp/x\", a redirection"},
	}
	for _, c := range cases {
		got := run(t, "", "", "sh", "-c", "("+c.script+`) | "$2" -N "$3" "$4"`, "sh", big, nc, host, port)
		line := string(got.stdout)
		if !strings.HasPrefix(line, c.want) || !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
			t.Errorf("%s: got %q, want one line starting %q", c.name, line, c.want)
		}
	}
}

// TestTCPAbort: a client that resets its connection mid-input gets no
// result computed from partial input: the job ends in an abort with no
// output written, and the server goes on serving.
func TestTCPAbort(t *testing.T) {
	t.Parallel()
	d := launch(t, "--tcp-route", "127.0.0.1:0=sha256sum")
	data := randomBytes(t, 20<<20)
	for _, c := range []struct{ name, addr, header string }{
		{"command port", d.TCP, "sha256sum\n"},
		{"route port", d.Routes["sha256sum"], ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(d.jobs())
			conn, err := net.Dial("tcp", c.addr)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(conn, c.header); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Write(data[:len(data)/2]); err != nil {
				t.Fatal(err)
			}
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close() // RST
			// This connection's job, by its peer address: the job of the
			// subtest before may be logged after before was counted (the
			// server logs a job once its reply is sent).
			peer := conn.LocalAddr().String()
			j := d.waitJob(t, before, func(j map[string]any) bool { return j["adapter"] == "tcp" && j["peer"] == peer })
			job, _ := j["job"].(map[string]any)
			if job["outcome"] != "reset" || job["out_bytes"] != float64(0) || job["in_bytes"].(float64) >= float64(len(data)) {
				t.Errorf("job after a reset: %v; want a reset with no output and partial input", j)
			}

			// The server still works, on the same port.
			got := tcpRun(t, c.addr, c.header, data)
			if want := gnuBytes(t, data, "sha256sum"); !bytes.Equal(got, want) {
				t.Errorf("request after the reset: %s", diff(got, want))
			}
		})
	}
}

// TestTCPIdleAbort: a client that stops sending without a FIN is aborted
// after --idle-timeout, and is sent nothing at all, not a digest of what it
// sent; a header that never ends is cut off by --header-timeout, also
// without a reply.
func TestTCPIdleAbort(t *testing.T) {
	t.Parallel()
	d := launch(t, "--idle-timeout", "300ms", "--header-timeout", "300ms", "--tcp-route", "127.0.0.1:0=sha256sum")
	for _, c := range []struct{ name, addr, send string }{
		{"command port, idle input", d.TCP, "sha256sum\nsome input"},
		{"route port, idle input", d.Routes["sha256sum"], "some input"},
		{"command port, unfinished header", d.TCP, "sha256s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", c.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, c.send); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(defaultTestTimeout))
			got, err := io.ReadAll(conn)
			if len(got) != 0 {
				t.Errorf("an aborted job wrote %q", got)
			}
			if os.IsTimeout(err) {
				t.Errorf("the server did not end the idle connection within %v", defaultTestTimeout)
			}
		})
	}
}

// tcpRun sends header and data on a fresh connection, half-closes and
// returns the whole reply.
func tcpRun(t testing.TB, addr, header string, data []byte) []byte {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(defaultTestTimeout))
	errc := make(chan error, 1)
	go func() {
		_, err := conn.Write(append([]byte(header), data...))
		if err == nil {
			err = conn.(*net.TCPConn).CloseWrite()
		}
		errc <- err
	}()
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return got
}

// gnuBytes runs the oracle on data.
func gnuBytes(t testing.TB, data []byte, argv ...string) []byte {
	t.Helper()
	p := writeFile(t, t.TempDir(), "in", data)
	return gnu(t, p, argv...)
}
