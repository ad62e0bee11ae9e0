package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// bcPattern returns the broadcast payload of size bytes: a fixed
// pseudo-random pattern, the same in every process, whose first 16 bytes
// the publisher overwrites with the sequence number and the send time.
func bcPattern(size int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	p := make([]byte, size)
	for i := range p {
		p[i] = byte(rng.Uint32())
	}
	return p
}

// bcSub is one subscriber of the broadcast workload.
type bcSub struct {
	id   int
	nc   net.Conn
	fr   frameReader
	got  []byte
	slow bool // never reads during the run
	h    hist

	_     [64]byte
	count atomic.Uint64 // messages received
	_     [56]byte
}

// publisher is the connection that publishes, when -publish-rate > 0.
type publisher struct {
	nc      net.Conn
	fr      frameReader
	frame   []byte
	off     int // offset of the payload in frame
	mask    [4]byte
	hdr     [16]byte
	sentWin uint64 // messages scheduled in the window
	lag     hist
	sent    atomic.Uint64
}

// wall converts a mono time into Unix nanoseconds.
func (r *runner) wall(t int64) int64 { return r.base.UnixNano() + t - 1 }

// runBroadcast runs the broadcast workload.
func (r *runner) runBroadcast(res *result) {
	cfg := r.cfg
	pattern := bcPattern(cfg.size)
	subs := make([]*bcSub, cfg.conns)
	local := cfg.publishRate > 0
	var pub *publisher
	closeSubs := closeEach(subs, func(c *bcSub) net.Conn { return c.nc })
	closeAll := func() {
		closeSubs()
		if pub != nil {
			closeRST(pub.nc)
		}
	}
	nSlow := cfg.slow
	n := cfg.conns
	if local {
		n++ // the publisher, dialed last
	}
	err := r.dialAll(n, func(i int) error {
		slow := i >= cfg.conns-nSlow && i < cfg.conns
		bufSize := bufSizeFor(cfg.size)
		if slow {
			bufSize = 64 << 10
		}
		nc, br, err := r.dialWS(context.Background(), i, bufSize)
		if err != nil {
			return err
		}
		var mask [4]byte
		binary.BigEndian.PutUint32(mask[:], rand.Uint32()|1)
		fr := frameReader{br: br, nc: nc, mask: mask}
		if i == cfg.conns {
			p := &publisher{nc: nc, fr: fr, mask: mask}
			p.frame = appendMasked(nil, true, ws.OpBinary, pattern, mask)
			p.off = len(p.frame) - cfg.size
			pub = p
			return nil
		}
		c := &bcSub{id: i, nc: nc, fr: fr, slow: slow}
		if !slow {
			c.got = make([]byte, cfg.size)
		}
		subs[i] = c
		return nil
	})
	if err != nil {
		r.shutdown(closeAll)
		return
	}
	for _, c := range subs {
		if !c.slow {
			r.spawn(nil, func() error { return r.subscriber(c, local, pattern) })
		}
	}
	if pub != nil {
		r.spawn(nil, func() error { return r.discard(pub) })
	}
	if _, ok := r.ready(); !ok {
		r.shutdown(closeAll)
		return
	}

	var pubs sync.WaitGroup
	warmupEnd := time.Now().Add(cfg.warmup)
	var s *schedule
	if pub != nil {
		start := r.mono() + int64(10*time.Millisecond)
		s = &schedule{
			start:    start,
			winStart: start + int64(cfg.warmup),
			winEnd:   start + int64(cfg.warmup+cfg.duration),
			period:   1e9 / cfg.publishRate,
		}
		warmupEnd = r.base.Add(time.Duration(s.winStart))
		r.spawn(&pubs, func() error { return r.publish(pub, s) })
	}
	deliveries := func() uint64 {
		var n uint64
		for _, c := range subs {
			n += c.count.Load()
		}
		return n
	}
	var progress func() uint64
	if pub != nil || nSlow < cfg.conns {
		progress = func() uint64 {
			n := deliveries()
			if pub != nil {
				n += pub.sent.Load()
			}
			return n
		}
	}
	var before, after uint64
	secs, ok := r.window(warmupEnd, progress, func() { before = deliveries() }, func() { after = deliveries() })
	slowClosed := 0
	if ok {
		res.Seconds = secs
		d := after - before
		res.Deliveries = ptr(d)
		res.DeliveriesPerS = ptr(float64(d) / secs)
		res.Messages, res.MsgPerS = d, float64(d)/secs
		if pub != nil {
			r.checkComplete(subs, pub, &pubs)
		}
		if r.firstErr() == nil {
			slowClosed = r.drainSlow(subs)
		}
	}
	r.shutdown(closeAll)

	res.Slow = ptr(nSlow)
	res.SlowClosed = ptr(slowClosed)
	res.PublishRate = ptr(cfg.publishRate)
	if !r.histOK {
		return
	}
	fillLatency(res, subs, func(c *bcSub) *hist { return &c.h })
	if pub != nil {
		res.Published = ptr(pub.sentWin)
		var lag histTotal
		lag.add(&pub.lag)
		res.SendLagP50us = ptr(float64(lag.quantile(0.50)) / 1e3)
		res.SendLagP99us = ptr(float64(lag.quantile(0.99)) / 1e3)
		res.SendLagMaxUs = ptr(float64(lag.max) / 1e3)
	} else {
		res.Published = ptr(uint64(0))
	}
}

