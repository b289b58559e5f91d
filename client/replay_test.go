package client

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
	"github.com/halfclose/halfclose/server"
)

// refusal is how a fake peer refuses a call's stream, once it has seen
// after bytes of the stream's DATA (or its END_STREAM, or at its HEADERS
// when after is 0).
type refusal struct {
	// rst: RST_STREAM REFUSED_STREAM (HAProxy for a replica that went
	// away), behind a GOAWAY that lets the stream be (last stream 1), so
	// that the retry goes to a new connection. Else a GOAWAY with a last
	// stream of 0: the stream was never processed (a draining proxy).
	rst   bool
	after int
	// grant: the peer returns the window of the DATA it reads, as a
	// server reading the stream does, so more than the first 64 KiB
	// can come before the refusal.
	grant bool
}

// refuse plays the peer of c that refuses its first stream as ref says,
// and returns the DATA bytes it read from that stream.
func refuse(c net.Conn, ref refusal) int {
	defer c.Close()
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(c, preface); err != nil {
		return 0
	}
	fr := http2.NewFramer(c, c)
	if fr.WriteSettings() != nil {
		return 0
	}
	data, refused := 0, false
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return data
		}
		ended := false
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			ended = f.StreamEnded()
		case *http2.DataFrame:
			if f.StreamID != 1 || refused {
				break
			}
			data += len(f.Data())
			ended = f.StreamEnded()
			if n := uint32(len(f.Data())); ref.grant && n > 0 && data < ref.after {
				fr.WriteWindowUpdate(0, n)
				fr.WriteWindowUpdate(1, n)
			}
		}
		if !refused && (data >= ref.after || ended) {
			refused = true
			if ref.rst {
				fr.WriteGoAway(1, http2.ErrCodeNo, nil)
				fr.WriteRSTStream(1, http2.ErrCodeRefusedStream)
			} else {
				fr.WriteGoAway(0, http2.ErrCodeNo, nil)
			}
		}
	}
}

// shortPipe is the read end of a pipe a goroutine writes input into in
// pieces of random sizes, read at most a random few KiB at a time: the
// client's messages are then filled by many short reads.
type shortPipe struct {
	f   *os.File
	rnd *rand.Rand
}

func newShortPipe(t *testing.T, input []byte, seed uint64) *shortPipe {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	go func() {
		defer w.Close()
		rnd := rand.New(rand.NewPCG(seed, 1))
		for b := input; len(b) > 0; {
			n := min(len(b), 1+rnd.IntN(40000))
			if _, err := w.Write(b[:n]); err != nil {
				return
			}
			b = b[n:]
		}
	}()
	return &shortPipe{f: r, rnd: rand.New(rand.NewPCG(seed, 2))}
}

func (p *shortPipe) Read(b []byte) (int, error) {
	return p.f.Read(b[:min(len(b), 1+p.rnd.IntN(20000))])
}

// TestRefusedCallIsReplayedByteForByte: a call whose stream a peer
// refuses (GOAWAY, or RST_STREAM REFUSED_STREAM) after it sent some of
// its input is sent again by grpc-go from its retry buffer, on a new
// connection to a real server; that server's digest of what the replay
// brought must be GNU sha256sum's of the input, or the call must fail
// (UNAVAILABLE, when it had sent more than the retry buffer holds): a
// replay must never carry other bytes than the first attempt (a buffer
// the client lent to a message and read into again while the retry
// buffer still held it). The inputs come through pipes, in short reads;
// the calls run at once, so that a buffer given back too early is read
// into by another call.
func TestRefusedCallIsReplayedByteForByte(t *testing.T) {
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	apiv1.RegisterComputeServiceServer(gs, server.NewComputeService(engine.New(engine.Config{Registry: builtin.Registry()}), server.Options{}))
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)

	sizes := []int{0, 5, 64 << 10, 150_000, 200_000, 250_000, 3 << 20}
	var refusals []refusal
	for _, rst := range []bool{false, true} {
		for _, after := range []int{0, 1, 9, 30_000, 65_535} {
			refusals = append(refusals, refusal{rst: rst, after: after})
		}
		for _, after := range []int{100_000, 196_617, 240_000, 300_000} {
			refusals = append(refusals, refusal{rst: rst, after: after, grant: true})
		}
	}
	var wg sync.WaitGroup
	// A few calls at once: all 126 together, each under the race
	// detector, ran past ctxT's deadline on a machine at load 40.
	sem := make(chan struct{}, 8)
	for i, ref := range refusals {
		for j, size := range sizes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				name := fmt.Sprintf("%d bytes, refused after %d (rst %v, grant %v)", size, ref.after, ref.rst, ref.grant)
				input := make([]byte, size)
				seed := uint64(i*len(sizes) + j)
				rand.NewChaCha8([32]byte{byte(seed), 'r', 'e', 'p', 'l', 'a', 'y'}).Read(input)

				var dials atomic.Int32
				var refusedData atomic.Int64
				var peer sync.WaitGroup
				dialer := func(ctx context.Context, _ string) (net.Conn, error) {
					if dials.Add(1) > 1 {
						return lis.DialContext(ctx)
					}
					a, b := net.Pipe()
					peer.Add(1)
					go func() {
						defer peer.Done()
						refusedData.Store(int64(refuse(b, ref)))
					}()
					return a, nil
				}
				conn, err := grpc.NewClient("passthrough:///refuser", grpc.WithContextDialer(dialer),
					grpc.WithTransportCredentials(insecure.NewCredentials()))
				if err != nil {
					t.Error(err)
					return
				}
				resp, err := New(conn).Digest(ctxT(t), newShortPipe(t, input, seed), sha256Only, nil)
				conn.Close()
				peer.Wait()
				switch {
				case err == nil:
					if got, want := resp.GetDigests()[0].GetHex(), gnuSHA256(t, input); got != want || resp.GetSize() != int64(size) {
						t.Errorf("%s: digest %s of %d bytes, GNU %s of %d: the replay sent other bytes", name, got, resp.GetSize(), want, size)
					}
					if dials.Load() < 2 {
						t.Errorf("%s: the call succeeded on the refusing peer's connection", name)
					}
				case status.Code(err) == codes.Unavailable:
					// The call had sent more than the retry buffer holds
					// (256 KiB) when it was refused: committed, it cannot
					// be replayed. Not so within the peer's first window,
					// nor for an input that fits the buffer whole.
					if !ref.grant || size < 200_000 {
						t.Errorf("%s: %v, after the peer read %d bytes; want it sent again", name, err, refusedData.Load())
					}
				default:
					t.Errorf("%s: %v", name, err)
				}
			}()
		}
	}
	testenv.Within(t, 4*hangTimeout, "the replays", wg.Wait) // 126 calls, each under ctxT: a minute would be a timing bound
}
