// Command halfclosed is the halfclose server: a gRPC ComputeService and a
// raw-TCP adapter over one compute engine, where the end of a client's input
// (CloseSend, or a TCP FIN) is what starts the reply.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/halfclose/halfclose/internal/cli"
)

func main() {
	zone := useGlibcZone() // before anything reads time.Local
	cfg, err := parseConfig(os.Args[1:], os.Stderr)
	var usage usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintf(os.Stderr, "halfclosed: %v\nTry 'halfclosed --help' for more information.\n", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "halfclosed:", err)
		os.Exit(2)
	case cfg.help, cfg.version, cfg.generate != "", cfg.printLimits:
		os.Exit(printInfo(cfg, os.Stdout, os.Stderr))
	}
	d, err := newServer(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "halfclosed:", err)
		os.Exit(1)
	}
	cfg.applyGC(d.log) // process-wide, so here rather than in newServer
	logZone(d.log, zone)
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

// printInfo prints what --help, --version, --generate or --print-limits
// asks for and returns the exit status: 1 with GNU's words when stdout
// cannot be written ("halfclosed: write error: No space left on device"
// for >/dev/full, as GNU cat --help prints; it exited 0 and said
// nothing), 2 for --generate's unknown kind.
func printInfo(cfg *config, stdout, stderr io.Writer) int {
	return cli.PrintOut("halfclosed", stdout, stderr, func(w io.Writer) error {
		switch {
		case cfg.help:
			newSpec(defaultConfig()).Usage(w)
		case cfg.version:
			_, err := fmt.Fprintln(w, cli.Version("halfclosed"))
			return err
		case cfg.generate != "":
			return newSpec(defaultConfig()).Generate(w, cfg.generate)
		default:
			// It checks a configuration as a start would: the
			// start's warnings of ignored variables, on stderr.
			for _, u := range cfg.unknownEnv {
				fmt.Fprintf(stderr, "halfclosed: warning: %s: %s\n", u.name, u.text())
			}
			cfg.writeLimits(w)
		}
		return nil
	})
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
