package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// echoConn is one connection of the echo workload.
type echoConn struct {
	id    int
	nc    net.Conn
	isWS  bool
	fr    frameReader // ws
	frame []byte      // what is written per message: ws frame, or the tcp payload
	off   int         // offset of the payload in frame
	mask  [4]byte
	want  []byte // the payload, unmasked; the writer owns want[:8]
	got   []byte
	h     hist

	ring []atomic.Int64 // pipelined: send time of seq at [seq%k], negative outside the window
	sem  chan struct{}  // pipelined: one token per message in flight
	phi  int64          // open loop: phase of the schedule, ns

	sentWin uint64      // open loop: messages scheduled in the window (owned by the scheduler)
	wdone   atomic.Bool // pipelined: the writer stopped

	_     [64]byte
	count atomic.Uint64 // echoes received
	_     [56]byte
	sent  atomic.Uint64 // messages sent (pipelined, open loop)
	_     [56]byte
}

// schedule is the open loop's timetable: message seq (from 1) of a
// connection is due at start + phi + (seq-1)·period, and is recorded when
// that time falls in [winStart, winEnd). Sending stops at winEnd.
type schedule struct {
	start, winStart, winEnd int64 // mono ns
	period                  float64
}

// at is the scheduled time of message seq of a connection with phase phi.
func (s *schedule) at(phi int64, seq uint64) int64 {
	return s.start + phi + int64(float64(seq-1)*s.period)
}

// runEcho runs the echo workload: closed loop, pipelined or open loop.
func (r *runner) runEcho(res *result) {
	cfg := r.cfg
	conns := make([]*echoConn, cfg.conns)
	closeAll := closeEach(conns, func(c *echoConn) net.Conn { return c.nc })
	err := r.dialAll(cfg.conns, func(i int) error {
		c, err := r.dialEcho(i)
		conns[i] = c
		return err
	})
	if !r.readyAfterDial(err, closeAll) {
		return
	}

	t := &tally{}
	for _, c := range conns {
		t.counters = append(t.counters, &c.count)
	}
	var loops sync.WaitGroup // closed loop: every loop; open loop: the schedulers
	warmupEnd := time.Now().Add(cfg.warmup)
	var sched *schedule
	var lags []*hist
	switch {
	case cfg.rate > 0:
		sched, lags = r.startOpenLoop(conns, &loops)
		warmupEnd = r.base.Add(time.Duration(sched.winStart))
	case cfg.inflight > 1:
		for _, c := range conns {
			r.spawn(nil, func() error { return r.pipeWriter(c) })
			r.spawn(nil, func() error { return r.pipeReader(c) })
		}
	default:
		for _, c := range conns {
			r.spawn(&loops, func() error { return r.closedLoop(c) })
		}
	}

	secs, ok := r.window(warmupEnd, t.total, t.start, t.end)
	if ok {
		res.Seconds = secs
		t.fill(res)
		res.MsgPerS = float64(res.Messages) / secs
		r.drainEcho(conns, &loops)
	}
	r.shutdown(closeAll)

	res.Inflight = ptr(cfg.inflight)
	if !r.histOK {
		return
	}
	fillLatency(res, conns, func(c *echoConn) *hist { return &c.h })
	if sched != nil {
		var lag histTotal
		for _, h := range lags {
			lag.add(h)
		}
		var sent uint64
		for _, c := range conns {
			sent += c.sentWin
		}
		res.RateTarget = ptr(cfg.rate)
		res.Sent = ptr(sent)
		res.SendLagP50us = ptr(float64(lag.quantile(0.50)) / 1e3)
		res.SendLagP99us = ptr(float64(lag.quantile(0.99)) / 1e3)
		res.SendLagMaxUs = ptr(float64(lag.max) / 1e3)
	}
}

// drainEcho waits, after the window, until the loops, writers or
// schedulers have stopped and every message sent has been answered.
func (r *runner) drainEcho(conns []*echoConn, loops *sync.WaitGroup) {
	cfg := r.cfg
	loopsDone := done(loops)
	stopped := func() bool {
		if cfg.inflight > 1 {
			for _, c := range conns {
				if !c.wdone.Load() {
					return false
				}
			}
			return true
		}
		select {
		case <-loopsDone:
			return true
		default:
			return false
		}
	}
	ok := r.await(func() bool {
		if !stopped() {
			return false
		}
		for _, c := range conns {
			if c.count.Load() != c.sent.Load() {
				return false
			}
		}
		return true
	}, cfg.hangTimeout)
	if ok || r.firstErr() != nil {
		return
	}
	n := 0
	for _, c := range conns {
		if c.count.Load() != c.sent.Load() {
			n++
		}
	}
	r.fail(fmt.Errorf("the echoes of the messages in flight at the end of the window did not all come back within %v (%d of %d connections late)", cfg.hangTimeout, n, len(conns)))
}

