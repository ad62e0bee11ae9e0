package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// dialTimeout bounds a TCP connect plus WebSocket handshake.
const dialTimeout = 10 * time.Second

// netDialer returns the TCP dialer of connection i: connections are spread
// over the -src source IPs in turn.
func (r *runner) netDialer(i int) (*net.Dialer, net.IP) {
	nd := &net.Dialer{Timeout: dialTimeout}
	if len(r.cfg.src) == 0 {
		return nd, nil
	}
	ip := r.cfg.src[i%len(r.cfg.src)]
	nd.LocalAddr = &net.TCPAddr{IP: ip}
	return nd, ip
}

// dialErr explains a dial error; running out of ephemeral ports is told
// as such.
func dialErr(err error, ip net.IP) error {
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		from := "127.0.0.1"
		if ip != nil {
			from = ip.String()
		}
		return fmt.Errorf("dial: ephemeral ports exhausted on source IP %s (EADDRNOTAVAIL; about 28k per source IP: add -src IPs or use fewer connections): %w", from, err)
	}
	return fmt.Errorf("dial: %w", err)
}

// dialTCP opens TCP connection i.
func (r *runner) dialTCP(ctx context.Context, i int) (net.Conn, error) {
	nd, ip := r.netDialer(i)
	nc, err := nd.DialContext(ctx, "tcp", r.cfg.addr)
	if err != nil {
		return nil, dialErr(err, ip)
	}
	return nc, nil
}

// wsDialer returns a gobwas dialer that offers no extensions (so no
// compression) and dials connection number next() each time.
func (r *runner) wsDialer(next func() int) ws.Dialer {
	return ws.Dialer{
		Timeout: dialTimeout,
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nd, ip := r.netDialer(next())
			nc, err := nd.DialContext(ctx, network, addr)
			if err != nil {
				return nil, dialErr(err, ip)
			}
			return nc, nil
		},
	}
}

// url is the WebSocket URL of -addr and -path.
func (r *runner) url() string { return "ws://" + r.cfg.addr + r.cfg.path }

// dialWS opens WebSocket connection i and returns it with a reader of
// bufSize bytes over what follows the handshake.
func (r *runner) dialWS(ctx context.Context, i, bufSize int) (net.Conn, *bufio.Reader, error) {
	d := r.wsDialer(func() int { return i })
	nc, br, hs, err := d.Dial(ctx, r.url())
	if err != nil {
		if nc != nil {
			_ = nc.Close()
		}
		return nil, nil, fmt.Errorf("websocket handshake: %w", err)
	}
	if len(hs.Extensions) > 0 {
		closeRST(nc)
		return nil, nil, fmt.Errorf("server negotiated extensions %v; none were offered", hs.Extensions)
	}
	var src io.Reader = nc
	if br != nil {
		src = io.MultiReader(br, nc)
	}
	return nc, bufio.NewReaderSize(src, bufSize), nil
}

// closeEach returns a function that closes, with a reset, the connection
// of every entry of conns dialed so far (nil entries were not).
func closeEach[T any](conns []*T, nc func(*T) net.Conn) func() {
	return func() {
		for _, c := range conns {
			if c != nil {
				closeRST(nc(c))
			}
		}
	}
}

// closeRST closes a connection with SO_LINGER 0: the kernel sends RST and
// keeps no TIME_WAIT, so repeated runs do not use up ephemeral ports.
func closeRST(nc net.Conn) {
	if nc == nil {
		return
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = nc.Close()
}

// dialAll calls dial(i) for i in [0, n), -dial-concurrency at a time, and
// stops at the first error, which it returns.
func (r *runner) dialAll(n int, dial func(i int) error) error {
	idx := make(chan int)
	var wg sync.WaitGroup
	for range min(r.cfg.dialConc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				if err := dial(i); err != nil {
					r.fail(fmt.Errorf("connection %d: %w", i, err))
				}
			}
		}()
	}
	go func() {
		defer close(idx)
		for i := range n {
			select {
			case idx <- i:
			case <-r.failed:
				return
			}
		}
	}()
	wg.Wait()
	return r.firstErr()
}

// bufSizeFor is the read buffer of a connection that receives messages of
// size bytes: enough for one frame, at most 64 KiB.
func bufSizeFor(size int) int { return min(max(4096, size+14), 64<<10+14) }
