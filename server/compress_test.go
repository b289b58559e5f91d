package server

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"net/url"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
)

// TestCompressedRequests: clients that compress their messages (gzip, a
// common default of Python and Node stacks, and zstd) get the same answers.
func TestCompressedRequests(t *testing.T) {
	env := startEnv(t, envConfig{})
	input := bytes.Repeat([]byte("compressible line of input\n"), 40000)
	want := oracleHex(t, input, "sha256sum")
	for _, name := range []string{"gzip", "zstd"} {
		t.Run(name, func(t *testing.T) {
			conn, err := grpc.NewClient(env.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithDefaultCallOptions(grpc.UseCompressor(name)))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			c := apiv1.NewComputeServiceClient(conn)
			ds, err := c.Digest(jobCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			ds.Send(header(apiv1.Algorithm_ALGORITHM_SHA256))
			sendChunked(input, 200000, func(b []byte) error { return ds.Send(dataMsg(b)) })
			ds.Send(digestEnd(int64(len(input))))
			resp, err := ds.CloseAndRecv()
			if err != nil || resp.GetDigests()[0].GetHex() != want {
				t.Fatalf("Digest: %v %v", resp, err)
			}
			rs, err := c.Run(jobCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			rs.Send(runHeader("testcat"))
			sendChunked(input, 200000, func(b []byte) error { return rs.Send(runData(b)) })
			rs.CloseSend()
			out, _, err := collectRun(rs)
			if err != nil || !bytes.Equal(out, input) {
				t.Fatalf("Run: %d bytes, %v", len(out), err)
			}
		})
	}

	// What a foreign client puts on the wire: the compressed flag and a
	// message compressed by another implementation.
	for _, tc := range []struct {
		name     string
		compress func([]byte) []byte
	}{
		{"gzip", func(b []byte) []byte {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(b)
			zw.Close()
			return buf.Bytes()
		}},
		{"zstd", func(b []byte) []byte {
			enc, _ := zstd.NewWriter(nil)
			defer enc.Close()
			return enc.EncodeAll(b, nil)
		}},
	} {
		t.Run("wire "+tc.name, func(t *testing.T) {
			c := dialH2(t, env.grpcAddr)
			c.hbuf.Reset()
			for _, f := range [][2]string{
				{":method", "POST"}, {":scheme", "http"}, {":path", "/halfclose.v1.ComputeService/Digest"},
				{":authority", "halfclose"}, {"content-type", "application/grpc"}, {"te", "trailers"},
				{"grpc-encoding", tc.name}, {"grpc-accept-encoding", tc.name},
			} {
				c.henc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
			}
			if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.hbuf.Bytes(), EndHeaders: true}); err != nil {
				t.Fatal(err)
			}
			msgs := []proto.Message{header(apiv1.Algorithm_ALGORITHM_SHA256), dataMsg([]byte("hello\n")), digestEnd(6)}
			for i, m := range msgs {
				b, _ := proto.Marshal(m)
				z := tc.compress(b)
				frame := make([]byte, 5, 5+len(z))
				frame[0] = 1 // compressed
				binary.BigEndian.PutUint32(frame[1:], uint32(len(z)))
				if err := c.fr.WriteData(1, i == len(msgs)-1, append(frame, z...)); err != nil {
					t.Fatal(err)
				}
			}
			h, _ := c.firstHeaders(1)
			if h.StreamEnded() {
				t.Fatalf("trailers only: %v", h.Fields)
			}
			// The reply is compressed as the request was (docs/protocol.md).
			if got := headerValue(h, "grpc-encoding"); got != tc.name {
				t.Errorf("reply grpc-encoding %q; want %q", got, tc.name)
			}
			for _, f := range h.Fields {
				if f.Name == "grpc-status" || strings.HasPrefix(f.Name, "grpc-message") {
					t.Fatalf("error: %v", h.Fields)
				}
			}
		})
	}
}

// TestZstdWindowRefused: a zstd message whose frame needs a window over
// 8 MiB (one that says so, or a single-segment frame of that much
// content) is refused, and the status names that limit: grpc-go makes it
// INTERNAL "grpc: failed to read decompressed data: ..." whatever the
// decompressor says, and the decoder's own words were "window size
// exceeded" and "decompressed size exceeds configured limit". The job is
// recorded as the limit it hit. A window of 8 MiB is taken.
func TestZstdWindowRefused(t *testing.T) {
	const want = "grpc: failed to read decompressed data: zstd frame window over the server's limit of 8388608 bytes"
	env := startEnv(t, envConfig{maxMsg: 32 << 20})
	for _, tc := range []struct {
		name   string
		n      int // bytes of data
		opts   []zstd.EOption
		status string
	}{
		{"window of 16 MiB", 16 << 20, []zstd.EOption{zstd.WithWindowSize(16 << 20), zstd.WithSingleSegment(false)}, "13"},
		{"single segment of 9 MB", 9_000_000, []zstd.EOption{zstd.WithSingleSegment(true)}, "13"},
		{"window of 8 MiB", 16 << 20, []zstd.EOption{zstd.WithWindowSize(8 << 20), zstd.WithSingleSegment(false)}, "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := zstd.NewWriter(nil, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := proto.Marshal(dataMsg(make([]byte, tc.n)))
			z := enc.EncodeAll(b, nil)
			enc.Close()
			var h zstd.Header
			if err := h.Decode(z); err != nil {
				t.Fatal(err)
			}
			t.Logf("frame: window %d, single segment %v, content %d; %d bytes compressed", h.WindowSize, h.SingleSegment, h.FrameContentSize, len(z))

			c := dialH2(t, env.grpcAddr)
			c.hbuf.Reset()
			for _, f := range [][2]string{
				{":method", "POST"}, {":scheme", "http"}, {":path", "/halfclose.v1.ComputeService/Digest"},
				{":authority", "halfclose"}, {"content-type", "application/grpc"}, {"te", "trailers"},
				{"grpc-encoding", "zstd"},
			} {
				c.henc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
			}
			if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.hbuf.Bytes(), EndHeaders: true}); err != nil {
				t.Fatal(err)
			}
			hb, _ := proto.Marshal(header(apiv1.Algorithm_ALGORITHM_SHA256))
			msgs := append(binary.BigEndian.AppendUint32([]byte{0}, uint32(len(hb))), hb...)
			msgs = append(binary.BigEndian.AppendUint32(append(msgs, 1), uint32(len(z))), z...)
			for len(msgs) > 0 {
				n := min(len(msgs), 16<<10)
				if err := c.fr.WriteData(1, n == len(msgs), msgs[:n]); err != nil {
					t.Fatal(err)
				}
				msgs = msgs[n:]
			}
			var got *http2.MetaHeadersFrame
			for got == nil || !got.StreamEnded() {
				got, _ = c.firstHeaders(1)
			}
			msg, _ := url.PathUnescape(headerValue(got, "grpc-message"))
			if st := headerValue(got, "grpc-status"); st != tc.status || st != "0" && msg != want {
				t.Fatalf("grpc-status %s %q; want %s %q", st, msg, tc.status, want)
			}
			if tc.status == "0" {
				return
			}
			if oc := env.obs.nextOutcome(t); oc != OutcomeLimit {
				t.Errorf("outcome %s; want %s", oc, OutcomeLimit)
			}
		})
	}
}
