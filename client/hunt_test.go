package client

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
)

// TestSendTCPInputMoreThanSize: an input that holds more than the size
// declared for it (a regular file that grew after its size was taken, or
// whose file system reports less) is an input error, never a FIN after the
// declared bytes, which the server would answer with a result over part
// of the input.
func TestSendTCPInputMoreThanSize(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(io.Discard, c)
	}()
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	var ended atomic.Bool
	_, err = sendTCPInput(context.Background(), conn, "@size=5 @trailer sha256sum\n", strings.NewReader("hello, world"), 5, true, &ended)
	conn.Close()
	<-done
	if !errors.Is(err, errReadInput) {
		t.Fatalf("err = %v, want an input error", err)
	}
	if ended.Load() {
		t.Error("the input was half-closed as if it had ended")
	}
}
