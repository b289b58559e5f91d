// Package client is the Go client of halfclose: it streams an io.Reader to
// the server in well-sized chunks, proves the end of the input, and returns
// the reply.
//
// Over gRPC, Dial (or New, over a connection of your own) gives a Client
// whose Digest, Run and Capabilities are the ComputeService's calls. Each
// sends its header with require_end and, after the input, an End message
// with the byte count (and, for Digest, the digests), then half-closes; a
// cancelled context resets the stream, so an aborted upload is never taken
// for a whole one. A Client is safe for concurrent use: each call is a
// stream of its own on the Client's connections.
//
// The input is any io.Reader. Its io.EOF, and only that (not an error
// wrapping it), is the end of the input; any other error is an abort: the
// call is cancelled and its error is the reader's, for which IsInputError
// is true and errors.Is finds the reader's own error. Bytes read are sent
// in chunks of up to DefaultChunkSize (WithChunkSize), and within 100 ms
// of their Read however slow the reader is, so that a slow but moving
// source is never taken by the server for an idle one. Reading stops at
// the first io.EOF, even one returned with bytes; a reader that returns
// no bytes and no error 100 times in a row fails with io.ErrNoProgress.
//
// The errors of Digest, Run and Capabilities are, besides input errors:
//
//   - gRPC statuses (status.Code, status.Convert): the server's
//     (INVALID_ARGUMENT for a bad pipeline, RESOURCE_EXHAUSTED for a
//     limit, DATA_LOSS for a declared size or digest the input did not
//     match, UNAUTHENTICATED and PERMISSION_DENIED for tokens,
//     UNAVAILABLE for a server that is not there or is stopping), and the
//     context's: CANCELED, DEADLINE_EXCEEDED. A nil reader or writer, or
//     pipeline text that is not UTF-8, is an INVALID_ARGUMENT status made
//     by the client, before anything is sent;
//   - for Run, the writer's error, as the writer returned it (or
//     io.ErrShortWrite for a Write that took part of its bytes without an
//     error): the call is cancelled.
//
// A call returns a result only when the server answered the whole input
// (a reply that counts other input bytes than were sent is DATA_LOSS);
// on any error there is none (Digest returns a nil response, Run a nil
// summary, and what Run wrote to its writer is not the whole output).
//
// Over raw TCP, RunTCP speaks the command port's protocol: a header line
// declaring the input's length (@size) or framing it (@chunked) and asking
// for a @trailer, the input, the half-close, and a reply checked against
// its trailer. The server's errors are *TCPError, carrying the same code
// names as the gRPC statuses; RunTCP lists the others.
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/internal/grpcopts"
)

// DefaultChunkSize is the size of the data messages a client sends: large
// enough to amortize per-message costs on both ends (1 MiB messages cost
// less CPU per byte than 256 KiB ones: a quarter of the messages to hand
// between goroutines, and 1 MiB socket writes), a quarter of the server's
// default 4 MiB message limit. A server whose --max-msg-bytes is below
// 1 MiB needs WithChunkSize.
const DefaultChunkSize = 1 << 20

// Client calls a halfclose server over gRPC. It is safe for concurrent
// use by many goroutines.
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

// WithTLS uses TLS with cfg instead of plaintext (WithTLS(nil) is
// plaintext). cfg.RootCAs nil trusts the system's CAs; cfg.Certificates
// is the client certificate of mutual TLS. A failed handshake shows at
// each call, as UNAVAILABLE.
func WithTLS(cfg *tls.Config) Option { return func(o *dialOptions) { o.tls = cfg } }

// WithToken sends "authorization: Bearer token" on every call, for a
// server with --auth-token-file: a call without a token fails with
// UNAUTHENTICATED, one with a token the server does not have with
// PERMISSION_DENIED. Without WithTLS the token travels in the clear. An
// empty token sends none.
func WithToken(token string) Option { return func(o *dialOptions) { o.token = token } }

// WithChunkSize sets the largest data message, in bytes (DefaultChunkSize
// by default). It must be at least 1 (Dial fails otherwise), and below the
// server's --max-msg-bytes (4 MiB by default) by a few bytes: a larger
// chunk makes the server fail the call with RESOURCE_EXHAUSTED.
func WithChunkSize(n int) Option { return func(o *dialOptions) { o.chunkSize = n } }

