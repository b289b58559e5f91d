package main

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/halfclose/halfclose/client"
)

// BenchmarkDigestChain measures small (1 KiB) Digest calls through the
// production interceptor chain (metrics, logging at info to a discarded
// writer, bearer auth; rate limit off) and with --no-interceptors, in one
// run, so the two can be compared (make bench reports the ratio with ghz):
//
//	go test -run=NONE -bench=DigestChain -benchtime=3s ./cmd/halfclosed
func BenchmarkDigestChain(b *testing.B) {
	tokens := b.TempDir() + "/tokens"
	if err := writeFileB(tokens, "bench-token\n"); err != nil {
		b.Fatal(err)
	}
	input := bytes.Repeat([]byte("x"), 1024)
	for _, bc := range []struct {
		name string
		args []string
		opts []client.Option
	}{
		{"chain", []string{"--metrics-addr=127.0.0.1:0", "--auth-token-file=" + tokens}, []client.Option{client.WithToken("bench-token")}},
		{"none", []string{"--no-interceptors"}, nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg, err := parseConfig(append([]string{"--grpc-addr=127.0.0.1:0", "--tcp-addr=", "--health-addr=", "--max-jobs=1024"}, bc.args...), io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			cfg.logOut = io.Discard
			d, err := newServer(cfg)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()
			defer func() { cancel(); <-done }()
			c, err := client.Dial(d.grpcAddr(), bc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.SetBytes(int64(len(input)))
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Digest(context.Background(), bytes.NewReader(input), sha256Algo, nil); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
