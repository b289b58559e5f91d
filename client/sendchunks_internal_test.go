package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protowire"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/server"
)

// TestSendChunksGivesBuffersBack: every read buffer sendChunks takes from
// its free list goes back, the ones it lent to a message once grpc-go
// frees them (here at once) and the one it was reading into when the
// input ended. Before, that last one was dropped: every call took a
// buffer for good, and a small Digest or Run allocated a whole
// DefaultChunkSize (1 MiB) of garbage.
func TestSendChunksGivesBuffersBack(t *testing.T) {
	const size = 64
	for _, n := range []int{0, 1, size - 1, size, size + 1, 5*size + 3} {
		bufs := newSendBufs(size)
		input := bytes.Repeat([]byte("x"), n)
		var got []byte
		send := func(b []byte, sb *sendBuf) error {
			got = append(got, b...)
			if sb != nil {
				sb.pool.Put(sb.b) // grpc-go done with it
			}
			return nil
		}
		sent, err := sendChunks(context.Background(), bytes.NewReader(input), bufs, send, func(error) {})
		if err != nil || sent != int64(n) || !bytes.Equal(got, input) {
			t.Fatalf("%d bytes: sent %d, %v; want all of them", n, sent, err)
		}
		if out := bufs.out.Load(); out != 0 {
			t.Errorf("%d bytes: %d read buffers not given back to the free list", n, out)
		}
	}
}

// slowReader gives its bytes, then blocks until unblock is closed (a
// slow source whose next bytes have not come yet).
type slowReader struct {
	b       []byte
	unblock chan struct{}
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.b) > 0 {
		n := copy(p, r.b)
		r.b = r.b[n:]
		return n, nil
	}
	<-r.unblock
	return 0, errors.New("unblocked")
}

// panicOnData is a caller's stream: its SendMsg panics on a data message.
type panicOnData struct{ grpc.ClientStream }

func (s panicOnData) SendMsg(m any) error {
	if r, ok := m.(*apiv1.DigestRequest); ok && r.GetData() != nil {
		panic("boom in the caller's interceptor")
	}
	if r, ok := m.(*apiv1.RunRequest); ok && r.GetData() != nil {
		panic("boom in the caller's interceptor")
	}
	return s.ClientStream.SendMsg(m)
}

// TestFlushPanicIsAnInputError: the bytes of a slow source are sent by a
// flush, on a timer's goroutine (chunkSender.flush); a panic there (in the
// caller's stream interceptor) fails the call at once, even while the
// source's next Read is blocked, as the input's error naming the panic,
// as sendInput's recover does on the input's goroutine. Before, it ended
// the caller's process.
func TestFlushPanicIsAnInputError(t *testing.T) {
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	apiv1.RegisterComputeServiceServer(gs, server.NewComputeService(engine.New(engine.Config{Registry: builtin.Registry()}), server.Options{}))
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			cs, err := streamer(ctx, desc, cc, method, opts...)
			return panicOnData{cs}, err
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := New(conn)
	calls := map[string]func(r io.Reader) error{
		"Digest": func(r io.Reader) error {
			_, err := c.Digest(ctxT(t), r, []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_MD5}, nil)
			return err
		},
		"Run": func(r io.Reader) error {
			_, err := c.Run(ctxT(t), "wc -c", r, io.Discard)
			return err
		},
	}
	for name, call := range calls {
		r := &slowReader{b: []byte("a line\n"), unblock: make(chan struct{})}
		err := call(r)
		close(r.unblock)
		if !IsInputError(err) || !strings.Contains(err.Error(), "boom in the caller's interceptor") {
			t.Errorf("%s: %v; want the input error naming the panic", name, err)
		}
	}
}

