package server

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
)

// TestTimeoutStatusCarriesServerWords: a stream the server's header or
// idle timeout stops while its handler is blocked (in the header's
// receive, the first data's, a receive between data messages, or a Send
// its client does not read) gets the server's own status, DEADLINE_EXCEEDED
// with the message that names the timeout, never grpc-go's bare "context
// deadline exceeded", and never a result; the job is recorded idle. Each
// call's client is a real grpc-go client on 127.0.0.1.
func TestTimeoutStatusCarriesServerWords(t *testing.T) {
	const d = shortTimeout
	headerMsg := errHeaderTimeout(d).Error()
	idleMsg := errIdle(d).Error()
	replyMsg := errReplyIdle(d).Error()
	// A reply well over what the client's stream window (64 KiB, no
	// BDP growth: a fixed window) and the server's write quota hold: its
	// Send blocks until the client reads. It comes of a small input
	// (gunzip -c), which arrives whole at once: a large one could take
	// longer than the idle timeout to arrive on a busy machine.
	big, gz := unreadReply()
	for _, c := range []struct {
		name, method string
		msgs         [][]byte // data messages after the header; nil: no header either
		header       bool
		unread       bool // Run (gunzip -c): the client reads nothing until the job ended
		want         string
	}{
		{"no header", "Digest", nil, false, false, headerMsg},
		{"no header", "Run", nil, false, false, headerMsg},
		{"no data", "Digest", nil, true, false, idleMsg},
		{"no data", "Run", nil, true, false, idleMsg},
		{"between messages", "Digest", [][]byte{[]byte("some")}, true, false, idleMsg},
		{"between messages", "Run", [][]byte{[]byte("some")}, true, false, idleMsg},
		{"reply not read", "Run", [][]byte{gz}, true, true, replyMsg},
	} {
		t.Run(c.name+"/"+c.method, func(t *testing.T) {
			t.Parallel()
			// The header timeout is short only where it is what the case
			// tests: elsewhere a header late on a busy machine would
			// end the call with the header's message.
			hdr := defaultTestTimeout
			if !c.header {
				hdr = d
			}
			env := startEnv(t, envConfig{idle: d, tcp: tcpSettings{HeaderTimeout: hdr}})
			conn := dialTest(t, env.grpcAddr, grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
			client := apiv1.NewComputeServiceClient(conn)
			ctx := jobCtx(t) // a failure only, never a wait
			var got error
			switch c.method {
			case "Digest":
				s, err := client.Digest(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if c.header {
					s.Send(header(apiv1.Algorithm_ALGORITHM_SHA256))
				}
				for _, m := range c.msgs {
					s.Send(dataMsg(m))
				}
				var resp apiv1.DigestResponse
				if got = s.RecvMsg(&resp); got == nil {
					t.Fatalf("a result: %v", &resp)
				}
			case "Run":
				s, err := client.Run(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if c.header {
					p := "testcat"
					if c.unread {
						p = "gunzip -c"
					}
					s.Send(runHeader(p))
				}
				for _, m := range c.msgs {
					s.Send(runData(m))
				}
				if c.unread {
					s.CloseSend()
					if oc := env.obs.nextOutcome(t); oc != OutcomeIdle {
						t.Fatalf("outcome %q, want %q", oc, OutcomeIdle)
					}
				}
				out, sum, err := collectRun(s)
				if sum != nil {
					t.Fatalf("a summary: %v", sum)
				}
				if len(out) >= len(big) || !bytes.Equal(out, big[:len(out)]) {
					t.Fatalf("output: %d bytes, not a part of the input", len(out))
				}
				got = err
			}
			if st := status.Convert(got); st.Code() != codes.DeadlineExceeded || st.Message() != c.want {
				t.Errorf("client got %v; want DEADLINE_EXCEEDED %q", got, c.want)
			}
			if !c.unread {
				if oc := env.obs.nextOutcome(t); oc != OutcomeIdle {
					t.Errorf("outcome %q, want %q", oc, OutcomeIdle)
				}
			}
		})
	}
}

// TestHeaderTimeoutBeforeHandlerSaysSo: a stream whose header timeout
// ends it before its handler begins (here an interceptor holds the call
// until the stream's context has ended, as a busy server may) gets the
// timeout's own status too, which the handler writes as it binds the
// guard: grpc-go's first receive would answer with its bare "context
// deadline exceeded". A header that came before the handler's receive
// (a bad one: no algorithm, an unknown command) may still be received
// then (grpc-go picks the message or the stream's end at random): the
// job ends with the timeout all the same, recorded idle, as its client
// was told, not as the header's error.
func TestHeaderTimeoutBeforeHandlerSaysSo(t *testing.T) {
	const d = shortTimeout
	hold := grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		<-ss.Context().Done() // the header timeout stopped the stream
		return handler(srv, ss)
	})
	for _, c := range []struct {
		method string
		sent   bool // a bad header is sent at once
	}{{"Digest", false}, {"Run", false}, {"Digest", true}, {"Run", true}} {
		t.Run(fmt.Sprintf("%s/sent=%v", c.method, c.sent), func(t *testing.T) {
			t.Parallel()
			env := startEnv(t, envConfig{idle: d, tcp: tcpSettings{HeaderTimeout: d}, grpcOpts: []grpc.ServerOption{hold}})
			var err error
			if c.method == "Digest" {
				s, serr := env.client.Digest(jobCtx(t))
				if serr != nil {
					t.Fatal(serr)
				}
				if c.sent {
					s.Send(header())
				}
				var resp apiv1.DigestResponse
				if err = s.RecvMsg(&resp); err == nil {
					t.Fatalf("a result: %v", &resp)
				}
			} else {
				s, serr := env.client.Run(jobCtx(t))
				if serr != nil {
					t.Fatal(serr)
				}
				if c.sent {
					s.Send(runHeader("nosuchcommand"))
				}
				var sum *apiv1.RunSummary
				if _, sum, err = collectRun(s); sum != nil {
					t.Fatalf("a summary: %v", sum)
				}
			}
			want := errHeaderTimeout(d).Error()
			if st := status.Convert(err); st.Code() != codes.DeadlineExceeded || st.Message() != want {
				t.Errorf("client got %v; want DEADLINE_EXCEEDED %q", err, want)
			}
			if oc := env.obs.nextOutcome(t); oc != OutcomeIdle {
				t.Errorf("outcome %q, want %q", oc, OutcomeIdle)
			}
		})
	}
}

// unreadReply returns a reply well over what a client's stream window
// and the server's write quota hold, and its gzip, a small input that
// makes it (gunzip -c).
func unreadReply() (big, gz []byte) {
	big = bytes.Repeat([]byte("halfclose reply never read\n"), 40000)
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(big)
	zw.Close()
	return big, b.Bytes()
}
