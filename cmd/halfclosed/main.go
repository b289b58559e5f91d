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
	case cfg.printLimits:
		cfg.writeLimits(os.Stdout)
		os.Exit(0)
	}
	d, err := newServer(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "halfclosed:", err)
		os.Exit(1)
	}
	cfg.applyGC(d.log) // process-wide, so here rather than in newServer
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := shutdownSignals()
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	go func() {
		// The first signal drains (see daemon.shutdown); a second ends
		// the drain at once, every job cut with an error or a reset and
		// never by the process's death; a third kills.
		cancel(signalCause{<-ch})
		<-ch
		signal.Reset(sigs...)
		d.hurry()
	}()
	if err := d.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "halfclosed:", err)
		os.Exit(1)
	}
}

// shutdownSignals are the signals that drain the server: SIGINT, SIGTERM,
// and SIGHUP (the terminal went away; there is no configuration to reload),
// unless the server was started with SIGHUP ignored (nohup), which it then
// keeps ignoring. Without a handler, Go's SIGHUP killed the process at
// once: a raw-TCP reply under way ended with a FIN, which a bare client
// takes for the whole reply.
func shutdownSignals() []os.Signal {
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if !signal.Ignored(syscall.SIGHUP) {
		sigs = append(sigs, syscall.SIGHUP)
	}
	return sigs
}

// signalCause is the cause of Run's context when a signal ended it.
type signalCause struct{ sig os.Signal }

func (c signalCause) Error() string { return c.sig.String() }
