// Command halfclosed is the halfclose server: a gRPC ComputeService and a
// raw-TCP adapter over one compute engine, where the end of a client's input
// (CloseSend, or a TCP FIN) is what starts the reply.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/halfclose/halfclose/internal/cli"
)

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Stderr)
	var usage usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintf(os.Stderr, "halfclosed: %v\nTry 'halfclosed --help' for more information.\n", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "halfclosed:", err)
		os.Exit(2)
	case cfg.help:
		newSpec(defaultConfig()).Usage(os.Stdout)
		os.Exit(0)
	case cfg.version:
		fmt.Println(cli.Version("halfclosed"))
		os.Exit(0)
	case cfg.generate != "":
		if err := newSpec(defaultConfig()).Generate(os.Stdout, cfg.generate); err != nil {
			fmt.Fprintln(os.Stderr, "halfclosed:", err)
			os.Exit(2)
		}
		os.Exit(0)
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
