//go:build linux

// A bare grpc-go Digest server: the baseline of the chain rows that a
// checker holding issue 14 to "a bare grpc-go handler" would write.

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
)

// bareEnv, set in the environment of this program's own child to an
// address, makes it a bare Digest server on that address (serveBare)
// instead of the table: the chain rows' baseline runs as a process of its
// own, for its CPU time, without a binary of its own to build or ship.
const bareEnv = "BENCHTABLE_BARE_GRPC"

// bareDigest is ComputeService with nothing but Digest, and Digest with
// nothing but SHA-256: what a minimal grpc-go handler of the API does
// for a call, with no interceptor, no limit, no job accounting and no log.
type bareDigest struct {
	apiv1.UnimplementedComputeServiceServer
}

// Digest hashes the data of every message after the header, as the
// route_guide's RecordRoute does its points: Recv until io.EOF, then
// SendAndClose.
func (bareDigest) Digest(stream grpc.ClientStreamingServer[apiv1.DigestRequest, apiv1.DigestResponse]) error {
	first, err := stream.Recv()
	if err == io.EOF {
		return status.Error(codes.InvalidArgument, "missing header")
	}
	if err != nil {
		return err
	}
	h := first.GetHeader()
	if h == nil || len(h.GetAlgorithms()) != 1 || h.GetAlgorithms()[0] != apiv1.Algorithm_ALGORITHM_SHA256 {
		return status.Error(codes.InvalidArgument, "the bare server computes ALGORITHM_SHA256 alone")
	}
	d := sha256.New()
	var n int64
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		b := m.GetData()
		if b == nil {
			b = []byte(m.GetText())
		}
		d.Write(b)
		n += int64(len(b))
	}
	sum := d.Sum(nil)
	return stream.SendAndClose(&apiv1.DigestResponse{Size: n, Digests: []*apiv1.DigestValue{{
		Algorithm: apiv1.Algorithm_ALGORITHM_SHA256, Raw: sum, Hex: hex.EncodeToString(sum),
	}}})
}

// serveBare serves bareDigest (and server reflection, which ghz asks for
// the method's types) with grpc-go's defaults on addr until
// SIGINT or SIGTERM. It says where as halfclosed does, a JSON line
// {"msg":"grpc listening","addr":...} on stderr (chainAddr reads it).
func serveBare(addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s := grpc.NewServer()
	apiv1.RegisterComputeServiceServer(s, bareDigest{})
	reflection.Register(s)
	line, _ := json.Marshal(map[string]string{"msg": "grpc listening", "addr": l.Addr().String()})
	fmt.Fprintf(os.Stderr, "%s\n", line)
	go func() {
		<-ctx.Done()
		s.Stop()
	}()
	return s.Serve(l)
}