// WithDialOptions adds raw gRPC dial options, after Dial's own: an
// option given here overrides Dial's (grpc.WithDefaultServiceConfig
// replaces DefaultServiceConfig).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *dialOptions) { o.grpcOpts = append(o.grpcOpts, opts...) }
}

// DefaultServiceConfig is the gRPC service config Dial gives every
// connection, unless the name resolver (a DNS TXT record) or a
// grpc.WithDefaultServiceConfig in WithDialOptions gives another:
//
//   - round_robin: every call goes to the next ready server of all the
//     addresses the target resolves to, so the calls of one Client spread
//     over a fleet (pick_first, gRPC's default, would send them all to
//     one server);
//   - a retry policy for halfclose.v1.ComputeService: a call that fails
//     with UNAVAILABLE (a server that stopped, a connection lost, a proxy
//     with no server to send it to) is tried again on another server, up
//     to 4 attempts in all, 0.1 s to 1 s apart. gRPC retries a call only
//     while nothing of the reply has arrived and everything the client
//     sent still fits the call's retry buffer (256 KiB, gRPC's default:
//     grpc.MaxRetryRPCBufferSize), which it replays. A halfclose job is a
//     pure function of its input, so a replay computes the same result;
//     a call that sent more cannot be replayed and fails with
//     UNAVAILABLE. Other codes (RESOURCE_EXHAUSTED, DATA_LOSS, ...) are
//     never retried;
//   - retry throttling: when more than half of a connection's recent
//     calls failed, it stops retrying (gRFC A6), so a fleet in trouble is
//     not sent every call four times.
//
// Besides the policy, gRPC always retries, once and at once, a call the
// server never processed: one refused by a server's GOAWAY as it shuts
// down, or one that never left the client. docs/clients.md has the details.
const DefaultServiceConfig = `{
  "loadBalancingConfig": [{"round_robin": {}}],
  "methodConfig": [{
    "name": [{"service": "halfclose.v1.ComputeService"}],
    "retryPolicy": {
      "maxAttempts": 4,
      "initialBackoff": "0.1s",
      "maxBackoff": "1s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }],
  "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}
}`

// staticScheme names the resolver of a comma-separated address list.
const staticScheme = "halfclose-static"

// Dial connects to halfclose servers at target, one of:
//
//   - host:port, one server (or every address the host name resolves to);
//   - host1:port1,host2:port2,... several servers, each connected to;
//   - a gRPC target URI: dns:///host:port (every address of the name, as
//     a Kubernetes headless Service gives them), unix:///path, ...
//
// Calls are balanced and retried as DefaultServiceConfig says. A host
// without a port is gRPC's default port, 443 (halfclosed's is 50051).
//
// Dial does not connect: it fails only for a target it cannot parse (an
// empty one, a list with an entry that is not host:port) or a bad option.
// A server that cannot be reached fails each call with UNAVAILABLE, after
// the retries. Close the Client when done with it.
func Dial(target string, opts ...Option) (*Client, error) {
	o := dialOptions{chunkSize: DefaultChunkSize}
	for _, opt := range opts {
		opt(&o)
	}
	if strings.TrimSpace(target) == "" {
		return nil, errors.New("no server address: want host:port, a comma-separated list of them, or a gRPC target URI")
	}
	if o.chunkSize <= 0 {
		return nil, fmt.Errorf("chunk size %d: it must be at least 1 byte", o.chunkSize)
	}
	creds := insecure.NewCredentials()
	if o.tls != nil {
		tlsCfg := o.tls
		if host, _, err := net.SplitHostPort(target); err == nil && tlsCfg.ServerName == "" && tlsName(host) != host {
			// grpc-go verifies the target's host, zone and all ("::1%25lo"),
			// which no certificate names.
			tlsCfg = tlsCfg.Clone()
			tlsCfg.ServerName = tlsName(host)
		}
		creds = credentials.NewTLS(tlsCfg)
	}
	// A write to a connection its server closed before it sent anything
	// says so (ClosedUnspoken), not a bare "write: broken pipe", and
	// whether the address had spoken on an earlier one (SpokeBefore).
	dopts := append(grpcopts.DialOptions(), grpc.WithTransportCredentials(unspokenCreds{creds, &spokenAddrs{}}),
		grpc.WithDefaultServiceConfig(DefaultServiceConfig))
	if o.token != "" {
		dopts = append(dopts, grpc.WithPerRPCCredentials(tokenCreds{token: o.token, secure: o.tls != nil}))
	}
	addrs, ok, err := addressList(target)
	if err != nil {
		return nil, err
	}
	if ok {
		r := manual.NewBuilderWithScheme(staticScheme)
		state := resolver.State{}
		for _, a := range addrs {
			// ServerName: each server's TLS name and :authority are its
			// own, as if it alone had been dialed.
			name := a
			if host, port, err := net.SplitHostPort(a); err == nil {
				name = net.JoinHostPort(tlsName(host), port)
			}
			state.Endpoints = append(state.Endpoints, resolver.Endpoint{Addresses: []resolver.Address{{Addr: a, ServerName: name}}})
		}
		r.InitialState(state)
		dopts = append(dopts, grpc.WithResolvers(r))
		target = staticScheme + ":///" + escapeZone(strings.Join(addrs, ","))
	} else if !strings.Contains(target, "://") {
		addrs = []string{target} // host:port, or a URI without "//" (not loopbackOnly)
		if _, _, err := net.SplitHostPort(target); err == nil && strings.Contains(target, "%") {
			// gRPC parses a target as a URI: an IPv6 zone ([fe80::1%eth0]:50051)
			// was an "invalid URL escape". Its dns resolver reads the path
			// unescaped, so the zone reaches the dialer as given.
			target = "dns:///" + escapeZone(target)
		}
	}
	if loopbackOnly(addrs) {
		// Before the caller's options: a dialer of theirs wins.
		dopts = append(dopts, loopbackDialOptions()...)
	}
	dopts = append(dopts, o.grpcOpts...)
	conn, err := grpc.NewClient(target, dopts...)
	if err != nil {
		return nil, err
	}
	c := New(conn)
	c.conn = conn
	c.chunkSize = o.chunkSize
	return c, nil
}

