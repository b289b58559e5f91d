package server

import "google.golang.org/grpc/codes"

// codeName returns the canonical name of a gRPC code ("INVALID_ARGUMENT"),
// as used in the TCP error line, from grpc's camel-case String.
func codeName(c codes.Code) string {
	s := c.String()
	b := make([]byte, 0, len(s)+4)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= 'A' && ch <= 'Z':
			if i > 0 {
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
