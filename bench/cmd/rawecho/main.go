// Command rawecho is the baseline of the echo benchmark: a raw gnet TCP
// echo server with the same gnet options as the wsc container (multicore,
// TCP_NODELAY, no SO_REUSEPORT). It echoes whatever bytes arrive, in
// OnTraffic, with c.Next(-1) and c.Write. It stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"
)

type echo struct {
	gnet.BuiltinEventEngine
	eng    gnet.Engine
	booted chan struct{}
}

func (e *echo) OnBoot(eng gnet.Engine) gnet.Action {
	e.eng = eng
	close(e.booted)
	return gnet.None
}

func (e *echo) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	if _, err := c.Write(buf); err != nil {
		return gnet.Close
	}
	return gnet.None
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9001", "TCP address to serve on")
	flag.Parse()

	h := &echo{booted: make(chan struct{})}
	stopped := make(chan error, 1)
	go func() {
		stopped <- gnet.Run(h, "tcp://"+*listen,
			gnet.WithMulticore(true),
			gnet.WithReusePort(false),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithLogLevel(logging.ErrorLevel),
		)
	}()
	select {
	case <-h.booted:
	case err := <-stopped:
		fmt.Fprintln(os.Stderr, "rawecho:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "rawecho serving", *listen)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case err := <-stopped:
		fmt.Fprintln(os.Stderr, "rawecho stopped:", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.eng.Stop(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "rawecho: stop:", err)
		os.Exit(1)
	}
	<-stopped
}