// tlsName is the name a certificate must hold for host: an IPv6 address
// without its zone (fe80::1%eth0 is verified as fe80::1, its IP SAN).
func tlsName(host string) string {
	if a, err := netip.ParseAddr(host); err == nil && a.Zone() != "" {
		return a.WithZone("").String()
	}
	return host
}

// escapeZone escapes the '%' of IPv6 zones for a gRPC target URI.
func escapeZone(s string) string { return strings.ReplaceAll(s, "%", "%25") }

// addressList splits a comma-separated list of host:port addresses; ok is
// false for anything else (one address, a URI), which gRPC resolves.
func addressList(target string) (addrs []string, ok bool, err error) {
	if !strings.Contains(target, ",") || strings.Contains(target, "://") {
		return nil, false, nil
	}
	for _, a := range strings.Split(target, ",") {
		a = strings.TrimSpace(a)
		if _, _, err := net.SplitHostPort(a); err != nil || a == "" {
			return nil, false, fmt.Errorf("address list %q: %q is not host:port", target, a)
		}
		addrs = append(addrs, a)
	}
	return addrs, true, nil
}

// New returns a Client on an existing connection (a *grpc.ClientConn of
// your own, with your dial options), sending chunks of DefaultChunkSize.
// Its Close does nothing: the connection is the caller's to close.
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{api: apiv1.NewComputeServiceClient(conn), chunkSize: DefaultChunkSize}
}

// Close closes the connection Dial made, ending the calls in progress.
// Calls after Close fail with CANCELED, as does a second Close.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// DigestOptions are the optional parts of a Digest call.
type DigestOptions struct {
	// ExpectedSize and ExpectedDigests go in the header: what the caller
	// knows of the input before sending it.
	ExpectedSize    *int64
	ExpectedDigests []*apiv1.ExpectedDigest
	// EndDigests go in the End message: digests the caller computed over
	// what it sent, each of an algorithm the call computes. The server
	// checks them (DATA_LOSS on a mismatch).
	EndDigests []*apiv1.ExpectedDigest
}

