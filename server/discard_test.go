package server

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/testenv"
)

// TestDiscard: discard ends at the read deadline with
// os.ErrDeadlineExceeded, drops what the client sends however much it is
// and ends at its FIN with nil, and ends at its reset with another error;
// with the connection's raw conn or without (an error line's wait has
// none).
func TestDiscard(t *testing.T) {
	for _, withRaw := range []bool{false, true} {
		client, server := loopbackPair(t)
		rc := rawConnOf(server)
		if !withRaw {
			rc = nil
		}
		server.SetReadDeadline(time.Now())
		if err := discard(server, rc); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("raw %v: before any input: %v, want the deadline", withRaw, err)
		}
		server.SetReadDeadline(time.Now().Add(defaultTestTimeout))
		sent := make(chan error, 1)
		go func() {
			if _, err := client.Write(make([]byte, 40<<20)); err != nil {
				sent <- err
				return
			}
			sent <- client.CloseWrite()
		}()
		if err := discard(server, rc); err != nil {
			t.Fatalf("raw %v: at the FIN: %v, want nil", withRaw, err)
		}
		if err := testenv.Recv(t, hangTimeout, "the client's send (the server stopped reading?)", sent); err != nil {
			t.Fatal(err)
		}

		client, server = loopbackPair(t)
		if withRaw {
			rc = rawConnOf(server)
		}
		client.SetLinger(0)
		client.Write([]byte("x"))
		client.Close() // a reset
		server.SetReadDeadline(time.Now().Add(defaultTestTimeout))
		if err := discard(server, rc); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("raw %v: at the reset: %v, want its error", withRaw, err)
		}
	}
}
