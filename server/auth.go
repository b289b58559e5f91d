package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// maxTokenLine bounds one line of a token file so a wrong path (a binary,
// a log) fails fast instead of being read whole into memory.
const maxTokenLine = 64 << 10

// TokenAuth checks gRPC bearer tokens against the set loaded from a
// file, swapped whole when Reload reads a good new one. Only SHA-256
// digests of the tokens are kept, so every comparison is over
// equal-length values and runs in constant time.
type TokenAuth struct {
	path string
	set  atomic.Pointer[tokenSet]
}

type tokenSet struct {
	digests [][sha256.Size]byte
}

// LoadTokenFile reads bearer tokens, one a line. Surrounding white space
// (CR included) and a leading byte order mark are trimmed; blank lines
// and lines starting with '#' are ignored. A file with no token is an
// error, so a misconfigured server never runs open. Errors name the file
// and line but never the token.
func LoadTokenFile(path string) (*TokenAuth, error) {
	a := &TokenAuth{path: path}
	if err := a.Reload(); err != nil {
		return nil, err
	}
	return a, nil
}

// Path returns the token file.
func (a *TokenAuth) Path() string { return a.path }

// Reload reads the token file again with LoadTokenFile's rules; if it is
// good, calls checked from now on use its tokens, otherwise the old ones
// stay.
func (a *TokenAuth) Reload() error {
	set, err := readTokenFile(a.path)
	if err != nil {
		return err
	}
	a.set.Store(set)
	return nil
}

func readTokenFile(path string) (*tokenSet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth token file: %w", err)
	}
	defer f.Close()

	a := &tokenSet{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), maxTokenLine)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if line == 1 {
			// A byte order mark, as Windows editors write: not part of
			// the token.
			text = strings.TrimPrefix(text, "\ufeff")
		}
		tok := strings.TrimSpace(text)
		if tok == "" || strings.HasPrefix(tok, "#") {
			continue
		}
		if strings.ContainsAny(tok, " \t\v\f\r") {
			return nil, fmt.Errorf("auth token file %s:%d: token contains white space", path, line)
		}
		if strings.IndexFunc(tok, notTokenByte) >= 0 {
			// gRPC metadata carries printable ASCII only: a client could
			// never send this token, and every call would be denied.
			return nil, fmt.Errorf("auth token file %s:%d: token contains a byte that is not printable ASCII (gRPC metadata cannot carry it)", path, line)
		}
		a.digests = append(a.digests, sha256.Sum256([]byte(tok)))
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("auth token file %s: line longer than %d bytes", path, maxTokenLine)
		}
		return nil, fmt.Errorf("auth token file %s: %w", path, err)
	}
	if len(a.digests) == 0 {
		return nil, fmt.Errorf("auth token file %s: no tokens", path)
	}
	return a, nil
}

// notTokenByte reports whether r cannot be in a token: anything but
// printable ASCII other than the space (a byte of invalid UTF-8 is
// utf8.RuneError, so refused too).
func notTokenByte(r rune) bool { return r <= ' ' || r > '~' }

// Len returns how many tokens are accepted.
func (a *TokenAuth) Len() int { return len(a.set.Load().digests) }

// AuthFunc is an auth.AuthFunc (go-grpc-middleware interceptors/auth): it
// wants metadata "authorization: Bearer TOKEN". Missing or malformed →
// UNAUTHENTICATED; a token not in the file → PERMISSION_DENIED. The context
// is returned unchanged.
func (a *TokenAuth) AuthFunc(ctx context.Context) (context.Context, error) {
	tok, ok := bearerToken(ctx)
	if !ok {
		if len(metadata.ValueFromIncomingContext(ctx, "authorization")) > 0 {
			return nil, errMalformedAuth
		}
		return nil, errMissingAuth
	}
	if !a.valid(tok) {
		return nil, status.Error(codes.PermissionDenied, "invalid token")
	}
	return ctx, nil
}

var (
	errMissingAuth = status.Error(codes.Unauthenticated, "missing bearer token")
	// errMalformedAuth: a client that sent the token alone (grpcurl -H
	// "authorization: $TOKEN"), or under another scheme, is told so, not
	// that its token is missing. The value is never repeated.
	errMalformedAuth = status.Error(codes.Unauthenticated, `malformed authorization metadata: want "Bearer TOKEN"`)
)

// valid reports whether tok is one of the tokens. It compares against every
// digest without stopping early, so timing tells nothing about which token
// or how much of one matched.
func (a *TokenAuth) valid(tok string) bool {
	d := sha256.Sum256([]byte(tok))
	set := a.set.Load()
	match := 0
	for i := range set.digests {
		match |= subtle.ConstantTimeCompare(d[:], set.digests[i][:])
	}
	return match == 1
}

// bearerToken extracts TOKEN from the first "authorization" metadata value
// of the form "Bearer TOKEN" (scheme case-insensitive, as in RFC 6750).
func bearerToken(ctx context.Context) (string, bool) {
	vals := metadata.ValueFromIncomingContext(ctx, "authorization")
	if len(vals) == 0 {
		return "", false
	}
	scheme, tok, found := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !found || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", false
	}
	return tok, true
}

// streamInterceptor is the chain's auth layer for streams:
// selector.StreamServerInterceptor(auth.StreamServerInterceptor(a.AuthFunc),
// selector.MatchFunc(needsAuth)) without the wrapped stream the middleware
// makes for every call to hand on AuthFunc's context, which is the one it
// was given: an allocation a call, and a layer each message and
// Context() went through. A service with its own AuthFuncOverride gets it
// as from the middleware, its context in a wrapped stream.
func (a *TokenAuth) streamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		if !needsAuth(ctx, interceptors.NewServerCallMeta(info.FullMethod, info, nil)) {
			return handler(srv, ss)
		}
		if o, ok := srv.(auth.ServiceAuthFuncOverride); ok {
			newCtx, err := o.AuthFuncOverride(ctx, info.FullMethod)
			if err != nil {
				return err
			}
			w := middleware.WrapServerStream(ss)
			w.WrappedContext = newCtx
			return handler(srv, w)
		}
		if _, err := a.AuthFunc(ctx); err != nil { // on success, ctx itself
			return err
		}
		return handler(srv, ss)
	}
}
