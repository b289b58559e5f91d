package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
)

// errorLinePrefix starts the one line a TCP adapter sends instead of output
// when a job fails before its output starts.
const errorLinePrefix = "halfclose: error: "

// TCPError is an error line from the raw-TCP adapter.
type TCPError struct {
	Code    string // gRPC code name, e.g. "INVALID_ARGUMENT"
	Message string
}

func (e *TCPError) Error() string { return e.Code + ": " + e.Message }

// RunTCP runs pipeline over r through the raw-TCP adapter's command port at
// addr (TLS when tlsConfig is set): it sends the header line and the input,
// half-closes (FIN, or close_notify over TLS), and copies the reply to w.
// A reply that is exactly one error line becomes a *TCPError; a reset after
// output started is an error, as the reply is then incomplete.
func RunTCP(ctx context.Context, addr string, tlsConfig *tls.Config, pipeline string, r io.Reader, w io.Writer) error {
	if strings.ContainsAny(pipeline, "\n") {
		return errors.New("halfclose: pipeline must be one line for the TCP adapter")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	if tlsConfig != nil {
		if tlsConfig.ServerName == "" {
			// As crypto/tls.Dial does: verify the host the caller dialed.
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				conn.Close()
				return err
			}
			tlsConfig = tlsConfig.Clone()
			tlsConfig.ServerName = host
		}
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return err
		}
		conn = tc
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	sendErr := make(chan error, 1)
	go func() {
		bw := bufio.NewWriterSize(conn, DefaultChunkSize)
		_, err := io.WriteString(bw, pipeline+"\n")
		if err == nil {
			_, err = io.Copy(bw, r)
		}
		if err == nil {
			err = bw.Flush()
		}
		if err == nil {
			err = conn.(interface{ CloseWrite() error }).CloseWrite()
		}
		sendErr <- err
	}()

	// Hold back the start of the reply until it is known not to be an
	// error line.
	br := bufio.NewReaderSize(conn, 64<<10)
	head, rerr := br.Peek(len(errorLinePrefix))
	if bytes.Equal(head, []byte(errorLinePrefix)) {
		line, err := br.ReadString('\n')
		if err == nil {
			if _, err := br.Peek(1); err != nil {
				// The server closed after its error line; the input sender
				// fails on the closed connection (or stays blocked reading
				// r, which the caller owns).
				code, msg, _ := strings.Cut(strings.TrimSuffix(line[len(errorLinePrefix):], "\n"), ": ")
				return &TCPError{Code: code, Message: msg}
			}
		}
		rerr = nil
	}
	if rerr != nil && rerr != io.EOF {
		<-sendErr
		return fmt.Errorf("halfclose: reading reply: %w", rerr)
	}
	if _, err := br.WriteTo(w); err != nil {
		return fmt.Errorf("halfclose: reading reply: %w", err)
	}
	if err := <-sendErr; err != nil {
		return fmt.Errorf("halfclose: sending input: %w", err)
	}
	return ctx.Err()
}
