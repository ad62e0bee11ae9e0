package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// stormer is one loop of the storm workload.
type stormer struct {
	h     hist // handshake latency of the dials started in the window
	_     [64]byte
	count atomic.Uint64 // upgrades completed
	_     [56]byte
}

// runStorm runs the handshake storm: -conc loops of dial, upgrade, close.
func (r *runner) runStorm(res *result) {
	cfg := r.cfg
	res.Conns = 0
	loops := make([]*stormer, cfg.conc)
	for i := range loops {
		loops[i] = &stormer{}
	}
	if _, ok := r.ready(); !ok {
		r.shutdown(nil)
		return
	}
	var next atomic.Int64
	for _, s := range loops {
		r.spawn(nil, func() error { return r.storm(s, &next) })
	}
	counts := func() uint64 {
		var n uint64
		for _, s := range loops {
			n += s.count.Load()
		}
		return n
	}
	var before, after uint64
	secs, ok := r.window(time.Now().Add(cfg.warmup), counts, func() { before = counts() }, func() { after = counts() })
	r.shutdown(nil)
	res.Conc = ptr(cfg.conc)
	if ok {
		res.Seconds = secs
		res.Upgrades = ptr(after - before)
		res.UpgradesPerS = ptr(float64(after-before) / secs)
	}
	if !r.histOK {
		return
	}
	var lat histTotal
	for _, s := range loops {
		lat.add(&s.h)
	}
	lat.fill(res)
}

// storm loops until the run stops: dial (spread over -src), WebSocket
// handshake, close frame 1000, close with SO_LINGER 0.
func (r *runner) storm(s *stormer, next *atomic.Int64) error {
	d := r.wsDialer(func() int { return int(next.Add(1) - 1) })
	var mask [4]byte
	binary.BigEndian.PutUint32(mask[:], rand.Uint32()|1)
	bye := closeFrame(1000, mask)
	url := r.url()
	ctx := context.Background()
	for {
		phase := r.phase.Load()
		if phase == phaseStop {
			return nil
		}
		t0 := r.mono()
		nc, br, hs, err := d.Dial(ctx, url)
		lat := r.mono() - t0
		if err != nil {
			if nc != nil {
				closeRST(nc)
			}
			return fmt.Errorf("websocket handshake: %w", err)
		}
		if br != nil {
			ws.PutReader(br)
		}
		if len(hs.Extensions) > 0 {
			closeRST(nc)
			return fmt.Errorf("server negotiated extensions %v; none were offered", hs.Extensions)
		}
		_, err = nc.Write(bye)
		closeRST(nc)
		if err != nil {
			return fmt.Errorf("write close frame after the handshake: %w", err)
		}
		if phase == phaseMeasure {
			s.h.record(lat)
		}
		s.count.Add(1)
	}
}
