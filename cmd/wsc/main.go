// Command wsc runs the WebSocket container.
//
//	go run ./cmd/wsc                        # the bundled samples: ws://127.0.0.1:8080/samples/echo
//	go run ./cmd/wsc -webapps ./webapps     # every ./webapps/<name>/ as the context /<name>
//	go run ./cmd/wsc check jeus-web-dd.xml  # validate descriptors without starting
//	go run ./cmd/wsc -name n2 -listen 127.0.0.1:8082 -cluster 127.0.0.1:7947 -cluster-key KEYFILE -join 127.0.0.1:7946
//	                                        # a cluster node: HTTP sessions and user properties fail over
//
// The admin listener (default 127.0.0.1:9090) serves Prometheus metrics at
// /metrics, /healthz and the Go profiler at /debug/pprof/. wsc stops cleanly
// on SIGINT or SIGTERM: every session is closed with 1001 and every OnClose
// runs before it exits.
package main

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/wsc-dev/wsc/admin"
	"github.com/wsc-dev/wsc/container"
	"github.com/wsc-dev/wsc/deploy"
	"github.com/wsc-dev/wsc/descriptor"
	"github.com/wsc-dev/wsc/failover"
	"github.com/wsc-dev/wsc/samples"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "check" {
		os.Exit(check(os.Args[2:], os.Stdout, os.Stderr))
	}
	listen := flag.String("listen", "127.0.0.1:8080", "TCP address to serve WebSocket and HTTP connections on")
	adminAddr := flag.String("admin", "127.0.0.1:9090", "TCP address of the admin listener (/metrics, /healthz, /debug/pprof/); empty disables it")
	name := flag.String("name", "", "this node's server name (default: the host name)")
	route := flag.String("route", "", "this node's route in the JSESSIONID cookie (default: the base64 of the server name)")
	webapps := flag.String("webapps", "", "deploy every folder of this directory as a web context (default: the bundled samples)")
	shutdownTimeout := flag.Duration("shutdown-timeout", 10*time.Second, "how long a graceful shutdown may take")
	verbose := flag.Bool("v", false, "log debug messages")
	eventLoops := flag.Int("event-loops", 0, "number of event loops (default: GOMAXPROCS)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this file until shutdown")
	loopReads := flag.Bool("loop-reads", false, "keep open sessions on gnet's event loops instead of handing them to the pollers (for comparison)")
	clusterBind := flag.String("cluster", "", "host:port of this node's cluster (memberlist) listener: replicates the HTTP sessions and user properties of the contexts with distributed user properties; empty: no cluster")
	clusterJoin := flag.String("join", "", "comma-separated host:port cluster listeners of other nodes to join (and rejoin after a partition)")
	clusterBackups := flag.Int("backups", 1, "with -cluster: how many other nodes hold a copy of each HTTP session")
	clusterKey := flag.String("cluster-key", "", "file holding the cluster's key, base64 of 16, 24 or 32 random bytes (e.g. head -c 32 /dev/urandom | base64); required with -cluster")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: wsc [flags]\n       wsc check FILE...\n\nflags:\n")
		flag.PrintDefaults()
	}
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
	cfg := container.Config{Addr: *listen, Logger: log, ServerName: *name, Route: *route, EventLoops: *eventLoops, LoopReads: *loopReads}
	if *clusterBind != "" {
		node, err := startCluster(*clusterBind, *clusterJoin, *clusterKey, cmp.Or(*name, hostname()), *clusterBackups, log)
		if err != nil {
			log.Error("wsc stopped", "err", err)
			os.Exit(2)
		}
		cfg.Cluster = node
	}
	err := run(cfg, *adminAddr, *webapps, *shutdownTimeout, log)
	if cfg.Cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if cerr := cfg.Cluster.Close(ctx); cerr != nil {
			log.Warn("leaving the cluster", "err", cerr)
		}
		cancel()
	}
	if err != nil {
		log.Error("wsc stopped", "err", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// check validates descriptors: the resolved settings of each good file on
// stdout, every problem of each bad one on stderr. It returns the exit code.
func check(files []string, stdout, stderr io.Writer) int {
	if len(files) == 0 {
		fmt.Fprintln(stderr, "usage: wsc check FILE...")
		return 2
	}
	code := 0
	for _, f := range files {
		d, err := descriptor.ParseFile(f)
		if err != nil {
			fmt.Fprintln(stderr, err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: ok\n", f)
		_ = d.WriteResolved(stdout)
	}
	return code
}

// startCluster starts this node's cluster member: name is its node name,
// keyFile holds the key in base64, backups is how many copies each
// session has.
func startCluster(bind, join, keyFile, name string, backups int, log *slog.Logger) (*failover.Node, error) {
	if keyFile == "" {
		return nil, errors.New("-cluster needs -cluster-key: cluster traffic is always encrypted")
	}
	text, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("-cluster-key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(text)))
	if err != nil {
		return nil, fmt.Errorf("-cluster-key %s: not base64: %w", keyFile, err)
	}
	if backups < 1 {
		return nil, fmt.Errorf("-backups %d: at least one", backups)
	}
	cfg := failover.Config{Name: name, Bind: bind, Key: key, Backups: backups, Logger: log}
	for _, p := range strings.Split(join, ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.Join = append(cfg.Join, p)
		}
	}
	node, err := failover.Start(cfg)
	if err != nil {
		return nil, err
	}
	log.Info("cluster node started", "name", name, "addr", node.Addr(), "members", len(node.Members()))
	return node, nil
}

// hostname is the default server name, as the container's.
func hostname() string {
	h, _ := os.Hostname()
	return cmp.Or(h, "wsc")
}

func run(cfg container.Config, adminAddr, webapps string, shutdownTimeout time.Duration, log *slog.Logger) error {
	c := container.New(cfg)
	deployed := 0
	contexts, errs := contextsToDeploy(webapps)
	for _, err := range errs {
		log.Error("web application not deployed", "err", err)
	}
	for _, wc := range contexts {
		if err := c.Deploy(wc); err != nil {
			log.Error("web context not deployed", "context", wc.Path, "err", err)
			continue
		}
		deployed++
		log.Info("deployed", "context", wc.Path, "endpoints", len(wc.Endpoints))
	}
	if deployed == 0 && len(errs)+len(contexts) > 0 {
		return errors.New("no web context could be deployed")
	}
	if err := c.Start(); err != nil {
		return err
	}
	log.Info("wsc serving", "addr", c.Addr().String(), "echo", fmt.Sprintf("ws://%s%s/echo", c.Addr(), samples.ContextPath))
	var adminSrv *http.Server
	if adminAddr != "" {
		ln, err := net.Listen("tcp", adminAddr)
		if err != nil {
			_ = shutdown(c, shutdownTimeout)
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

// contextsToDeploy returns the contexts of the webapps folder, or the
// bundled samples with their embedded descriptor.
func contextsToDeploy(webapps string) ([]container.WebContext, []error) {
	if webapps != "" {
		return deploy.Webapps(webapps)
	}
	wc, err := deploy.Bundled(samples.ModuleName)
	if err != nil {
		return nil, []error{err}
	}
	return []container.WebContext{wc}, nil
}

func shutdown(c *container.Container, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return c.Shutdown(ctx)
}