// Digest streams r and returns its digests. When r returns io.EOF the
// client proves the end of input (an End message with the byte count,
// require_end in the header) and half-closes; any other error from r
// cancels the call, so the server never computes a result from partial
// input.
//
// Digest returns as soon as the call fails (ctx done, a server error),
// even while a Read of r is blocked: the goroutine that sends the input
// then ends when that Read returns, and reads no more.
//
// The response has a digest for each of algos, and the size the server
// received. Errors: see the package doc; a wrong opts.ExpectedSize,
// opts.ExpectedDigests or opts.EndDigests is DATA_LOSS.
func (c *Client) Digest(ctx context.Context, r io.Reader, algos []apiv1.Algorithm, opts *DigestOptions) (*apiv1.DigestResponse, error) {
	if r == nil {
		return nil, errNilReader
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.api.Digest(ctx, codecOption)
	if err != nil {
		return nil, err
	}
	h := &apiv1.DigestHeader{Algorithms: algos, RequireEnd: true}
	end := &apiv1.End{}
	if opts != nil {
		h.ExpectedSize = opts.ExpectedSize
		h.ExpectedDigests = opts.ExpectedDigests
		end.Digests = opts.EndDigests
	}
	if err := stream.Send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Header{Header: h}}); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	// The reply is awaited while the input is sent: a server that fails
	// the call early (a limit, a bad header, a timeout) is heard at once,
	// even while a Read of r is blocked.
	resp := new(apiv1.DigestResponse)
	replied := make(chan error, 1)
	go func() { replied <- stream.RecvMsg(resp) }()
	var ended atomic.Bool // the End was sent and the stream half-closed
	sent := sendInput(ctx, cancel, r, c.chunkSize,
		func(b []byte, sb *sendBuf) error {
			return sendOwned(stream.Send, &apiv1.DigestRequest{Message: &apiv1.DigestRequest_Data{Data: b}}, sb)
		},
		func(n int64) error {
			end.Size = n
			if err := stream.Send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_End{End: end}}); err != nil {
				return err
			}
			if err := stream.CloseSend(); err != nil {
				return err
			}
			ended.Store(true)
			return nil
		})
	var rerr error
	select {
	case err := <-sent:
		if err != nil {
			return nil, err
		}
		rerr = <-replied
	case rerr = <-replied:
		if rerr != nil {
			return nil, lostStatus(inputErr(sent, rerr))
		}
		// The reply came as the input's sender was finishing: wait for it.
		select {
		case err := <-sent:
			if err != nil {
				return nil, err
			}
		case <-ctx.Done():
			return nil, inputErr(sent, status.FromContextError(ctx.Err()).Err())
		}
	case <-ctx.Done():
		return nil, inputErr(sent, status.FromContextError(ctx.Err()).Err())
	}
	if rerr != nil {
		return nil, lostStatus(rerr)
	}
	if err := checkReply(ended.Load(), end.Size, resp.GetSize()); err != nil {
		return nil, err
	}
	return resp, nil
}

// RunOption is an option of Client.Run.
type RunOption func(*runOptions)

type runOptions struct {
	fileTime bool
}

// WithFileTime sends, when the input is a regular file, its modification
// time with its size (RunHeader.input_file_mtime), for a pipeline that
// prints it (gzip -lv; engine.WantsInputFileTime says which do).
// Without it the server lists the epoch, as for a pipe. A server older
// than the field ignores it.
func WithFileTime() RunOption { return func(o *runOptions) { o.fileTime = true } }

// errNilReader and errNilWriter are the errors of a call given a nil
// reader or writer: nothing is sent. RunTCP returns their messages as
// plain errors.
const (
	nilReaderMsg = "client: nil io.Reader for the input (an empty input is strings.NewReader(\"\"))"
	nilWriterMsg = "client: nil io.Writer for the output (io.Discard drops it)"
)

var (
	errNilReader = status.Error(codes.InvalidArgument, nilReaderMsg)
	errNilWriter = status.Error(codes.InvalidArgument, nilWriterMsg)
)

