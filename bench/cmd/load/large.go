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
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// largeConn is one connection of the large-message workload.
type largeConn struct {
	id     int
	nc     net.Conn
	fr     frameReader
	wire   []byte // the whole message as masked frames
	seqPos int    // offset of payload byte 0 in wire
	mask   [4]byte
	got    []byte
	h      hist

	_     [64]byte
	count atomic.Uint64 // echoes received
	_     [56]byte
}

// buildWire returns payload as masked client frames: one binary frame, or
// with frag > 0 frames of frag bytes (binary FIN=0, continuations, the last
// FIN=1), and the offset of payload byte 0 in the result.
func buildWire(payload []byte, frag int, mask [4]byte) ([]byte, int) {
	if frag == 0 || frag >= len(payload) {
		wire := appendMasked(nil, true, ws.OpBinary, payload, mask)
		return wire, len(wire) - len(payload)
	}
	wire := make([]byte, 0, len(payload)+(len(payload)/frag+1)*14)
	seqPos := 0
	for off := 0; off < len(payload); off += frag {
		end := min(off+frag, len(payload))
		op := ws.OpContinuation
		if off == 0 {
			op = ws.OpBinary
		}
		wire = appendMasked(wire, end == len(payload), op, payload[off:end], mask)
		if off == 0 {
			seqPos = len(wire) - (end - off)
		}
	}
	return wire, seqPos
}

// runLarge runs the large-message workload: a closed loop of big echoes,
// or with -expect-close one message the server must refuse.
func (r *runner) runLarge(res *result) {
	cfg := r.cfg
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	want := make([]byte, cfg.size)
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	conns := make([]*largeConn, cfg.conns)
	closeAll := closeEach(conns, func(c *largeConn) net.Conn { return c.nc })
	err := r.dialAll(cfg.conns, func(i int) error {
		nc, br, err := r.dialWS(context.Background(), i, 64<<10)
		if err != nil {
			return err
		}
		c := &largeConn{id: i, nc: nc}
		binary.BigEndian.PutUint32(c.mask[:], rand.Uint32()|1)
		c.fr = frameReader{br: br, nc: nc, mask: c.mask}
		c.wire, c.seqPos = buildWire(want, cfg.frag, c.mask)
		if cfg.expectClose == 0 {
			c.got = make([]byte, cfg.size)
		}
		conns[i] = c
		return nil
	})
	res.Frag = ptr(cfg.frag)
	if !r.readyAfterDial(err, closeAll) {
		return
	}
	if cfg.expectClose > 0 {
		res.ExpectClose = ptr(cfg.expectClose)
		codes, secs := r.expectClose(conns)
		r.shutdown(closeAll) // the goroutines that wrote codes are done
		res.Seconds = secs
		for _, code := range codes {
			if code != 0 {
				res.CloseCode = ptr(code)
				break
			}
		}
		return
	}

	t := &tally{}
	for _, c := range conns {
		t.counters = append(t.counters, &c.count)
	}
	var loops sync.WaitGroup
	for _, c := range conns {
		r.spawn(&loops, func() error { return r.largeLoop(c, want) })
	}
	secs, ok := r.window(time.Now().Add(cfg.warmup), t.total, t.start, t.end)
	if ok {
		res.Seconds = secs
		t.fill(res)
		res.MsgPerS = float64(res.Messages) / secs
		res.MBPerS = ptr(float64(res.Messages) * float64(cfg.size) / secs / 1e6)
		select {
		case <-done(&loops):
		case <-r.failed:
		case <-time.After(cfg.hangTimeout):
			r.fail(fmt.Errorf("the echoes of the messages in flight at the end of the window did not all come back within %v", cfg.hangTimeout))
		}
	}
	r.shutdown(closeAll)
	if !r.histOK {
		return
	}
	fillLatency(res, conns, func(c *largeConn) *hist { return &c.h })
}