// dialEcho opens echo connection i and prepares its payload and frame.
func (r *runner) dialEcho(i int) (*echoConn, error) {
	cfg := r.cfg
	rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
	c := &echoConn{id: i, want: make([]byte, cfg.size), got: make([]byte, cfg.size)}
	for j := range c.want {
		c.want[j] = byte(rng.Uint32())
	}
	if cfg.inflight > 1 {
		c.ring = make([]atomic.Int64, cfg.inflight)
		c.sem = make(chan struct{}, cfg.inflight)
	}
	if cfg.rate > 0 {
		period := float64(cfg.conns) * 1e9 / cfg.rate
		c.phi = int64(rng.Float64() * period)
	}
	binary.BigEndian.PutUint32(c.mask[:], rng.Uint32()|1)

	ctx := context.Background()
	if cfg.mode == "tcp" {
		nc, err := r.dialTCP(ctx, i)
		if err != nil {
			return nil, err
		}
		c.nc = nc
		c.frame, c.off = c.want, 0
		return c, nil
	}
	nc, br, err := r.dialWS(ctx, i, bufSizeFor(cfg.size))
	if err != nil {
		return nil, err
	}
	c.nc, c.isWS = nc, true
	c.fr = frameReader{br: br, nc: nc, mask: c.mask}
	c.frame = appendMasked(nil, true, ws.OpBinary, c.want, c.mask)
	c.off = len(c.frame) - cfg.size
	return c, nil
}

// setSeq writes the sequence number into the payload (and the masked
// frame). In tcp mode frame and want are the same slice.
func (c *echoConn) setSeq(seq uint64) {
	if len(c.want) < 8 {
		return
	}
	binary.LittleEndian.PutUint64(c.want, seq)
	if c.isWS {
		patchMasked(c.frame[c.off:], 0, c.want[:8], c.mask)
	}
}

// readEcho reads one echo into c.got: in ws mode a single unmasked binary
// frame of exactly the message size.
func (c *echoConn) readEcho() error {
	if !c.isWS {
		if _, err := io.ReadFull(c.nc, c.got); err != nil {
			return fmt.Errorf("read echo: %w", err)
		}
		return nil
	}
	h, err := c.fr.next()
	if err != nil {
		return err
	}
	if h.op != ws.OpBinary || !h.fin || h.rsv != 0 {
		return fmt.Errorf("protocol: expected one binary frame, got opcode %d fin %v rsv %#x", h.op, h.fin, h.rsv)
	}
	if h.n != int64(len(c.got)) {
		return fmt.Errorf("verify: echo is %d bytes, sent %d", h.n, len(c.got))
	}
	if _, err := io.ReadFull(c.fr.br, c.got); err != nil {
		return fmt.Errorf("read frame payload: %w", err)
	}
	return nil
}

// verify checks the echo in c.got of message seq: its sequence number
// always, the whole payload every -verify-every messages (always when the
// payload is too short for a sequence number).
func (r *runner) verify(c *echoConn, seq uint64) error {
	if len(c.got) < 8 {
		if !bytes.Equal(c.got, c.want) {
			return fmt.Errorf("verify: echo of message %d differs from what was sent", seq)
		}
		return nil
	}
	if got := binary.LittleEndian.Uint64(c.got); got != seq {
		return fmt.Errorf("verify: echo of message %d carries sequence %d", seq, got)
	}
	if seq%r.cfg.verifyEvery == 0 && !bytes.Equal(c.got[8:], c.want[8:]) {
		return fmt.Errorf("verify: echo of message %d differs from what was sent", seq)
	}
	return nil
}

// closedLoop is a connection's closed loop: send, read the echo whole,
// check it. The round trip of every message sent in the window is recorded.
func (r *runner) closedLoop(c *echoConn) error {
	for seq := uint64(1); ; seq++ {
		phase := r.phase.Load()
		if phase == phaseStop {
			return nil
		}
		c.setSeq(seq)
		c.sent.Store(seq)
		t0 := r.mono()
		if _, err := c.nc.Write(c.frame); err != nil {
			return fmt.Errorf("connection %d: write: %w", c.id, err)
		}
		if err := c.readEcho(); err != nil {
			return fmt.Errorf("connection %d: %w", c.id, err)
		}
		if phase == phaseMeasure {
			c.h.record(r.mono() - t0)
		}
		if err := r.verify(c, seq); err != nil {
			return fmt.Errorf("connection %d: %w", c.id, err)
		}
		c.count.Add(1)
	}
}

