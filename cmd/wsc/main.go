// Command wsc runs the WebSocket container with the bundled samples.
//
//	go run ./cmd/wsc                      # ws://127.0.0.1:8080/samples/echo
//	go run ./cmd/wsc -listen 127.0.0.1:9000 -admin 127.0.0.1:9001
//
// The admin listener (default 127.0.0.1:9090) serves Prometheus metrics at
// /metrics, /healthz and the Go profiler at /debug/pprof/.
//
// It stops cleanly on SIGINT or SIGTERM: every session is closed with 1001
// and every OnClose runs before it exits.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/wsc-dev/wsc/admin"
	"github.com/wsc-dev/wsc/container"
	"github.com/wsc-dev/wsc/samples"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "TCP address to serve WebSocket connections on")
	adminAddr := flag.String("admin", "127.0.0.1:9090", "TCP address of the admin listener (/metrics, /healthz, /debug/pprof/); empty disables it")
	shutdownTimeout := flag.Duration("shutdown-timeout", 10*time.Second, "how long a graceful shutdown may take")
	verbose := flag.Bool("v", false, "log debug messages")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this file until shutdown")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "wsc: cpuprofile:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(*listen, *adminAddr, *shutdownTimeout, log); err != nil {
		log.Error("wsc stopped", "err", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(listen, adminAddr string, shutdownTimeout time.Duration, log *slog.Logger) error {
	c := container.New(container.Config{Addr: listen, Logger: log})
	settings := container.DefaultSettings()
	settings.AllowedOrigins = []string{"*"}
	settings.PerMessageDeflate = true
	if err := c.Deploy(container.WebContext{
		Path:      samples.ContextPath,
		Settings:  settings,
		Endpoints: samples.Endpoints(),
	}); err != nil {
		return err
	}
	if err := c.Start(); err != nil {
		return err
	}
	log.Info("wsc serving", "addr", c.Addr().String(), "echo", fmt.Sprintf("ws://%s%s/echo", c.Addr(), samples.ContextPath))
	var adminSrv *http.Server
	if adminAddr != "" {
		ln, err := net.Listen("tcp", adminAddr)
		if err != nil {
			shutdown(c, shutdownTimeout)
			return fmt.Errorf("admin listener: %w", err)
		}
		adminSrv = &http.Server{Handler: admin.Handler(c), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = adminSrv.Serve(ln) }()
		log.Info("admin serving", "addr", ln.Addr().String(), "metrics", "http://"+ln.Addr().String()+"/metrics")
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	got := <-sig
	log.Info("shutting down", "signal", got.String())
	err := shutdown(c, shutdownTimeout)
	if adminSrv != nil {
		_ = adminSrv.Close()
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

func shutdown(c *container.Container, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return c.Shutdown(ctx)
}
