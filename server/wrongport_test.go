package server

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
)

// A gRPC client pointed at the raw-TCP command port gets a status that
// says so, not a failure to parse an error line as HTTP/2; a half-written
// preface is still an error line.
func TestGRPCClientOnTCPPort(t *testing.T) {
	env := startEnv(t, envConfig{})
	conn, err := grpc.NewClient(env.tcpAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	var trailer metadata.MD
	_, err = apiv1.NewComputeServiceClient(conn).Capabilities(ctx, &apiv1.CapabilitiesRequest{}, grpc.Trailer(&trailer))
	if s := status.Convert(err); s.Code() != codes.Unavailable || s.Message() != wrongPortMessage {
		t.Fatalf("Capabilities on the TCP port: %v; want UNAVAILABLE %q", err, wrongPortMessage)
	}
	// gRPC's "do not retry" (gRFC A6): asking the port again cannot help.
	if got := trailer.Get("grpc-retry-pushback-ms"); len(got) != 1 || got[0] != "-1" {
		t.Errorf("grpc-retry-pushback-ms %q, want [-1]", got)
	}

	if got, want := tcpCall(t, env.tcpAddr, "PRI * HTTP/2.0\r\n", []byte("not a preface")), ""; got != want {
		t.Errorf("a broken preface: reply %q, want %q", got, want)
	}
	if got := tcpCall(t, env.tcpAddr, "PRI * HTTP/2.1\n", nil); !strings.Contains(got, `unknown command "PRI"`) {
		t.Errorf("a PRI command: reply %q, want an unknown command error", got)
	}
}