// pipeWriter sends messages while fewer than -inflight are unanswered.
func (r *runner) pipeWriter(c *echoConn) error {
	defer c.wdone.Store(true)
	k := uint64(len(c.ring))
	for seq := uint64(1); ; seq++ {
		select {
		case c.sem <- struct{}{}:
		case <-r.stop:
			return nil
		}
		phase := r.phase.Load()
		if phase == phaseStop {
			return nil
		}
		c.setSeq(seq)
		t := r.mono()
		if phase != phaseMeasure {
			t = -t
		}
		c.ring[seq%k].Store(t)
		c.sent.Store(seq)
		if _, err := c.nc.Write(c.frame); err != nil {
			return fmt.Errorf("connection %d: write: %w", c.id, err)
		}
	}
}

// nextEcho reads the echo of message seq of a connection whose writer runs
// apart (pipelined, open loop), checks it, and returns when it came.
func (r *runner) nextEcho(c *echoConn, seq uint64) (int64, error) {
	if err := c.readEcho(); err != nil {
		return 0, fmt.Errorf("connection %d: %w", c.id, err)
	}
	now := r.mono()
	if err := r.verify(c, seq); err != nil {
		return 0, fmt.Errorf("connection %d: %w", c.id, err)
	}
	if seq > c.sent.Load() {
		return 0, fmt.Errorf("connection %d: echo of message %d before it was sent", c.id, seq)
	}
	return now, nil
}

// pipeReader reads the echoes in order and frees a slot for each.
func (r *runner) pipeReader(c *echoConn) error {
	k := uint64(len(c.ring))
	for seq := uint64(1); ; seq++ {
		now, err := r.nextEcho(c, seq)
		if err != nil {
			return err
		}
		if t := c.ring[seq%k].Load(); t > 0 {
			c.h.record(now - t)
		}
		c.count.Add(1)
		<-c.sem
	}
}

// startOpenLoop starts the open loop: readers, and schedulers that write
// each connection's messages at their scheduled times. The schedulers are
// counted in loops. It returns the timetable and the schedulers' send-lag
// histograms (read them after shutdown).
func (r *runner) startOpenLoop(conns []*echoConn, loops *sync.WaitGroup) (*schedule, []*hist) {
	cfg := r.cfg
	start := r.mono() + int64(10*time.Millisecond)
	s := &schedule{
		start:    start,
		winStart: start + int64(cfg.warmup),
		winEnd:   start + int64(cfg.warmup+cfg.duration),
		period:   float64(cfg.conns) * 1e9 / cfg.rate,
	}
	for _, c := range conns {
		r.spawn(nil, func() error { return r.openReader(c, s) })
	}
	n := cfg.schedulers
	if n == 0 {
		n = (len(conns) + 63) / 64
	}
	n = min(n, len(conns))
	lags := make([]*hist, n)
	for g := range n {
		var mine []*echoConn
		for i := g; i < len(conns); i += n {
			mine = append(mine, conns[i])
		}
		slices.SortFunc(mine, func(a, b *echoConn) int { return int(a.phi - b.phi) })
		lags[g] = &hist{}
		r.spawn(loops, func() error { return r.scheduler(mine, s, lags[g]) })
	}
	return s, lags
}

// scheduler sends the messages of its connections, sorted by phase, in
// the order of their scheduled times: whatever is due is written at once,
// then it sleeps until the next one is due. It records in lag how late
// each send of the window went out.
func (r *runner) scheduler(mine []*echoConn, s *schedule, lag *hist) error {
	tm := time.NewTimer(time.Hour)
	tm.Stop()
	maxIn := r.cfg.maxInflight
	for round := uint64(1); ; round++ {
		for _, c := range mine {
			t := s.at(c.phi, round)
			if t >= s.winEnd {
				// Sorted by phase: everything after this is later still.
				return nil
			}
			if !r.sleepUntil(tm, t) {
				return nil
			}
			if in := round - 1 - c.count.Load(); in >= maxIn {
				return fmt.Errorf("connection %d: %d messages in flight (-max-inflight %d): the server does not keep up with -rate", c.id, in, maxIn)
			}
			c.setSeq(round)
			c.sent.Store(round)
			if _, err := c.nc.Write(c.frame); err != nil {
				return fmt.Errorf("connection %d: write: %w", c.id, err)
			}
			if t >= s.winStart {
				c.sentWin++
				lag.record(r.mono() - t)
			}
		}
	}
}

// openReader reads a connection's echoes in order and records each
// latency from the message's scheduled send time.
func (r *runner) openReader(c *echoConn, s *schedule) error {
	for seq := uint64(1); ; seq++ {
		now, err := r.nextEcho(c, seq)
		if err != nil {
			return err
		}
		if t := s.at(c.phi, seq); t >= s.winStart && t < s.winEnd {
			c.h.record(now - t)
		}
		c.count.Add(1)
	}
}
