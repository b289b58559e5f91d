package main

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/halfclose/halfclose/client"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/server"
)

// stoppingProxy is a TCP front to a real gRPC server that behaves as
// nginx's fast shutdown (SIGTERM) did under a call: the first connection
// is passed through until the client has sent past bytes, then both of
// its sides are closed (the client reads EOF); every later connection,
// as one queued on a listener about to close, is reset before a byte is
// sent to it.
// broke closes once the first connection is closed.
func stoppingProxy(t *testing.T, past int64) (addr string, broke <-chan struct{}) {
	t.Helper()
	replica := serveCompute(t, engine.New(engine.Config{Registry: builtin.Registry()}), server.Options{}) // stops after the cleanup below
	fl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() {
		fl.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		first := true
		for {
			c, err := fl.Accept()
			if err != nil {
				return
			}
			if !first {
				// Once the client's first bytes are here (its connect
				// has returned: the kernel had completed it, as for a
				// connection queued on nginx's listener), a reset.
				c.Read(make([]byte, 1))
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
				continue
			}
			first = false
			up, err := net.Dial("tcp", replica)
			if err != nil {
				t.Error(err)
				c.Close()
				return
			}
			wg.Add(2)
			go func() { // the replica's bytes to the client
				defer wg.Done()
				io.Copy(c, up)
			}()
			go func() { // the client's, until past; then the stop
				defer wg.Done()
				io.CopyN(up, c, past)
				c.Close()
				up.Close()
				close(done)
			}()
		}
	}()
	return fl.Addr().String(), done
}

// TestCLIProxyStoppedMidCall: a proxy stopped (nginx's SIGTERM) under a
// call ends its connection, and the CLI's retry policy sends the call
// again on a new connection, which the stopping proxy resets before it
// speaks. The CLI said "closed the connection without speaking gRPC (a
// TLS port? ... a raw-TCP port of halfclosed? ...)" of the address it had
// just been speaking gRPC with (TestFleetHuntSlow's proxystop and
// proxykill, 2 of 2 CLI calls through nginx): it now says the address
// had spoken on an earlier connection, and that it was stopping or at
// its cap. Either way an error, exit 1, and no output.
//
// Whether gRPC retries the call is gRPC's to decide: 1 run in 15 to 45
// on a busy machine ended with the first attempt's own words ("error
// reading from server: ... connection reset by peer": the connection
// had spoken, and no retry met the stop), which say nothing of a TLS or
// raw-TCP port either. Such a run did not test the retry's words, so the
// stop is staged again, up to 5 times, until one does.
func TestCLIProxyStoppedMidCall(t *testing.T) {
	const stagings = 5
	for range stagings {
		addr, broke := stoppingProxy(t, 64<<10)
		pr, pw := io.Pipe()
		go func() {
			// Well within the CLI's retry buffer (256 KiB), so the call is
			// sent again: part before the stop, the end after it.
			pw.Write([]byte(strings.Repeat("x", 96<<10)))
			<-broke
			pw.Close()
		}()
		code, out, errs := runCLIIn(t, pr, "--progress=false", "--addr", addr, "sha256sum")
		pr.Close()
		if code != 1 || out != "" {
			t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 and no output", code, out, errs)
		}
		if strings.Contains(errs, "TLS port") || strings.Contains(errs, "raw-TCP port") {
			t.Fatalf("stderr %q; want it not to name a TLS or raw-TCP port of an address that had spoken gRPC", errs)
		}
		if strings.Contains(errs, "UNAVAILABLE: error reading from server: ") && !client.IsClosedUnspoken(errs) {
			t.Logf("no retry met the stop (%q): staged again", errs)
			continue
		}
		if !strings.Contains(errs, "had spoken gRPC on an earlier one") || !strings.Contains(errs, "stopping") {
			t.Errorf("stderr %q; want it to say the address had spoken gRPC and was stopping", errs)
		}
		return
	}
	t.Fatalf("%d stops staged, and no retry met one", stagings)
}
