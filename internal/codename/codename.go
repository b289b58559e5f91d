// Package codename spells gRPC status codes as the protocol does: the
// canonical upper-case names ("INVALID_ARGUMENT") of the TCP error line
// and of the CLI's messages. It is the one place that spelling is made.
package codename

import "google.golang.org/grpc/codes"

// Of returns the canonical name of c ("RESOURCE_EXHAUSTED"), from grpc's
// camel-case String ("ResourceExhausted").
func Of(c codes.Code) string {
	s := c.String()
	b := make([]byte, 0, len(s)+4)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= 'A' && ch <= 'Z':
			if i > 0 && s[i-1] >= 'a' && s[i-1] <= 'z' {
				b = append(b, '_')
			}
			b = append(b, ch)
		case ch >= 'a' && ch <= 'z':
			b = append(b, ch-('a'-'A'))
		default:
			b = append(b, ch)
		}
	}
	return string(b)
}
