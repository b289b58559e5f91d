package main

import (
	"io"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
)

// TestNoInterceptorsRefusesChainLimits: the hidden --no-interceptors
// drops the rate limiter and the bearer-token check of gRPC calls with
// the rest of the chain, so a configuration that asks for either is
// refused, naming both flags, from the command line or the environment.
// It started, and Capabilities reported --rate-limit's rate for calls
// nothing limited (and gRPC took calls without a token).
func TestNoInterceptorsRefusesChainLimits(t *testing.T) {
	tokens := t.TempDir() + "/tokens"
	if err := writeFileB(tokens, "a-token\n"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--no-interceptors", "--rate-limit=5"}, nil, "--no-interceptors cannot be used with --rate-limit"},
		{[]string{"--no-interceptors"}, map[string]string{"HALFCLOSE_RATE_LIMIT": "5"}, "--no-interceptors cannot be used with HALFCLOSE_RATE_LIMIT (--rate-limit)"},
		{[]string{"--no-interceptors", "--auth-token-file=" + tokens}, nil, "--no-interceptors cannot be used with --auth-token-file"},
		{[]string{"--rate-limit=5"}, map[string]string{"HALFCLOSE_NO_INTERCEPTORS": "true"}, "HALFCLOSE_NO_INTERCEPTORS (--no-interceptors) cannot be used with --rate-limit"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			_, err := parseConfig(append([]string{"--grpc-addr=127.0.0.1:0"}, c.args...), io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%v (env %v): error %v; want %q", c.args, c.env, err, c.want)
			}
		})
	}
}

// TestNoInterceptorsCapabilitiesEnforced: under --no-interceptors,
// Capabilities reports every limit as the daemon was started, with no
// rate limit (none can be set), and the limits the service enforces
// without the chain hold: metadata over --max-metadata-bytes is refused
// with the status Capabilities' max_metadata_bytes promises.
func TestNoInterceptorsCapabilitiesEnforced(t *testing.T) {
	var args []string
	for _, a := range capsLimitArgs {
		if !strings.HasPrefix(a, "--rate-") {
			args = append(args, a)
		}
	}
	d := startDaemon(t, append(args, "--no-interceptors")...)
	cc := apiv1.NewComputeServiceClient(rawGRPC(t, d.grpcAddr(), nil))
	caps, err := cc.Capabilities(testCtx(t), &apiv1.CapabilitiesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	l := caps.GetLimits().ProtoReflect()
	for name, r := range reportedLimits {
		want := r.want
		if strings.HasPrefix(name, "rate-") {
			want = map[string]any{"rate-limit": 0.0, "rate-burst": int64(0)}[name]
		}
		if got := l.Get(l.Descriptor().Fields().ByName(r.field)).Interface(); got != want {
			t.Errorf("--%s: Limits.%s = %v, want %v", name, r.field, got, want)
		}
	}
	limit := caps.GetLimits().GetMaxMetadataBytes()
	ctx := metadata.AppendToOutgoingContext(testCtx(t), "x-pad", strings.Repeat("p", int(limit)))
	_, err = cc.Capabilities(ctx, &apiv1.CapabilitiesRequest{})
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "exceeds the limit of 3072 bytes") {
		t.Errorf("metadata of %d bytes: %v; want RESOURCE_EXHAUSTED naming the limit", limit, err)
	}
}
