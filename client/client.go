// Package client is the Go client of halfclose: it streams an io.Reader to
// the server in well-sized chunks, half-closes, and returns the reply.
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/internal/grpcopts"
)

// DefaultChunkSize is the size of the data messages a client sends: large
// enough to amortize per-message costs, well under the default 4 MiB
// message limit.
const DefaultChunkSize = 256 << 10

// Client calls a halfclose server over gRPC.
type Client struct {
	conn      *grpc.ClientConn // nil when built from a caller's connection
	api       apiv1.ComputeServiceClient
	chunkSize int
}

// Option configures Dial.
type Option func(*dialOptions)

type dialOptions struct {
	tls       *tls.Config
	token     string
	chunkSize int
	grpcOpts  []grpc.DialOption
}

// WithTLS uses TLS with cfg instead of plaintext.
func WithTLS(cfg *tls.Config) Option { return func(o *dialOptions) { o.tls = cfg } }

// WithToken sends "authorization: Bearer token" on every call.
func WithToken(token string) Option { return func(o *dialOptions) { o.token = token } }

// WithChunkSize sets the size of data messages.
func WithChunkSize(n int) Option { return func(o *dialOptions) { o.chunkSize = n } }

// WithDialOptions adds raw gRPC dial options.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *dialOptions) { o.grpcOpts = append(o.grpcOpts, opts...) }
}

// Dial connects to a halfclose server at addr (host:port).
func Dial(addr string, opts ...Option) (*Client, error) {
	o := dialOptions{chunkSize: DefaultChunkSize}
	for _, opt := range opts {
		opt(&o)
	}
	creds := insecure.NewCredentials()
	if o.tls != nil {
		creds = credentials.NewTLS(o.tls)
	}
	dopts := append(grpcopts.DialOptions(), grpc.WithTransportCredentials(creds))
	if o.token != "" {
		dopts = append(dopts, grpc.WithPerRPCCredentials(tokenCreds{token: o.token, secure: o.tls != nil}))
	}
	dopts = append(dopts, o.grpcOpts...)
	conn, err := grpc.NewClient(addr, dopts...)
	if err != nil {
		return nil, err
	}
	c := New(conn)
	c.conn = conn
	c.chunkSize = o.chunkSize
	return c, nil
}

// New returns a Client on an existing connection.
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{api: apiv1.NewComputeServiceClient(conn), chunkSize: DefaultChunkSize}
}

// Close closes the connection Dial made.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// DigestOptions are the optional parts of a Digest header.
type DigestOptions struct {
	ExpectedSize    *int64
	ExpectedDigests []*apiv1.ExpectedDigest
}

// Digest streams r and returns its digests. The stream is half-closed when
// r returns io.EOF; any other error from r cancels the call, so the server
// never computes a result from partial input.
func (c *Client) Digest(ctx context.Context, r io.Reader, algos []apiv1.Algorithm, opts *DigestOptions) (*apiv1.DigestResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.api.Digest(ctx)
	if err != nil {
		return nil, err
	}
	h := &apiv1.DigestHeader{Algorithms: algos}
	if opts != nil {
		h.ExpectedSize = opts.ExpectedSize
		h.ExpectedDigests = opts.ExpectedDigests
	}
	if err := stream.Send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Header{Header: h}}); err != nil && err != io.EOF {
		return nil, err
	}
	msg := &apiv1.DigestRequest_Data{}
	req := &apiv1.DigestRequest{Message: msg}
	err = sendChunks(r, c.chunkSize, func(b []byte) error {
		msg.Data = b
		return stream.Send(req)
	})
	if err != nil {
		return nil, err
	}
	return stream.CloseAndRecv()
}

// Run streams r as the input of pipeline, half-closes, and copies the
// output to w. It returns the summary, which a complete reply always ends
// with; an error after some output means that output is incomplete.
func (c *Client) Run(ctx context.Context, pipeline string, r io.Reader, w io.Writer) (*apiv1.RunSummary, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.api.Run(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&apiv1.RunRequest{Message: &apiv1.RunRequest_Header{Header: &apiv1.RunHeader{Pipeline: pipeline}}}); err != nil && err != io.EOF {
		return nil, err
	}
	msg := &apiv1.RunRequest_Data{}
	req := &apiv1.RunRequest{Message: msg}
	if err := sendChunks(r, c.chunkSize, func(b []byte) error {
		msg.Data = b
		return stream.Send(req)
	}); err != nil {
		return nil, err
	}
	if err := stream.CloseSend(); err != nil {
		return nil, err
	}
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			return nil, errors.New("halfclose: reply ended without a summary")
		}
		if err != nil {
			return nil, err
		}
		switch m := resp.GetMessage().(type) {
		case *apiv1.RunResponse_Output:
			if _, err := w.Write(m.Output); err != nil {
				return nil, err
			}
		case *apiv1.RunResponse_Summary:
			return m.Summary, nil
		}
	}
}

// Capabilities asks the server what it can do.
func (c *Client) Capabilities(ctx context.Context) (*apiv1.CapabilitiesResponse, error) {
	return c.api.Capabilities(ctx, &apiv1.CapabilitiesRequest{})
}

// chunkBufs recycles the send buffers of calls with the default chunk size,
// so that many small calls do not each allocate one.
var chunkBufs = sync.Pool{New: func() any { b := make([]byte, DefaultChunkSize); return &b }}

// sendChunks reads r in chunks of size and sends each. A send that fails
// with io.EOF means the server ended the call early: the caller learns why
// from the status, so that error is not returned here. An error from r is
// returned wrapped, and the caller's cancel aborts the stream.
func sendChunks(r io.Reader, size int, send func([]byte) error) error {
	var buf []byte
	if size == DefaultChunkSize {
		bp := chunkBufs.Get().(*[]byte)
		defer chunkBufs.Put(bp)
		buf = *bp
	} else {
		buf = make([]byte, size)
	}
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			// Send marshals the message before it returns, so buf can be
			// reused for the next chunk.
			if serr := send(buf[:n]); serr == io.EOF {
				return nil
			} else if serr != nil {
				return serr
			}
		}
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return nil
		default:
			return fmt.Errorf("reading input: %w", err)
		}
	}
}

type tokenCreds struct {
	token  string
	secure bool
}

func (t tokenCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + t.token}, nil
}

func (t tokenCreds) RequireTransportSecurity() bool { return t.secure }