// Run streams r as the input of pipeline, proves the end of input (an End
// message with the byte count, require_end in the header), half-closes,
// and copies the output to w. When r is a regular file (an *os.File or a
// reader with a Stat method), the header says so (input_file_size): the
// commands print what GNU prints reading that file as standard input
// (wc's column widths); with WithFileTime, its time too
// (input_file_mtime: gzip -lv's time). It returns the summary, which a complete
// reply always ends with: the pipeline's exit status (grep that selected
// no line: 1) and the lines its commands wrote on standard error (sort -c's
// disorder line), which a caller shows as a shell would. An error after
// some output means that output is incomplete. An error from r cancels
// the call.
//
// A server error is returned as soon as it arrives, even while the input
// is still being sent; like Digest, Run does not wait for a blocked Read
// of r once the call has failed.
//
// Errors: see the package doc. A reply that ends without a summary (a
// server that is not halfclose's) is INTERNAL.
//
// The pipeline text is a protobuf string, which must be valid UTF-8: other
// bytes (a pattern in Latin-1) are written as $'\xHH' in the text. Text
// that is not UTF-8 is an InvalidArgument error, nothing sent.
func (c *Client) Run(ctx context.Context, pipeline string, r io.Reader, w io.Writer, opts ...RunOption) (*apiv1.RunSummary, error) {
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}
	if !utf8.ValidString(pipeline) {
		return nil, status.Error(codes.InvalidArgument, "pipeline text is not valid UTF-8 (gRPC carries it as a string): write other bytes as $'\\xHH'")
	}
	if r == nil {
		return nil, errNilReader
	}
	if w == nil {
		return nil, errNilWriter
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.api.Run(ctx, codecOption)
	if err != nil {
		return nil, err
	}
	h := &apiv1.RunHeader{Pipeline: pipeline, RequireEnd: true}
	if n, mtime, ok := fileSize(r); ok {
		h.InputFileSize = &n
		if o.fileTime {
			h.InputFileMtime = &mtime
		}
	}
	if err := stream.Send(&apiv1.RunRequest{Message: &apiv1.RunRequest_Header{Header: h}}); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	var ended atomic.Bool // the End was sent and the stream half-closed
	var size int64        // the bytes sent, once ended
	sent := sendInput(ctx, cancel, r, c.chunkSize,
		func(b []byte, sb *sendBuf) error {
			return sendOwned(stream.Send, &apiv1.RunRequest{Message: &apiv1.RunRequest_Data{Data: b}}, sb)
		},
		func(n int64) error {
			if err := stream.Send(&apiv1.RunRequest{Message: &apiv1.RunRequest_End{End: &apiv1.End{Size: n}}}); err != nil {
				return err
			}
			if err := stream.CloseSend(); err != nil {
				return err
			}
			size = n
			ended.Store(true)
			return nil
		})
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			// The summary alone proves the output whole: a status
			// (INTERNAL: the server broke the protocol), as any other
			// failure of the call.
			return nil, status.Error(codes.Internal, "reply ended without a summary: the output may be incomplete")
		}
		if err != nil {
			return nil, lostStatus(inputErr(sent, err))
		}
		switch m := resp.GetMessage().(type) {
		case *apiv1.RunResponse_Output:
			if n, err := w.Write(m.Output); err != nil {
				return nil, err
			} else if n != len(m.Output) {
				// A Writer that took part and said nothing (io.Copy's
				// check): the output would be cut short unseen.
				return nil, io.ErrShortWrite
			}
		case *apiv1.RunResponse_Summary:
			// The summary comes after the End: wait for the input's
			// sender to be done with it.
			select {
			case err := <-sent:
				if err != nil {
					return nil, err
				}
			case <-ctx.Done():
				return nil, inputErr(sent, status.FromContextError(ctx.Err()).Err())
			}
			if err := checkReply(ended.Load(), size, m.Summary.GetInputBytes()); err != nil {
				return nil, err
			}
			// A summary is a result only with the call's OK: a server
			// whose timeout fired as the summary went out answers with
			// that status after it (docs/protocol.md).
			if err := endOfReply(stream.Recv); err != nil {
				return nil, err
			}
			return m.Summary, nil
		}
	}
}

// endOfReply reads what follows a Run's summary: the call's status, which
// must be OK (io.EOF); a message after the summary breaks the protocol.
func endOfReply(recv func() (*apiv1.RunResponse, error)) error {
	_, err := recv()
	switch {
	case err == io.EOF:
		return nil
	case err == nil:
		return status.Error(codes.Internal, "the server sent a message after the summary")
	default:
		return lostStatus(err)
	}
}

// checkReply checks a reply against what was sent: a reply to a stream
// whose end the server had not been sent, or one that counts other input
// than what was sent (a server or proxy at fault), is no result for the
// whole input.
func checkReply(ended bool, sent, received int64) error {
	if !ended {
		return status.Error(codes.Internal, "the server replied before the input ended")
	}
	if sent != received {
		return status.Errorf(codes.DataLoss, "the server received %d bytes of input, the client sent %d", received, sent)
	}
	return nil
}

