package server

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestLoadTokenFile(t *testing.T) {
	tests := []struct {
		name, content string
		n             int    // tokens loaded
		err           string // error substring; "" = success
	}{
		{"one", "abc\n", 1, ""},
		{"no final newline", "abc", 1, ""},
		{"comments and blanks", "# comment\n\n  \nabc\n  # indented comment\ndef\n", 2, ""},
		{"surrounding space and CRLF", "  abc  \r\n\tdef\r\n", 2, ""},
		{"empty file", "", 0, "no tokens"},
		{"only comments", "# a\n#b\n\n", 0, "no tokens"},
		{"inner space", "ok\nsecret value\n", 0, ":2: token contains white space"},
		{"byte order mark", "\ufeffabc\r\n", 1, ""},
		// gRPC metadata carries printable ASCII only: no client could
		// send these, and the server ran denying every call.
		{"no-break space", "ok\nsecret\u00a0value\n", 0, ":2: token contains a byte that is not printable ASCII"},
		{"NUL", "secret\x00value\n", 0, ":1: token contains a byte that is not printable ASCII"},
		{"DEL", "secret\x7fvalue\n", 0, ":1: token contains a byte that is not printable ASCII"},
		{"invalid UTF-8", "secret\xffvalue\n", 0, ":1: token contains a byte that is not printable ASCII"},
		{"too long line", strings.Repeat("x", maxTokenLine+1), 0, "line longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "tokens", tc.content)
			a, err := LoadTokenFile(path)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), path) {
					t.Fatalf("err = %v, want one naming %s and containing %q", err, path, tc.err)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("error echoes a token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Len() != tc.n {
				t.Fatalf("Len = %d, want %d", a.Len(), tc.n)
			}
		})
	}
}

func TestLoadTokenFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope")
	_, err := LoadTokenFile(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want one naming %s", err, path)
	}
}

func TestAuthFunc(t *testing.T) {
	a := loadTokens(t, "alpha\n  beta\n# gamma\n")
	tests := []struct {
		name string
		md   []string // authorization values
		code codes.Code
	}{
		{"none", nil, codes.Unauthenticated},
		{"empty", []string{""}, codes.Unauthenticated},
		{"scheme only", []string{"Bearer"}, codes.Unauthenticated},
		{"scheme and space", []string{"Bearer   "}, codes.Unauthenticated},
		{"other scheme", []string{"Basic alpha"}, codes.Unauthenticated},
		{"token alone", []string{"alpha"}, codes.Unauthenticated},
		{"tab after scheme", []string{"Bearer\talpha"}, codes.Unauthenticated},
		{"ok", []string{"Bearer alpha"}, codes.OK},
		{"ok upper scheme", []string{"BEARER beta"}, codes.OK},
		{"ok extra spaces", []string{"  Bearer   beta "}, codes.OK},
		{"first value counts", []string{"Bearer alpha", "Bearer nope"}, codes.OK},
		{"first value wrong", []string{"Bearer nope", "Bearer alpha"}, codes.PermissionDenied},
		{"wrong", []string{"Bearer alph"}, codes.PermissionDenied},
		{"longer", []string{"Bearer alphaa"}, codes.PermissionDenied},
		{"comment line", []string{"Bearer gamma"}, codes.PermissionDenied},
		{"case matters", []string{"Bearer ALPHA"}, codes.PermissionDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.md != nil {
				md := metadata.MD{}
				md["authorization"] = tc.md
				ctx = metadata.NewIncomingContext(ctx, md)
			}
			got, err := a.AuthFunc(ctx)
			msg := map[codes.Code]string{
				codes.Unauthenticated: `malformed authorization metadata: want "Bearer TOKEN"`, codes.PermissionDenied: "invalid token",
			}[tc.code]
			if tc.md == nil {
				msg = "missing bearer token" // only when no value was sent
			}
			wantStatus(t, err, tc.code, msg)
			if err == nil && got != ctx {
				t.Fatal("AuthFunc changed the context")
			}
		})
	}
}

func BenchmarkAuthFunc(b *testing.B) {
	var sb strings.Builder
	for i := range 100 {
		sb.WriteString(strings.Repeat("t", 32) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "\n")
	}
	path := filepath.Join(b.TempDir(), "tokens")
	if err := writeFileB(path, sb.String()); err != nil {
		b.Fatal(err)
	}
	a, err := LoadTokenFile(path)
	if err != nil {
		b.Fatal(err)
	}
	ctx := metadata.NewIncomingContext(context.Background(),
		metadata.Pairs("authorization", "Bearer "+strings.Repeat("t", 32)+"zz"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.AuthFunc(ctx); err == nil {
			b.Fatal("accepted")
		}
	}
}

// TestAuthStreamInterceptor holds the chain's stream auth layer to the
// middleware's (selector and auth.StreamServerInterceptor): the same
// codes, health and reflection skipped, a service's AuthFuncOverride
// used with its context; and a call it lets through gets its own stream,
// not a wrapper around it (the middleware wrapped every one).
func TestAuthStreamInterceptor(t *testing.T) {
	a := loadTokens(t, "alpha\n")
	ic := a.streamInterceptor()
	digest := &grpc.StreamServerInfo{FullMethod: "/halfclose.v1.ComputeService/Digest", IsClientStream: true}
	health := &grpc.StreamServerInfo{FullMethod: "/grpc.health.v1.Health/Watch", IsServerStream: true}
	stream := func(tok string) *benchStream {
		ctx := context.Background()
		if tok != "" {
			ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", tok))
		}
		return &benchStream{ctx: ctx}
	}
	for _, tc := range []struct {
		name string
		srv  any
		info *grpc.StreamServerInfo
		tok  string
		code codes.Code
		same bool // the handler gets the stream as given
	}{
		{"ok", nil, digest, "Bearer alpha", codes.OK, true},
		{"missing", nil, digest, "", codes.Unauthenticated, false},
		{"malformed", nil, digest, "alpha", codes.Unauthenticated, false},
		{"wrong", nil, digest, "Bearer beta", codes.PermissionDenied, false},
		{"health without token", nil, health, "", codes.OK, true},
		{"override ok", overrideAuth{}, digest, "", codes.OK, false},
		{"override refuses", overrideAuth{}, digest, "Bearer alpha", codes.PermissionDenied, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss := stream(tc.tok)
			called := false
			err := ic(tc.srv, ss, tc.info, func(_ any, got grpc.ServerStream) error {
				called = true
				if tc.same && got != grpc.ServerStream(ss) {
					t.Errorf("handler got %T, want the stream given", got)
				}
				if _, ok := tc.srv.(overrideAuth); ok && got.Context().Value(overrideKey{}) != "set" {
					t.Error("handler's context is not the override's")
				}
				return nil
			})
			if got := status.Code(err); got != tc.code {
				t.Fatalf("code %v, want %v (%v)", got, tc.code, err)
			}
			if called != (tc.code == codes.OK) {
				t.Errorf("handler called: %v", called)
			}
		})
	}
}

type overrideKey struct{}

// overrideAuth is a service with its own auth: it refuses any token.
type overrideAuth struct{}

func (overrideAuth) AuthFuncOverride(ctx context.Context, _ string) (context.Context, error) {
	if len(metadata.ValueFromIncomingContext(ctx, "authorization")) > 0 {
		return nil, status.Error(codes.PermissionDenied, "no tokens here")
	}
	return context.WithValue(ctx, overrideKey{}, "set"), nil
}
