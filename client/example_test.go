package client_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"os"
	"strings"
	"testing/iotest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/client"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/server"
)

// The examples run against a real server on loopback ports (127.0.0.1:0),
// started by the helpers at the end of this file; against halfclosed,
// use its addresses (127.0.0.1:50051 for gRPC, 127.0.0.1:50052 for the
// raw-TCP command port, by default).

// Digest of a reader: any io.Reader, here a string. The digests are
// computed in one pass; the size is what the server received.
func ExampleClient_Digest() {
	srv := startServer()
	defer srv.stop()

	c, err := client.Dial(srv.grpcAddr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Digest(context.Background(), strings.NewReader("hello\n"),
		[]apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256, apiv1.Algorithm_ALGORITHM_MD5}, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range resp.GetDigests() {
		fmt.Println(d.GetAlgorithm(), d.GetHex())
	}
	fmt.Println("bytes:", resp.GetSize())
	// Output:
	// ALGORITHM_SHA256 5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03
	// ALGORITHM_MD5 b1946ac92492d2347c6235b4d2611184
	// bytes: 6
}

// A declared size (or digest) the input does not match is DATA_LOSS:
// no result.
func ExampleClient_Digest_expectedSize() {
	srv := startServer()
	defer srv.stop()

	c, err := client.Dial(srv.grpcAddr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	size := int64(7) // "hello\n" has 6
	_, err = c.Digest(context.Background(), strings.NewReader("hello\n"),
		[]apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}, &client.DigestOptions{ExpectedSize: &size})
	fmt.Println(status.Code(err))
	// Output:
	// DataLoss
}

// Run a pipeline, streaming its output to a writer (here os.Stdout) as
// it arrives. The summary comes last, and only with a whole reply.
func ExampleClient_Run() {
	srv := startServer()
	defer srv.stop()

	c, err := client.Dial(srv.grpcAddr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	input := strings.NewReader("pear\napple\npear\nfig\npear\n")
	sum, err := c.Run(context.Background(), "sort | uniq -c", input, os.Stdout)
	if err != nil {
		// Output already written is incomplete.
		log.Fatal(err)
	}
	fmt.Println("exit status:", sum.GetExitStatus(), "input bytes:", sum.GetInputBytes())
	// Output:
	//       1 apple
	//       1 fig
	//       3 pear
	// exit status: 0 input bytes: 25
}

// The summary's exit status and diagnostics are the pipeline's, as a
// shell would report them: grep that selected no line exits 1, and sort -c
// says where the order broke.
func ExampleClient_Run_exitStatus() {
	srv := startServer()
	defer srv.stop()

	c, err := client.Dial(srv.grpcAddr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	sum, err := c.Run(context.Background(), "grep -c kiwi", strings.NewReader("pear\napple\n"), os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("exit status:", sum.GetExitStatus())
	sum, err = c.Run(context.Background(), "sort -c", strings.NewReader("b\na\n"), io.Discard)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("exit status:", sum.GetExitStatus(), "diagnostics:", sum.GetDiagnostics())
	// Output:
	// 0
	// exit status: 1
	// exit status: 1 diagnostics: [sort: -:2: disorder: a]
}

// Errors from the server are gRPC statuses: status.Code gives the code,
// status.Convert the message. An input that fails to read aborts the call
// (the server never answers it with a result): IsInputError tells it
// from a failure of the server or the connection, and errors.Is finds
// the reader's own error.
func ExampleClient_Run_errors() {
	srv := startServer()
	defer srv.stop()

	c, err := client.Dial(srv.grpcAddr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	_, err = c.Run(context.Background(), "sort -Q", strings.NewReader("x\n"), os.Stdout)
	st := status.Convert(err)
	fmt.Println(st.Code(), st.Code() == codes.InvalidArgument)

	broken := errors.New("disk on fire")
	input := io.MultiReader(strings.NewReader("some input\n"), iotest.ErrReader(broken))
	_, err = c.Run(context.Background(), "wc -l", input, os.Stdout)
	fmt.Println(client.IsInputError(err), errors.Is(err, broken))
	// Output:
	// InvalidArgument true
	// true true
}

// A deadline covers the whole call: the upload, the computation and the
// reply. When it passes, the call fails with DEADLINE_EXCEEDED (or
// CANCELED, when the server's copy of the deadline fired first), and the
// server's job is aborted.
func ExampleClient_Run_deadline() {
	srv := startServer()
	defer srv.stop()

	c, err := client.Dial(srv.grpcAddr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	stalled, w := io.Pipe() // an input that never ends
	defer w.Close()
	_, err = c.Run(ctx, "wc -l", stalled, os.Stdout)
	code := status.Code(err)
	fmt.Println(code == codes.DeadlineExceeded || code == codes.Canceled)
	// Output:
	// true
}

// RunTCP speaks the raw-TCP command port. WithTCPStatus asks for the
// pipeline's exit status; an error line from the server is a *TCPError
// with the gRPC code's name.
func ExampleRunTCP() {
	srv := startServer()
	defer srv.stop()

	var exit int
	err := client.RunTCP(context.Background(), srv.tcpAddr, nil, "wc -l",
		strings.NewReader("one\ntwo\nthree\n"), os.Stdout, client.WithTCPStatus(&exit))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("exit status:", exit)

	err = client.RunTCP(context.Background(), srv.tcpAddr, nil, "sort -Q", strings.NewReader("x\n"), os.Stdout)
	var te *client.TCPError
	if errors.As(err, &te) {
		fmt.Println(te.Code)
	}
	// Output:
	// 3
	// exit status: 0
	// INVALID_ARGUMENT
}

// TLS and a bearer token (a server with --tls-cert, --tls-key and
// --auth-token-file). With a CA of your own, put it in RootCAs; a call
// without the token is UNAUTHENTICATED, one with a wrong token
// PERMISSION_DENIED.
func ExampleWithTLS() {
	srv := startTLSServer("s3cret")
	defer srv.stop()

	tlsConfig := &tls.Config{RootCAs: srv.roots} // nil RootCAs: the system's
	for _, token := range []string{"s3cret", "guess", ""} {
		c, err := client.Dial(srv.grpcAddr, client.WithTLS(tlsConfig), client.WithToken(token))
		if err != nil {
			log.Fatal(err)
		}
		resp, err := c.Digest(context.Background(), strings.NewReader("hello\n"),
			[]apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}, nil)
		if err != nil {
			fmt.Printf("token %q: %v\n", token, status.Code(err))
		} else {
			fmt.Printf("token %q: %s\n", token, resp.GetDigests()[0].GetHex())
		}
		c.Close()
	}
	// Output:
	// token "s3cret": 5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03
	// token "guess": PermissionDenied
	// token "": Unauthenticated
}

// exampleServer is a halfclose server on loopback ports.
type exampleServer struct {
	grpcAddr, tcpAddr string
	roots             *x509.CertPool // the CA of a TLS server
	stop              func()
}

// startServer starts a gRPC and a raw-TCP server with the builtin
// commands, as halfclosed serves them.
func startServer() *exampleServer {
	eng := engine.New(engine.Config{Registry: builtin.Registry()})
	svc := server.NewComputeService(eng, server.Options{})
	gs := grpc.NewServer(grpc.InTapHandle(svc.TapHandle), server.CodecOption())
	apiv1.RegisterComputeServiceServer(gs, svc)
	gl := listen()
	go gs.Serve(gl)
	tcp := &server.TCPServer{Engine: eng}
	tl := listen()
	done := make(chan struct{})
	go func() { tcp.Serve(tl); close(done) }()
	return &exampleServer{grpcAddr: gl.Addr().String(), tcpAddr: tl.Addr().String(), stop: func() {
		gs.Stop()
		tcp.Close()
		<-done
	}}
}

// startTLSServer starts a gRPC server over TLS, with a throw-away CA,
// accepting token.
func startTLSServer(token string) *exampleServer {
	cert, roots := selfSigned()
	dir, err := os.MkdirTemp("", "halfclose-example")
	if err != nil {
		log.Fatal(err)
	}
	tokens := dir + "/tokens"
	if err := os.WriteFile(tokens, []byte(token+"\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	auth, err := server.LoadTokenFile(tokens)
	if err != nil {
		log.Fatal(err)
	}
	eng := engine.New(engine.Config{Registry: builtin.Registry()})
	svc := server.NewComputeService(eng, server.Options{})
	opts := append(server.ChainOptions(server.ChainConfig{Auth: auth, Logger: slog.New(slog.DiscardHandler)}),
		grpc.InTapHandle(svc.TapHandle), server.CodecOption(),
		grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})))
	gs := grpc.NewServer(opts...)
	apiv1.RegisterComputeServiceServer(gs, svc)
	gl := listen()
	go gs.Serve(gl)
	return &exampleServer{grpcAddr: gl.Addr().String(), roots: roots, stop: func() {
		gs.Stop()
		os.RemoveAll(dir)
	}}
}

func listen() net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	return l
}

// selfSigned makes a certificate for 127.0.0.1 that is its own CA.
func selfSigned() (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "halfclose example"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		log.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}