// largeLoop is a connection's closed loop of large messages. The message
// is written by another goroutine while the echo is read, so that a server
// that echoes before it has read everything cannot deadlock the two.
func (r *runner) largeLoop(c *largeConn, want []byte) error {
	werr := make(chan error, 1)
	var seqb [8]byte
	for seq := uint64(1); ; seq++ {
		phase := r.phase.Load()
		if phase == phaseStop {
			return nil
		}
		binary.LittleEndian.PutUint64(seqb[:], seq)
		patchMasked(c.wire[c.seqPos:], 0, seqb[:], c.mask)
		t0 := r.mono()
		go func() {
			_, err := c.nc.Write(c.wire)
			werr <- err
		}()
		if err := c.readMessage(); err != nil {
			return fmt.Errorf("connection %d: message %d: %w", c.id, seq, err)
		}
		if err := <-werr; err != nil {
			return fmt.Errorf("connection %d: write: %w", c.id, err)
		}
		if phase == phaseMeasure {
			c.h.record(r.mono() - t0)
		}
		if got := binary.LittleEndian.Uint64(c.got); got != seq {
			return fmt.Errorf("connection %d: verify: echo of message %d carries sequence %d", c.id, seq, got)
		}
		if !bytes.Equal(c.got[8:], want[8:]) {
			return fmt.Errorf("connection %d: verify: echo of message %d differs from what was sent", c.id, seq)
		}
		c.count.Add(1)
	}
}

// readMessage reads one echoed message into c.got, reassembling its
// frames: a binary frame, then continuations up to FIN.
func (c *largeConn) readMessage() error {
	n := 0
	for first := true; ; first = false {
		h, err := c.fr.next()
		if err != nil {
			return err
		}
		if first && h.op != ws.OpBinary || !first && h.op != ws.OpContinuation || h.rsv != 0 {
			return fmt.Errorf("protocol: frame with opcode %d rsv %#x (first frame of the message: %v)", h.op, h.rsv, first)
		}
		if int64(n)+h.n > int64(len(c.got)) {
			return fmt.Errorf("verify: echo is longer than the %d bytes sent", len(c.got))
		}
		if _, err := io.ReadFull(c.fr.br, c.got[n:n+int(h.n)]); err != nil {
			return fmt.Errorf("read frame payload: %w", err)
		}
		n += int(h.n)
		if h.fin {
			break
		}
	}
	if n != len(c.got) {
		return fmt.Errorf("verify: echo is %d bytes, sent %d", n, len(c.got))
	}
	return nil
}

// expectClose sends one message per connection and expects a close frame
// with code -expect-close in answer. It returns the code each connection
// received (read them after shutdown) and the length of the exchange in
// seconds.
func (r *runner) expectClose(conns []*largeConn) ([]int, float64) {
	cfg := r.cfg
	codes := make([]int, len(conns))
	t0 := time.Now()
	r.phase.Store(phaseMeasure)
	r.logf("load: window start")
	var wg sync.WaitGroup
	for i, c := range conns {
		r.spawn(&wg, func() error {
			_ = c.nc.SetReadDeadline(time.Now().Add(cfg.hangTimeout))
			// The server may stop reading once it has seen the length:
			// write errors are expected.
			go func() { _, _ = c.nc.Write(c.wire) }()
			h, err := c.fr.next()
			var ce *closeError
			switch {
			case errors.As(err, &ce):
				codes[i] = ce.code
				if ce.code != cfg.expectClose {
					return fmt.Errorf("connection %d: %w, expected code %d", c.id, err, cfg.expectClose)
				}
				return nil
			case err != nil:
				return fmt.Errorf("connection %d: no close frame %d: %w", c.id, cfg.expectClose, err)
			default:
				return fmt.Errorf("connection %d: the server answered a data frame (opcode %d, %d bytes) instead of a close %d", c.id, h.op, h.n, cfg.expectClose)
			}
		})
	}
	select {
	case <-done(&wg):
	case <-r.failed:
	}
	r.phase.Store(phaseStop)
	r.logf("load: window end")
	return codes, time.Since(t0).Seconds()
}
