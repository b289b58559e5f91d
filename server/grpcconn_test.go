package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/internal/testenv"
)

// Connections of one listener share its pool of read buffers, each
// buffer going back to the pool once read out and being filled again by
// whichever connection reads next. Several connections at once, each
// sending a random stream in writes of random sizes and read in reads of
// the sizes grpc-go makes (a frame header of 9 bytes, a payload of 16
// KiB) and of odd ones, must each read exactly what its peer sent: a
// buffer given back while still read from, or read again after, shows as
// a wrong digest (or, under -race, a race between two connections).
func TestGRPCConnReadsWhatWasSent(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gl := NewGRPCListener(l, 64<<10, time.Minute)
	defer gl.Close()
	const conns, size = 4, 4 << 20
	wants := map[string]bool{}
	for i := range conns {
		sum := sha256.Sum256(randBytes(uint64(100+i), size))
		wants[hex.EncodeToString(sum[:])] = true
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*conns)
	for i := range conns {
		wg.Add(1)
		go func() { // the client: sends its stream, then FIN
			defer wg.Done()
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			data := randBytes(uint64(100+i), size)
			r := rand.New(rand.NewPCG(uint64(i), 1))
			for len(data) > 0 {
				n := min(len(data), 1+r.IntN(200<<10))
				if _, err := c.Write(data[:n]); err != nil {
					errs <- err
					return
				}
				data = data[n:]
			}
			c.(*net.TCPConn).CloseWrite()
		}()
	}
	for range conns {
		c, err := gl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { // the server: reads as grpc-go would, and odd sizes
			defer wg.Done()
			defer c.Close()
			h := sha256.New()
			r := rand.New(rand.NewPCG(uint64(c.RemoteAddr().(*net.TCPAddr).Port), 2))
			sizes := []int{9, 16384, 9, 16384, 1, 70000, 9, 16384, 64 << 10, 200 << 10}
			var n int64
			for {
				p := make([]byte, sizes[r.IntN(len(sizes))])
				m, err := io.ReadFull(c, p)
				h.Write(p[:m])
				n += int64(m)
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					break
				}
				if err != nil {
					errs <- err
					return
				}
			}
			got := hex.EncodeToString(h.Sum(nil))
			if wants[got] {
				return
			}
			errs <- fmt.Errorf("a connection read %d bytes whose SHA-256 %s is no client's", n, got)
		}()
	}
	testenv.Within(t, hangTimeout, "the connections' checks", wg.Wait)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A write larger than the socket can take at once goes out whole: the
// raw write's partial writes and its waits for room (EAGAIN, in the
// netpoller) lose nothing and repeat nothing.
func TestGRPCConnWritesWhole(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gl := NewGRPCListener(l, GRPCReadBufSize, 0)
	defer gl.Close()
	peer, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c, err := gl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := randBytes(3, 16<<20)
	errc := make(chan error, 1)
	go func() {
		n, err := c.Write(data)
		if err == nil && n != len(data) {
			err = fmt.Errorf("wrote %d of %d bytes", n, len(data))
		}
		c.Close() // after what was written: the peer reads it all, then EOF
		errc <- err
	}()
	h := sha256.New()
	n, err := io.CopyBuffer(h, peer, make([]byte, 4096))
	if err != nil {
		t.Fatal(err)
	}
	if err := testenv.Recv(t, hangTimeout, "the client's send", errc); err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(h.Sum(nil)), sha256.Sum256(data); got != hex.EncodeToString(want[:]) {
		t.Fatalf("read %d bytes, sha256 %s, want %d bytes, %x", n, got, len(data), want)
	}
}

// Writes at once on one connection go out one after the other, each
// whole, as net.Conn's do: a write larger than the socket takes is not
// split around another's.
func TestGRPCConnWritesDoNotInterleave(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gl := NewGRPCListener(l, GRPCReadBufSize, 0)
	defer gl.Close()
	for range 4 {
		writesAtOnce(t, l.Addr().String(), gl, []byte("abcd"), 1<<20)
	}
}

