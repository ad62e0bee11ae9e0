package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"
)

// idleBufSize is the read buffer of an idle connection: enough for pings,
// small for tens of thousands of connections.
const idleBufSize = 256

// runIdle runs the idle workload: hold -conns connections without traffic.
func (r *runner) runIdle(res *result) {
	cfg := r.cfg
	conns := make([]net.Conn, cfg.conns)
	var closed atomic.Int64
	closeAll := func() {
		for _, nc := range conns {
			closeRST(nc)
		}
	}
	err := r.dialAll(cfg.conns, func(i int) error {
		nc, br, err := r.dialWS(context.Background(), i, idleBufSize)
		if err != nil {
			return err
		}
		conns[i] = nc
		var mask [4]byte
		binary.BigEndian.PutUint32(mask[:], rand.Uint32()|1)
		fr := &frameReader{br: br, nc: nc, mask: mask}
		r.spawn(nil, func() error {
			// Answer pings, drop anything else; the hold ends with the
			// teardown, which closes the connection.
			for {
				h, err := fr.next()
				if err == nil {
					_, err = br.Discard(int(h.n))
				}
				if err != nil {
					if !r.teardown.Load() {
						closed.Add(1)
					}
					return fmt.Errorf("connection %d closed by the server during the hold: %w", i, err)
				}
			}
		})
		return nil
	})
	if err != nil {
		r.shutdown(closeAll)
		return
	}
	line, ok := r.ready()
	if ok {
		if cfg.sync {
			secs, held := r.holdUntilStop(line)
			ok = held
			res.Seconds = secs
		} else {
			res.Seconds, ok = r.window(time.Now().Add(cfg.warmup), nil, nil, nil)
		}
	}
	held := cfg.conns - int(closed.Load())
	r.shutdown(closeAll)
	res.Held = ptr(held)
}

// holdUntilStop is the idle window with -sync: it starts now (the first
// line was first) and ends at a "stop" line or the end of stdin. It
// returns the window's length and false when the run failed.
func (r *runner) holdUntilStop(first string) (float64, bool) {
	t0 := time.Now()
	r.phase.Store(phaseMeasure)
	r.logf("load: window start")
	end := func() (float64, bool) {
		r.phase.Store(phaseStop)
		r.logf("load: window end")
		return time.Since(t0).Seconds(), true
	}
	if first == "stop" {
		return end()
	}
	for {
		select {
		case line, ok := <-r.lines:
			if !ok || line == "stop" {
				return end()
			}
		case <-r.failed:
			return time.Since(t0).Seconds(), false
		}
	}
}