// sendInput sends r in a goroutine: its chunks with data, then, at r's
// end, the proof with end (given the byte count). The channel gets the
// outcome: nil, or an error after which the call is cancelled (an error
// from r, a send that failed). A send that fails with io.EOF means the
// server ended the call: the caller learns why from the status.
func sendInput(ctx context.Context, cancel context.CancelFunc, r io.Reader, size int, data func([]byte, *sendBuf) error, end func(int64) error) <-chan error {
	done := make(chan error, 1)
	r = checkUnchanged(r)
	go func() {
		defer func() {
			// A panic in r's Read (the caller's code, on our goroutine,
			// where the caller could not recover it) or in the sending
			// is the input's error: the call is cancelled, never its
			// end proven, and the caller gets the panic with its stack.
			if v := recover(); v != nil {
				select {
				case done <- &readError{panicError(v)}:
				default: // the outcome was sent before
				}
				cancel()
			}
		}()
		// A flush's panic (chunkSender.flush, on a timer's goroutine)
		// fails the call at once: r's Read may be blocked.
		fail := func(err error) {
			select {
			case done <- err:
			default:
			}
			cancel()
		}
		n, err := sendChunks(ctx, r, sendBufsOf(size), data, fail)
		if err == nil {
			// A send that fails with io.EOF: the server ended the call.
			// (Only a send's: an error of r that wraps io.EOF is an
			// input error, no end.)
			if err = end(n); errors.Is(err, io.EOF) {
				err = nil
			}
		}
		select {
		case done <- err: // before the cancel, for inputErr
		default: // a flush's panic failed the call before
		}
		if err != nil {
			cancel()
		}
	}()
	return done
}

// lostStatus gives back a status to an error of grpc-go's retries: when
// the last attempt of a call failed while sending (the server ended the
// call before reading all of it), grpc-go (v1.85) returns "max retries
// exhausted: failed after N attempts: EOF", an error with no status, and
// the server's status is lost. Only UNAVAILABLE is retried
// (DefaultServiceConfig), so that was the code.
func lostStatus(err error) error {
	if err == nil || err == io.EOF || !errors.Is(err, io.EOF) || IsInputError(err) {
		return err
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Errorf(codes.Unavailable, "%v (every attempt was ended by the server while sending; gRPC's retries keep no status)", err)
}

// inputErr is the error of a call that failed with err: the input's own
// error when reading it is what failed the call.
func inputErr(sent <-chan error, err error) error {
	select {
	case serr := <-sent:
		var re *readError
		if errors.As(serr, &re) {
			return serr
		}
	default:
	}
	return err
}

// Capabilities asks the server what it can do: its commands and their
// flags, its digest algorithms and its limits. Errors are gRPC statuses.
func (c *Client) Capabilities(ctx context.Context) (*apiv1.CapabilitiesResponse, error) {
	return c.api.Capabilities(ctx, &apiv1.CapabilitiesRequest{})
}

// sendChunks reads r in chunks of bufs' size and sends each, and returns how
// many bytes it sent. Each chunk is read into a buffer that the message
// sends as it is (sendCodec): send is given the bytes and the message's
// owner of them, to register before sending (nil: the bytes are copied
// as the message is marshalled). Bytes read wait for their chunk to fill
// at most flushDelay: a source slower than that (a pipe fed a line a
// second) has what it gave sent while its next Read waits, so that the
// server, whose --idle-timeout counts from the bytes it received, sees a
// moving client (chunkSender.flush). A send that fails with io.EOF means
// the server ended the call early: the caller learns why from the status,
// so that error is not returned here. An error from r is returned
// wrapped, and the caller's cancel aborts the stream; so does ctx ending
// (a signal, a deadline) just as r ends, so that a proof of the end is
// never sent for an aborted call. Reading stops at r's first io.EOF, even
// one that came with bytes; a reader that gives no bytes and no error
// maxEmptyReads times in a row fails with io.ErrNoProgress, as bufio's
// readers do, instead of being read forever. A panic in a flush's send
// (the caller's stream interceptor, say) is given to fail, and fails the
// reading too.
func sendChunks(ctx context.Context, r io.Reader, bufs *sendBufs, send func([]byte, *sendBuf) error, fail func(error)) (int64, error) {
	s := &chunkSender{send: send, fail: fail, bufs: bufs, bp: bufs.get()}
	s.limit = leadBytes(len(*s.bp))
	defer s.close()
	for {
		n, err := readSome(r, (*s.bp)[s.filled:s.limit])
		if serr := s.add(n); serr != nil {
			return s.result(ctx, serr)
		}
		switch err {
		case nil:
		case io.EOF:
			if serr := s.sendPending(); serr != nil {
				return s.result(ctx, serr)
			}
			return s.result(ctx, ctx.Err())
		default:
			return s.result(ctx, &readError{err})
		}
	}
}

// sendBufsOf returns the free list of read buffers of size bytes.
func sendBufsOf(size int) *sendBufs {
	if size == DefaultChunkSize {
		return defaultSendBufs
	}
	return newSendBufs(size)
}

// flushDelay is the longest that bytes read wait for their chunk to fill
// before they are sent in a smaller one.
const flushDelay = 100 * time.Millisecond

// maxEmptyReads is how many Reads in a row may return no bytes and no
// error (bufio's limit).
const maxEmptyReads = 100

// chunkSender is the state of sendChunks: the chunk being read, and the
// timer that sends what it holds when the source is slow.
type chunkSender struct {
	send func([]byte, *sendBuf) error
	fail func(error) // a flush's panic, as the call's error
	bufs *sendBufs
	bp   *[]byte // the chunk being read into; replaced only by sendChunks' goroutine
	// filled is how much of *bp was read; written by sendChunks'
	// goroutine only, under mu.
	filled int
	// limit is the size of the chunk being read: leadBytes for a call's
	// first, then the buffer's; written by sendChunks' goroutine, under mu.
	limit int

	mu      sync.Mutex  // protects the fields below, and serializes send
	flushed int         // *bp's first flushed bytes were sent by a flush
	sent    int64       // bytes sent
	err     error       // a flush's failed send
	epoch   uint64      // counts the times pending bytes were all sent: a flush timer's epoch is the one it was armed in
	done    bool        // sendChunks returned: no more sends
	timer   *time.Timer // the flush armed last, stopped once its bytes are sent
}

// add counts n more bytes read into the chunk: a full chunk is sent; the
// first bytes pending since the last send arm a flush.
func (s *chunkSender) add(n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if n == 0 {
		return nil
	}
	first := s.filled == s.flushed
	s.filled += n
	if s.filled == s.limit {
		return s.sendPendingLocked()
	}
	if first {
		epoch := s.epoch
		s.timer = time.AfterFunc(flushDelay, func() { s.flush(epoch) })
	}
	return nil
}

// sendPending sends the bytes read and not yet sent.
func (s *chunkSender) sendPending() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	return s.sendPendingLocked()
}