// checkComplete waits, after the window, until every normal subscriber has
// received every message the local publisher sent.
func (r *runner) checkComplete(subs []*bcSub, pub *publisher, pubs *sync.WaitGroup) {
	select {
	case <-done(pubs):
	case <-r.failed:
		return
	}
	final := pub.sent.Load()
	ok := r.await(func() bool {
		for _, c := range subs {
			if !c.slow && c.count.Load() < final {
				return false
			}
		}
		return true
	}, r.cfg.hangTimeout)
	if ok || r.firstErr() != nil {
		return
	}
	for _, c := range subs {
		if n := c.count.Load(); !c.slow && n < final {
			r.fail(fmt.Errorf("subscriber %d received %d of the %d messages published within %v", c.id, n, final, r.cfg.hangTimeout))
			return
		}
	}
}

// drainSlow reads what the server queued to each slow subscriber, with a
// -drain-timeout read deadline, and returns how many were closed by the
// server: EOF, RST or a close frame.
func (r *runner) drainSlow(subs []*bcSub) int {
	var closed atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(r.cfg.drainTimeout)
	for _, c := range subs {
		if !c.slow {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.nc.SetReadDeadline(deadline)
			for {
				h, err := c.fr.header()
				if err == nil && h.op == ws.OpClose {
					closed.Add(1)
					return
				}
				if err == nil {
					_, err = c.fr.br.Discard(int(h.n))
				}
				if err != nil {
					if !errors.Is(err, os.ErrDeadlineExceeded) {
						closed.Add(1) // EOF, RST
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	return int(closed.Load())
}

// subscriber reads a normal subscriber's messages: each must be one binary
// frame of -size bytes whose sequence number follows the previous one.
func (r *runner) subscriber(c *bcSub, local bool, pattern []byte) error {
	var last uint64
	for {
		h, err := c.fr.next()
		if err != nil {
			return fmt.Errorf("subscriber %d: %w", c.id, err)
		}
		if h.op != ws.OpBinary || !h.fin || h.rsv != 0 {
			return fmt.Errorf("subscriber %d: protocol: expected one binary frame, got opcode %d fin %v rsv %#x", c.id, h.op, h.fin, h.rsv)
		}
		if h.n != int64(len(c.got)) {
			return fmt.Errorf("subscriber %d: verify: message is %d bytes, -size is %d", c.id, h.n, len(c.got))
		}
		if _, err := io.ReadFull(c.fr.br, c.got); err != nil {
			return fmt.Errorf("subscriber %d: read frame payload: %w", c.id, err)
		}
		now := time.Now().UnixNano()
		seq := binary.BigEndian.Uint64(c.got)
		sent := int64(binary.BigEndian.Uint64(c.got[8:]))
		switch {
		case last == 0 && local && seq != 1:
			return fmt.Errorf("subscriber %d: the first message received is %d: missed %d", c.id, seq, seq-1)
		case last != 0 && seq != last+1:
			return fmt.Errorf("subscriber %d: message %d after %d: missed or out of order", c.id, seq, last)
		}
		last = seq
		if seq%r.cfg.verifyEvery == 0 && !bytes.Equal(c.got[16:], pattern[16:]) {
			return fmt.Errorf("subscriber %d: verify: message %d differs from the pattern", c.id, seq)
		}
		if r.phase.Load() == phaseMeasure {
			c.h.record(now - sent)
		}
		c.count.Add(1)
	}
}

// discard reads and drops what the server relays to the publisher.
func (r *runner) discard(p *publisher) error {
	for {
		h, err := p.fr.next()
		if err != nil {
			return fmt.Errorf("publisher: %w", err)
		}
		if _, err := p.fr.br.Discard(int(h.n)); err != nil {
			return fmt.Errorf("publisher: read: %w", err)
		}
	}
}

// publish sends the local publisher's messages on schedule, each carrying
// its sequence number and scheduled send time, until the window ends.
func (r *runner) publish(p *publisher, s *schedule) error {
	tm := time.NewTimer(time.Hour)
	tm.Stop()
	for seq := uint64(1); ; seq++ {
		t := s.at(0, seq)
		if t >= s.winEnd {
			return nil
		}
		if !r.sleepUntil(tm, t) {
			return nil
		}
		binary.BigEndian.PutUint64(p.hdr[0:8], seq)
		binary.BigEndian.PutUint64(p.hdr[8:16], uint64(r.wall(t)))
		patchMasked(p.frame[p.off:], 0, p.hdr[:], p.mask)
		p.sent.Store(seq)
		if _, err := p.nc.Write(p.frame); err != nil {
			return fmt.Errorf("publisher: write: %w", err)
		}
		if t >= s.winStart {
			p.sentWin++
			p.lag.record(r.mono() - t)
		}
	}
}
