package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// lorisConn is one connection of the slowloris workload.
type lorisConn struct {
	id       int
	nc       net.Conn
	first    int64        // mono time of the first byte
	closedAt atomic.Int64 // mono time the server closed it (0: open)
	status   atomic.Int32 // HTTP status the server answered, if any
}

// markClosed records the first sign that the server closed the connection.
func (c *lorisConn) markClosed(t int64) { c.closedAt.CompareAndSwap(0, t) }

// lorisRequest is a valid WebSocket upgrade request on -path, padded with
// an X-Pad header so that it cannot be complete within the run at one byte
// per -interval.
func (r *runner) lorisRequest() []byte {
	cfg := r.cfg
	pad := max(1024, int((cfg.warmup+cfg.duration)/cfg.interval)+64)
	return fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Pad: %s\r\n\r\n",
		cfg.path, cfg.addr, strings.Repeat("a", pad))
}

// runSlowloris runs the slowloris workload and reports when the server
// closed the connections.
func (r *runner) runSlowloris(res *result) {
	cfg := r.cfg
	req := r.lorisRequest()
	conns := make([]*lorisConn, cfg.conns)
	closeAll := closeEach(conns, func(c *lorisConn) net.Conn { return c.nc })
	err := r.dialAll(cfg.conns, func(i int) error {
		nc, err := r.dialTCP(context.Background(), i)
		if err != nil {
			return err
		}
		c := &lorisConn{id: i, nc: nc}
		conns[i] = c
		c.first = r.mono()
		if _, err := nc.Write(req[:1]); err != nil {
			return fmt.Errorf("write the first byte: %w", err)
		}
		r.spawn(nil, func() error { return r.lorisReader(c) })
		return nil
	})
	if !r.readyAfterDial(err, closeAll) {
		return
	}
	goAt := r.mono()
	r.spawn(nil, func() error { return r.trickle(conns, req, goAt) })

	closedAt := make([]int64, len(conns))
	secs, ok := r.window(time.Now().Add(cfg.warmup), nil, nil, func() {
		for i, c := range conns {
			closedAt[i] = c.closedAt.Load()
		}
	})
	r.shutdown(closeAll)
	if !ok {
		return
	}
	res.Seconds = secs
	var after []int64
	statuses := map[string]int{}
	for i, c := range conns {
		if closedAt[i] == 0 {
			continue
		}
		after = append(after, closedAt[i]-c.first)
		if s := c.status.Load(); s != 0 {
			statuses[strconv.Itoa(int(s))]++
		}
	}
	slices.Sort(after)
	res.SlowConns = ptr(len(conns))
	res.ClosedByServer = ptr(len(after))
	res.StillOpen = ptr(len(conns) - len(after))
	p50, mx := 0.0, 0.0
	if len(after) > 0 {
		p50 = float64(after[(len(after)+1)/2-1]) / 1e6
		mx = float64(after[len(after)-1]) / 1e6
	}
	res.CloseAfterMsP50 = ptr(p50)
	res.CloseAfterMsMax = ptr(mx)
	if len(statuses) > 0 {
		res.HTTPStatuses = statuses
	}
}

// lorisReader waits for the server to answer or close the connection.
func (r *runner) lorisReader(c *lorisConn) error {
	var buf [64]byte
	n, _ := c.nc.Read(buf[:])
	t := r.mono()
	if r.teardown.Load() {
		return nil
	}
	if n > 0 {
		// "HTTP/1.1 408 Request Timeout"
		if f := bytes.Fields(buf[:n]); len(f) >= 2 && bytes.HasPrefix(f[0], []byte("HTTP/")) {
			if s, err := strconv.Atoi(string(f[1])); err == nil {
				c.status.Store(int32(s))
			}
		}
	}
	c.markClosed(t)
	return nil
}

// trickle sends the next byte of the request on every open connection
// once per -interval, the connections spread evenly over the interval,
// until the window ends. A failed write counts as a close by the server.
func (r *runner) trickle(conns []*lorisConn, req []byte, goAt int64) error {
	tm := time.NewTimer(time.Hour)
	tm.Stop()
	iv := int64(r.cfg.interval)
	n := int64(len(conns))
	for k := 1; ; k++ {
		for i, c := range conns {
			if !r.sleepUntil(tm, goAt+int64(k-1)*iv+int64(i)*iv/n) || r.phase.Load() == phaseStop {
				return nil
			}
			if c.closedAt.Load() != 0 || k >= len(req) {
				continue
			}
			if _, err := c.nc.Write(req[k : k+1]); err != nil {
				c.markClosed(r.mono())
			}
		}
	}
}