func (s *chunkSender) sendPendingLocked() error {
	if s.filled == s.flushed {
		return nil
	}
	var err error
	n := s.filled - s.flushed
	if s.flushed == 0 && s.limit == len(*s.bp) {
		// The whole chunk: lend the buffer to the message, read into the
		// next one (taken first: s.bp is never a lent buffer, which
		// close gives back). The lead and ramp messages are copied
		// instead (sendCopy): a buffer of a whole chunk taken for each
		// would cost its allocation in every call.
		bp := s.bp
		s.bp = s.bufs.get()
		*bp = (*bp)[:s.filled]
		err = s.send(*bp, &sendBuf{b: bp, pool: s.bufs})
	} else {
		// The rest of a chunk part of which a flush sent, or a lead or
		// ramp message: copied, and the buffer read into again.
		err = s.sendCopy((*s.bp)[s.flushed:s.filled])
	}
	s.filled, s.flushed = 0, 0
	s.epoch++
	s.stopTimer()
	if err != nil {
		return sendErr(err)
	}
	s.sent += int64(n)
	s.limit = len(*s.bp)
	if s.sent < rampBytes {
		s.limit = min(s.limit, rampChunk)
	}
	return nil
}

// A call's first data messages are of rampChunk bytes at most, until
// rampBytes have been sent: what a call sends before its stream is
// accepted (an HTTP/2 peer's first window, 64 KiB, and grpc-go's write
// quota of as much again) then stays within gRPC's retry buffer (256 KiB,
// grpc.MaxRetryRPCBufferSize), and a stream a GOAWAY refuses (a proxy
// reloading, a server stopping, a connection accepted just before) is
// sent again by grpc-go at once, on another connection. A first message
// of a whole chunk (1 MiB) exceeded the buffer: the call could not be
// replayed, and failed with UNAVAILABLE "the connection is draining"
// (docs/deploy.md, "Reloads, stops and crashes, client by client").
// Their gRPC headers are as long as a 1 MiB message's (9 bytes), so the
// frames of the later messages keep their alignment (leadBytes).
const (
	rampChunk = 64 << 10
	rampBytes = 192 << 10
)

