// Command halfclosed is the halfclose server: a gRPC ComputeService and a
// raw-TCP adapter over one compute engine, where the end of a client's input
// (CloseSend, or a TCP FIN) is what starts the reply.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "halfclosed:", err)
		os.Exit(2)
	}
	d, err := newServer(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "halfclosed:", err)
		os.Exit(1)
	}
	cfg.applyGC(d.log) // process-wide, so here rather than in newServer
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A second signal during the drain kills at once.
	context.AfterFunc(ctx, stop)
	if err := d.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "halfclosed:", err)
		os.Exit(1)
	}
}
