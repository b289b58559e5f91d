package server

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc/encoding"
	// gzip registers grpc's "gzip" compressor: Python and Node stacks often
	// send grpc-encoding: gzip.
	_ "google.golang.org/grpc/encoding/gzip"
)

// zstdMaxWindow bounds the memory a zstd message may make the server
// allocate for its window: the 8 MiB every zstd decoder must support (RFC
// 8878). A message compressed with a larger window fails the call.
const zstdMaxWindow = 8 << 20

// grpc's compressor registry is global and must be filled at init time
// (encoding.RegisterCompressor); the gzip import above does the same.
func init() { encoding.RegisterCompressor(newZstdCompressor()) }

// zstdCompressor is the "zstd" grpc-encoding, over klauspost/compress.
// Encoders and decoders are pooled: each holds buffers of up to a window.
// Both run synchronously (concurrency 1), so they start no goroutines.
type zstdCompressor struct {
	encoders sync.Pool // *zstd.Encoder
	decoders sync.Pool // *zstd.Decoder
}

func newZstdCompressor() *zstdCompressor { return &zstdCompressor{} }

// Name implements encoding.Compressor.
func (c *zstdCompressor) Name() string { return "zstd" }

// Compress implements encoding.Compressor.
func (c *zstdCompressor) Compress(w io.Writer) (io.WriteCloser, error) {
	enc, _ := c.encoders.Get().(*zstd.Encoder)
	if enc == nil {
		var err error
		enc, err = zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithWindowSize(4<<20), zstd.WithLowerEncoderMem(true))
		if err != nil {
			return nil, err
		}
	} else {
		enc.Reset(w)
	}
	return &zstdWriter{Encoder: enc, pool: &c.encoders}, nil
}

type zstdWriter struct {
	*zstd.Encoder
	pool *sync.Pool
}

// Close ends the frame and pools the encoder.
func (w *zstdWriter) Close() error {
	err := w.Encoder.Close()
	w.pool.Put(w.Encoder)
	w.Encoder = nil
	return err
}

// Decompress implements encoding.Compressor. grpc reads the result to its
// end, and at most the largest message allowed plus one byte.
func (c *zstdCompressor) Decompress(r io.Reader) (io.Reader, error) {
	dec, _ := c.decoders.Get().(*zstd.Decoder)
	if dec == nil {
		var err error
		dec, err = zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, err
		}
	} else if err := dec.Reset(r); err != nil {
		c.decoders.Put(dec)
		return nil, err
	}
	return &zstdReader{dec: dec, pool: &c.decoders}, nil
}

// zstdReader pools its decoder once the message has been read to its end
// (or failed); one left unread is collected with it.
type zstdReader struct {
	dec  *zstd.Decoder
	pool *sync.Pool
}

func (r *zstdReader) Read(p []byte) (int, error) {
	if r.dec == nil {
		return 0, io.EOF
	}
	n, err := r.dec.Read(p)
	if err != nil {
		r.dec.Reset(nil)
		r.pool.Put(r.dec)
		r.dec = nil
		if errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded) {
			// The decoder's words ("window size exceeded", "decompressed
			// size exceeds configured limit") name neither the window
			// nor the limit. A single-segment frame's window is its
			// content size; nothing else fails with these when streaming.
			err = errZstdWindow
		}
	}
	return n, err
}

// errZstdWindow is the refusal of a zstd frame whose window is over
// zstdMaxWindow. grpc-go answers the client INTERNAL "grpc: failed to read
// decompressed data: " and this; recvFailure records it as the limit.
var errZstdWindow = fmt.Errorf("zstd frame window over the server's limit of %d bytes", zstdMaxWindow)
