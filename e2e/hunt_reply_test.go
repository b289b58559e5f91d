package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHuntReplyCutAfterOutput: a job that fails after its output started
// (a gunzip -c of a gzip stream cut short: 64 MiB of zeros from 64 KiB of
// input, more than --spool-mem holds once the input has ended, so output
// goes out before gunzip reaches the cut) ends in a reset, never a FIN: a
// raw client's read fails with ECONNRESET after some output, and
// halfclose --tcp says the reply is incomplete and why ("the server
// reset the connection after N bytes of the reply"), exit 1. The CLI
// printed the read's error, "reading reply (the output is incomplete):
// writeto tcp A->B: read tcp A->B: read: connection reset by peer".
func TestHuntReplyCutAfterOutput(t *testing.T) {
	_, tcp := startDaemon(t, "--spool-mem", "1MiB")
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(make([]byte, 64<<20))
	zw.Close()
	cut := gz.Bytes()[:gz.Len()/2]

	t.Run("raw", func(t *testing.T) {
		c, err := net.Dial("tcp", tcp)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(defaultTestTimeout))
		if _, err := c.Write(append([]byte("gunzip -c\n"), cut...)); err != nil {
			t.Fatal(err)
		}
		c.(*net.TCPConn).CloseWrite()
		got, err := io.Copy(io.Discard, c)
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("read %d bytes, then %v; want a reset", got, err)
		}
	})
	t.Run("halfclose --tcp", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin(t, "halfclose"), "--tcp", "--tcp-addr", tcp, "gunzip", "-c")
		cmd.Env = cleanEnv()
		cmd.Stdin = bytes.NewReader(cut)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("%v; want exit 1 (stderr %q)", err, stderr.Bytes())
		}
		const prefix = "halfclose: incomplete reply: the server reset the connection after "
		const suffix = " bytes of the reply (the job failed after its output started, the reply was not read for the server's --idle-timeout, or the server was stopped)\n"
		if msg := stderr.String(); !strings.HasPrefix(msg, prefix) || !strings.HasSuffix(msg, suffix) {
			t.Errorf("stderr %q, want %q N %q", msg, prefix, suffix)
		}
		if bytes.ContainsFunc(stdout.Bytes(), func(r rune) bool { return r != 0 }) || stdout.Len() >= 64<<20 {
			t.Errorf("stdout: %d bytes, not a part of the zeros", stdout.Len())
		}
	})
}