// writesAtOnce writes size bytes of each of marks on one connection of
// gl at once and checks that each write arrived in one piece.
func writesAtOnce(t *testing.T, addr string, gl net.Listener, marks []byte, size int) {
	t.Helper()
	peer, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c, err := gl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	// Small socket buffers: each write goes out in many parts.
	peer.(*net.TCPConn).SetReadBuffer(64 << 10)
	tcpConnOf(c.(*grpcConn).Conn).SetWriteBuffer(64 << 10)
	var wg sync.WaitGroup
	for _, b := range marks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Write(bytes.Repeat([]byte{b}, size)); err != nil {
				t.Error(err)
			}
		}()
	}
	go func() { wg.Wait(); c.Close() }()
	var got []byte
	buf := make([]byte, 16<<10)
	for {
		n, err := peer.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != len(marks)*size {
		t.Fatalf("read %d bytes, want %d", len(got), len(marks)*size)
	}
	for ; len(got) > 0; got = got[size:] {
		if n := bytes.Count(got[:size], got[:1]); n != size {
			t.Fatalf("a write's %d bytes of %q came in parts (%d in its place)", size, got[:1], n)
		}
	}
}

// Calls at once, each on a connection of its own, through a server whose
// connections buffer their own reads and write with raw system calls
// (NewGRPCListener, grpc.ReadBufferSize(0), as halfclosed serves
// plaintext gRPC): Digest calls of random uploads in data messages of
// various sizes, each digest crypto/sha256's of the bytes sent; and Run
// calls of testcat, whose replies (as large as the input) come back whole.
func TestGRPCListenerCalls(t *testing.T) {
	env := startEnv(t, envConfig{
		grpcOpts: []grpc.ServerOption{grpc.ReadBufferSize(0)},
		grpcListener: func(l net.Listener) net.Listener {
			return NewGRPCListener(l, GRPCReadBufSize, time.Minute)
		},
	})
	dial := func() (apiv1.ComputeServiceClient, func()) {
		conn, err := grpc.NewClient(env.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		return apiv1.NewComputeServiceClient(conn), func() { conn.Close() }
	}
	var wg sync.WaitGroup
	for i, chunk := range []int{1 << 20, 40000, 16384 - 5, 300001} {
		client, done := dial()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer done()
			input := randBytes(uint64(1000+i), 6<<20+i)
			stream, err := client.Digest(jobCtx(t))
			if err != nil {
				t.Error(err)
				return
			}
			if err := stream.Send(header(apiv1.Algorithm_ALGORITHM_SHA256)); err != nil {
				t.Error(err)
				return
			}
			if err := sendChunked(input, chunk, func(b []byte) error { return stream.Send(dataMsg(b)) }); err != nil {
				t.Error(err)
				return
			}
			resp, err := stream.CloseAndRecv()
			if err != nil {
				t.Errorf("chunks of %d: %v", chunk, err)
				return
			}
			want := sha256.Sum256(input)
			if got := resp.GetDigests()[0].GetHex(); got != hex.EncodeToString(want[:]) || resp.GetSize() != int64(len(input)) {
				t.Errorf("chunks of %d: %d bytes, sha256 %s, want %d bytes, %x", chunk, resp.GetSize(), got, len(input), want)
			}
		}()
	}
	for i := range 2 {
		client, done := dial()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer done()
			input := randBytes(uint64(2000+i), 4<<20+i)
			stream, err := client.Run(jobCtx(t))
			if err != nil {
				t.Error(err)
				return
			}
			if err := stream.Send(runHdr(&apiv1.RunHeader{Pipeline: "testcat"})); err != nil {
				t.Error(err)
				return
			}
			if err := sendChunked(input, 1<<20, func(b []byte) error { return stream.Send(runData(b)) }); err != nil {
				t.Error(err)
				return
			}
			stream.CloseSend()
			out, _, err := collectRun(stream)
			if err != nil {
				t.Errorf("run: %v", err)
				return
			}
			if got, want := sha256.Sum256(out), sha256.Sum256(input); got != want {
				t.Errorf("run: %d bytes back, sha256 %x, want %d bytes, %x", len(out), got, len(input), want)
			}
		}()
	}
	testenv.Within(t, hangTimeout, "the connections' checks", wg.Wait)
}