// copyBufs are the buffers that messages of at most rampChunk bytes are
// copied into (the ramp's, a slow source's flushes), lent to the message
// as a whole chunk is. Left to grpc-go's codec, each 64 KiB message took
// a buffer from the 1 MiB tier of grpc-go's default pool, which clears
// the whole MiB as it hands it out: the ramp cleared 3 MiB a call (0.26
// to 0.50 CPU-ms per Digest of 200 KiB, the client's own, warm).
var copyBufs = newSendBufs(rampChunk)

// sendCopy sends a copy of b: the caller reads into b again. Called with
// mu held.
func (s *chunkSender) sendCopy(b []byte) error {
	if len(b) > rampChunk || mem.IsBelowBufferPoolingThreshold(len(b)) {
		// A few bytes (the lead): protobuf's own small copy; or more
		// than a copy buffer holds: grpc-go's codec copies it.
		return s.send(b, nil)
	}
	bp := copyBufs.get()
	*bp = (*bp)[:copy(*bp, b)]
	return s.send(*bp, &sendBuf{b: bp, pool: copyBufs})
}

// flush sends what the chunk holds, when it held it since epoch: the
// source was slow to fill it. The bytes are copied as they are sent;
// sendChunks' goroutine may be reading into the chunk after them.
func (s *chunkSender) flush(epoch uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done || s.err != nil || s.epoch != epoch || s.filled == s.flushed {
		return
	}
	defer func() {
		// On this timer's goroutine a panic would end the caller's
		// process: it is the input's error, as on sendInput's.
		if v := recover(); v != nil {
			s.err = &readError{panicError(v)}
			s.fail(s.err)
		}
	}()
	if err := s.sendCopy((*s.bp)[s.flushed:s.filled]); err != nil {
		s.err = sendErr(err)
		return
	}
	s.sent += int64(s.filled - s.flushed)
	s.flushed = s.filled
	s.epoch++
}

// stopTimer stops the flush armed last, whose bytes were sent: it would
// do nothing. Called with mu held.
func (s *chunkSender) stopTimer() {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
}

// close stops the flushes, and gives back the buffer being read into
// (no flush sends from it any more): else each call would take a buffer
// from the free list for good, and allocate DefaultChunkSize.
func (s *chunkSender) close() {
	s.mu.Lock()
	s.done = true
	s.stopTimer()
	s.bufs.Put(s.bp)
	s.bp = nil
	s.mu.Unlock()
}

// errCallEnded is a send that failed with io.EOF: the server ended the
// call, and its status says why.
var errCallEnded = errors.New("the server ended the call")

func sendErr(err error) error {
	if errors.Is(err, io.EOF) {
		return errCallEnded
	}
	return err
}

// result is sendChunks' return: the bytes sent and err, where a send
// that the server's end of the call failed is no error (the call's
// status says why), unless ctx has ended: grpc-go fails a send with
// io.EOF too once it has seen the call's context end, and a call
// cancelled as its input ended is an abort, never handed an End.
func (s *chunkSender) result(ctx context.Context, err error) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == errCallEnded {
		err = ctx.Err()
	}
	return s.sent, err
}

// sendOwned sends m, whose data is sb's buffer, lending the buffer to
// grpc-go (sendCodec). If the send failed before the codec took it, the
// buffer is not lent: nothing else refers to it then, and it is dropped.
func sendOwned[M any](send func(M) error, m M, sb *sendBuf) error {
	if sb == nil {
		return send(m)
	}
	ownedData.Store(m, sb)
	err := send(m)
	ownedData.Delete(m)
	return err
}

// readError is a failure to read the caller's input.
type readError struct{ err error }

// panicError is the error of a panic recovered on a goroutine of the
// client's: the value and the goroutine's stack.
func panicError(v any) error {
	return fmt.Errorf("panic: %v\n%s", v, debug.Stack())
}

func (e *readError) Error() string { return "reading input: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

type tokenCreds struct {
	token  string
	secure bool
}

func (t tokenCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + t.token}, nil
}

func (t tokenCreds) RequireTransportSecurity() bool { return t.secure }