// TestSendChunksAlignsFrames: with chunks of a multiple of 16 KiB, the
// messages sendChunks sends, cut into frames as grpc-go cuts them (16 KiB
// of gRPC prefix, the data field's tag and length, then data), put every
// frame's data of a whole chunk but each message's first frame's on a
// 16 KiB boundary of the input, so a server's BLAKE3 hashes them where
// they lie (the last, shorter message may have a shorter length). Before, the
// first message was a whole chunk, and every frame started 9 bytes short
// of a boundary. The input arrives whole and in order (the sum of the
// messages), and the first message is the lead alone.
func TestSendChunksAlignsFrames(t *testing.T) {
	for _, c := range []struct{ chunk, n int }{
		{DefaultChunkSize, 5*DefaultChunkSize + 12345},
		{256 << 10, 3<<20 + 1},
		{4 << 20, 9 << 20},
		{16 << 10, 200 << 10},
	} {
		bufs := newSendBufs(c.chunk)
		input := make([]byte, c.n)
		for i := range input {
			input[i] = byte(i * 31)
		}
		var got []byte
		var sizes []int
		send := func(b []byte, sb *sendBuf) error {
			got = append(got, b...)
			sizes = append(sizes, len(b))
			if sb != nil {
				sb.pool.Put(sb.b)
			}
			return nil
		}
		if _, err := sendChunks(context.Background(), bytes.NewReader(input), bufs, send, func(error) {}); err != nil || !bytes.Equal(got, input) {
			t.Fatalf("chunk %d: %v, or the input differs", c.chunk, err)
		}
		if want := 5 + 1 + protowire.SizeVarint(uint64(c.chunk)); sizes[0] != want {
			t.Errorf("chunk %d: first message of %d bytes, want %d", c.chunk, sizes[0], want)
		}
		off, misaligned, frames := 0, 0, 0
		for i, size := range sizes {
			prefix := 5 + 1 + protowire.SizeVarint(uint64(size))
			data := off
			// The first frame carries the prefix and the data up to 16 KiB.
			data += min(size, frameData-prefix)
			for size == c.chunk && data < off+size {
				frames++
				if data%frameData != 0 {
					misaligned++
					if misaligned == 1 {
						t.Errorf("chunk %d: message %d (of %d bytes at %d) has a frame at %d", c.chunk, i, size, off, data)
					}
				}
				data += frameData
			}
			off += size
		}
		if frames == 0 || misaligned != 0 {
			t.Errorf("chunk %d: %d of %d frames after the first of their message off a 16 KiB boundary", c.chunk, misaligned, frames)
		}
	}
}

// TestRampMessagesAreLentCopies: a call's lead message is a few bytes,
// then come messages of rampChunk bytes up to rampBytes (the retry
// buffer: TestRefusedCallIsReplayedByteForByte), each a copy in a buffer
// of rampChunk bytes that the client lends to the message; then whole
// chunks. The ramp's messages were copied by grpc-go's codec instead,
// each into a buffer of the 1 MiB tier of grpc-go's default pool, which
// clears the whole buffer as it hands it out: 3 MiB cleared a call, and
// a warm client's CPU per Digest of 200 KiB went from 0.26 to 0.50 ms.
func TestRampMessagesAreLentCopies(t *testing.T) {
	input := bytes.Repeat([]byte("0123456789abcdef"), (3<<20)/16)
	type msg struct {
		n, cap int
		lent   bool
	}
	var msgs []msg
	var got []byte
	send := func(b []byte, sb *sendBuf) error {
		got = append(got, b...)
		m := msg{n: len(b)}
		if sb != nil {
			m.lent, m.cap = true, cap(*sb.b)
			sb.pool.Put(sb.b) // grpc-go done with it
		}
		msgs = append(msgs, m)
		return nil
	}
	sent, err := sendChunks(context.Background(), bytes.NewReader(input), newSendBufs(DefaultChunkSize), send, func(error) {})
	if err != nil || sent != int64(len(input)) || !bytes.Equal(got, input) {
		t.Fatalf("sent %d, %v; want all %d bytes", sent, err, len(input))
	}
	lead := leadBytes(DefaultChunkSize)
	want := []msg{{n: lead}, {rampChunk, rampChunk, true}, {rampChunk, rampChunk, true}, {rampChunk, rampChunk, true}}
	for off := lead + 3*rampChunk; off < len(input); off += DefaultChunkSize {
		want = append(want, msg{min(DefaultChunkSize, len(input)-off), DefaultChunkSize, true})
	}
	if fmt.Sprint(msgs) != fmt.Sprint(want) {
		t.Fatalf("messages (bytes, buffer, lent): %v\nwant %v", msgs, want)
	}
}
