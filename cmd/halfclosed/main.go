// Command halfclosed is the halfclose server: a gRPC ComputeService and a
// raw-TCP adapter over one compute engine, where the end of a client's input
// (CloseSend, or a TCP FIN) is what starts the reply.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/internal/grpcopts"
	"github.com/halfclose/halfclose/server"
)

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "halfclosed:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "halfclosed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg *config) error {
	level, _ := cfg.slogLevel()
	hopts := &slog.HandlerOptions{Level: level}
	var handler slog.Handler = slog.NewTextHandler(os.Stderr, hopts)
	if cfg.logFormat == "json" {
		handler = slog.NewJSONHandler(os.Stderr, hopts)
	}
	log := slog.New(handler)

	engine := compute.NewEngine(compute.Config{
		MaxJobs:       cfg.maxJobs,
		QueueWait:     cfg.jobWait,
		MaxInputBytes: int64(cfg.maxInputBytes),
		Spool: compute.SpoolConfig{
			MemBytes: int64(cfg.spoolMem),
			Dir:      cfg.spoolDir,
			Disk:     compute.NewDiskBudget(int64(cfg.spoolDisk)),
		},
	})

	// Listen on everything first, so a bad address fails before serving.
	var listeners []net.Listener
	listen := func(addr string) (net.Listener, error) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return nil, err
		}
		listeners = append(listeners, l)
		return l, nil
	}
	grpcL, err := listen(cfg.grpcAddr)
	if err != nil {
		return err
	}
	var tcpL net.Listener
	if cfg.tcpAddr != "" {
		if tcpL, err = listen(cfg.tcpAddr); err != nil {
			return err
		}
	}
	routeLs := map[net.Listener]string{}
	for _, r := range cfg.routes() {
		l, err := listen(r.addr)
		if err != nil {
			return err
		}
		routeLs[l] = r.pipeline
	}

	svc := server.NewComputeService(engine, server.Options{
		IdleTimeout: cfg.idleTimeout,
		MaxMsgBytes: int(cfg.maxMsgBytes),
		Logger:      log,
	})
	gs := grpc.NewServer(append(grpcopts.ServerOptions(),
		grpc.MaxRecvMsgSize(int(cfg.maxMsgBytes)),
		grpc.MaxSendMsgSize(int(cfg.maxMsgBytes)),
	)...)
	apiv1.RegisterComputeServiceServer(gs, svc)
	healthSrv := health.NewServer()
	healthpb.RegisterHealthServer(gs, healthSrv)
	reflection.Register(gs) // v1 and v1alpha

	tcp := &server.TCPServer{
		Engine:         engine,
		HeaderTimeout:  cfg.headerTimeout,
		IdleTimeout:    cfg.idleTimeout,
		MaxHeaderBytes: int(cfg.maxHeaderBytes),
		MaxConns:       cfg.maxConns,
		Logger:         log,
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		log.Info("grpc listening", "addr", grpcL.Addr().String())
		return gs.Serve(grpcL)
	})
	if tcpL != nil {
		g.Go(func() error {
			log.Info("tcp command port listening", "addr", tcpL.Addr().String())
			return ignoreClosed(tcp.Serve(tcpL))
		})
	}
	for l, p := range routeLs {
		g.Go(func() error {
			log.Info("tcp route listening", "addr", l.Addr().String(), "pipeline", p)
			return ignoreClosed(tcp.ServeRoute(l, p))
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down", "grace", cfg.shutdownGrace)
		healthSrv.Shutdown() // every service NOT_SERVING
		svc.Drain()
		sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownGrace)
		defer cancel()
		stopped := make(chan struct{})
		go func() { gs.GracefulStop(); close(stopped) }()
		tcpErr := tcp.Shutdown(sctx)
		select {
		case <-stopped:
		case <-sctx.Done():
			log.Warn("shutdown grace over; cancelling running jobs")
			gs.Stop()
			<-stopped
		}
		if tcpErr != nil {
			log.Warn("tcp jobs cancelled at the end of the grace period")
		}
		return nil
	})
	err = g.Wait()
	if ctx.Err() != nil && (err == nil || errors.Is(err, grpc.ErrServerStopped)) {
		log.Info("stopped")
		return nil
	}
	return err
}

func ignoreClosed(err error) error {
	if errors.Is(err, server.ErrServerClosed) {
		return nil
	}
	return err
}
