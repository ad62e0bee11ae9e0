package container

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/wsc-dev/wsc/endpoint"
)

// The send path.
//
// Every frame of a session goes through outbound, under its mutex, so frames
// never interleave and leave in the order they were sent. While none of the
// session's bytes are queued in gnet ("direct" mode) the sender writes the
// frame straight to the socket from its own goroutine: no hop to the event
// loop and no allocation. When the socket does not take the whole frame,
// the rest is handed to gnet with AsyncWrite and the session stays in queued
// mode, where every later frame is queued behind it, until gnet reports
// that its outbound buffer for the connection is empty again.
//
// queued = bytes in AsyncWrite tasks not yet run + gnet's outbound buffer at
// the last look. A frame that would push queued past MaxPendingOutboundBytes
// waits in a FIFO (a message bigger than the bound goes when nothing else is
// queued). A Basic sender waits up to BlockingSendTimeout and an Async send
// up to AsyncSendTimeout; then the session is closed, because a peer that
// does not read cannot be buffered for forever. Async sends beyond a second
// MaxPendingOutboundBytes of waiting frames fail at once and close the
// session in the same way.
//
// Broadcasts and corked turns stage frames in the FIFO for one writev later
// (see fanout.go).
//
// Writing to the file descriptor outside gnet is safe because OnClose, which
// gnet calls before it closes the descriptor, takes the same mutex and marks
// the session closed: no write can reach a descriptor number reused by
// another connection.

// wframe is one encoded frame ready to write.
type wframe struct {
	b          []byte       // bytes still to write
	own        *[]byte      // pooled buffer holding b, released when written
	shared     *sharedFrame // shared buffer holding b, released when written
	closeAfter bool         // close TCP once this frame and all before it are written
}

func (w *wframe) release() {
	putBuf(w.own)
	if w.shared != nil {
		w.shared.release()
	}
	w.own, w.shared = nil, nil
}

// sharedFrame is a frame encoded once for many sessions (broadcast).
type sharedFrame struct {
	buf  *[]byte
	refs atomic.Int32
}

func (f *sharedFrame) release() {
	if f.refs.Add(-1) == 0 {
		putBuf(f.buf)
		f.buf = nil
		sharedFrames.Put(f)
	}
}

// sharedFrames recycles sharedFrame headers, so that a broadcast allocates
// nothing in steady state. The last release holds the only reference.
var sharedFrames = sync.Pool{New: func() any { return new(sharedFrame) }}

// sendOp is a frame that could not be written at once: waiting for room in
// the FIFO, or in flight in a gnet AsyncWrite task.
type sendOp struct {
	s        *session
	w        wframe
	n        int
	done     endpoint.SendHandler // Async completion, or nil
	wait     chan error           // Basic waiter, or nil
	deadline time.Time            // for Async ops in the FIFO
	inflight bool
	pooled   bool // from sendOps, back there once finished
}

// finish releases op's frame and returns what its sender waits for. op must
// not be used afterwards: it may be recycled.
func (op *sendOp) finish() (done endpoint.SendHandler, wait chan error, closeAfter bool) {
	w := op.w
	done, wait, closeAfter = op.done, op.wait, w.closeAfter
	if op.pooled {
		putSendOp(op)
	}
	w.release()
	return done, wait, closeAfter
}

// outbound is a session's send state; see the comment at the top of the file.
type outbound struct {
	mu         sync.Mutex
	direct     bool // nothing of ours is queued in gnet
	closeSent  bool // a close frame was queued: nothing else follows it
	closed     bool // TCP closed: every send fails
	closeDrain bool // close TCP once everything is written
	polling    bool
	streaming  bool       // a large Basic send is being written (see stream.go)
	stage      stageState // the FIFO holds staged frames (see fanout.go)
	// pollShift is the poll delay, 1 ms << (pollShift-1); 0: not backing off.
	pollShift uint8
	inflight  int // bytes in AsyncWrite tasks not yet run
	backlog   int // gnet's OutboundBuffered at the last look
	// fifo holds the frames waiting to be written, allocated the first
	// time one waits; fifoBytes is their fifoCost, so it is zero exactly
	// when none waits, which the direct path tests without loading fifo.
	fifo      *sendFIFO
	fifoBytes int
	// The session's outgoing data messages and their payload bytes, here
	// on the line every send locks anyway. Atomic: statistics read them
	// without the lock.
	msgs, bytes atomic.Uint64
}

// sendFIFO is an outbound's queue of waiting frames.
type sendFIFO struct{ ops []*sendOp }

// ops returns the waiting frames. o.mu must be held.
func (o *outbound) ops() []*sendOp {
	if o.fifo == nil {
		return nil
	}
	return o.fifo.ops
}

// setOps replaces the waiting frames with ops, whose fifoCost the caller
// has accounted for in fifoBytes. o.mu must be held.
func (o *outbound) setOps(ops []*sendOp) {
	if o.fifo == nil {
		if ops == nil {
			return
		}
		o.fifo = new(sendFIFO)
	}
	o.fifo.ops = ops
}

// push appends op to the waiting frames. o.mu must be held.
func (o *outbound) push(op *sendOp) {
	if o.fifo == nil {
		o.fifo = new(sendFIFO)
	}
	o.fifo.ops = append(o.fifo.ops, op)
	o.fifoBytes += fifoCost(op.n)
}

// waiting reports whether frames wait in the FIFO. o.mu must be held.
func (o *outbound) waiting() bool { return o.fifoBytes != 0 }

// checkFIFO panics when fifoBytes is not what the FIFO's frames cost, which
// waiting relies on. Only race-enabled builds (the tests) check. o.mu must
// be held.
func (o *outbound) checkFIFO() {
	if !checkInvariants {
		return
	}
	sum := 0
	for _, op := range o.ops() {
		sum += fifoCost(op.n)
	}
	if sum != o.fifoBytes {
		panic(fmt.Sprintf("container: outbound.fifoBytes is %d, its %d frames cost %d", o.fifoBytes, len(o.ops()), sum))
	}
}

// sendOpCost is what a frame waiting in the FIFO costs on top of its bytes
// (its sendOp and slot), so that a FIFO of tiny frames is bounded too.
const sendOpCost = 128

// fifoCost is what a frame of n bytes counts in outbound.fifoBytes.
func fifoCost(n int) int { return n + sendOpCost }

func (o *outbound) queued() int { return o.inflight + o.backlog }

// isClosing reports whether no more data frames may be sent.
func (o *outbound) isClosing() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closed || o.closeSent
}

// sendPolicy says what a sender does when the session's queue is full.
type sendPolicy uint8

const (
	policyBasic   sendPolicy = iota // wait, up to the blocking send timeout
	policyAsync                     // queue with a deadline; never wait
	policyControl                   // never wait, never fail for room (pong, close)
)

// transmit writes or queues w. For policyBasic it returns after the frame
// was written or queued within the bound, or with the send error; for
// policyAsync, done (if not nil) is called once with the result.
func (s *session) transmit(w wframe, isClose bool, policy sendPolicy, done endpoint.SendHandler) error {
	o := &s.out
	n := len(w.b)
	o.mu.Lock()
	for o.stage == stageWaiting && !o.closed && policy != policyControl && o.fifoBytes+fifoCost(n) > s.settings().MaxPendingOutboundBytes {
		// The loop has fallen behind on the staged frames: write them
		// from here, as for a broadcaster (see stage).
		o.mu.Unlock()
		s.flushStagedHere()
		o.mu.Lock()
	}
	if o.closed || o.closeSent {
		o.mu.Unlock()
		w.release()
		if done != nil {
			done(endpoint.ErrSessionClosed)
		}
		return endpoint.ErrSessionClosed
	}
	if isClose {
		o.closeSent = true
	}
	s.touch()
	fits := !o.waiting() && !o.streaming && (policy == policyControl || o.queued() == 0 || o.queued()+n <= s.settings().MaxPendingOutboundBytes)
	if fits && o.direct && policy != policyControl && s.has(flagCorked) {
		first := s.stageLocked(newSendOp(s, w, done))
		o.mu.Unlock()
		// The executor flushes at the end of its turn, with the loop's
		// flusher as the safety net for a callback that blocks; an inline
		// endpoint's loop flushes after the read and needs none.
		if first && !s.inlineOnLoop() {
			s.cont.flusherFor(s.c.EventLoop()).add(s)
		}
		return nil
	}
	if fits {
		completed, err := s.writeLocked(w, done)
		o.mu.Unlock()
		if completed && done != nil {
			done(err)
		}
		return err
	}
	if o.stage != stageNone {
		// Behind the staged frames, which the loop writes soon.
		o.push(newSendOp(s, w, done))
		o.mu.Unlock()
		return nil
	}
	if policy == policyBasic && s.inlineOnLoop() {
		policy = policyAsync // the event loop must never wait for itself
	}
	op := &sendOp{s: s, w: w, n: n, done: done}
	switch policy {
	case policyAsync:
		if o.waiting() && o.fifoBytes+fifoCost(n) > s.settings().MaxPendingOutboundBytes {
			o.mu.Unlock()
			w.release()
			s.abort("send queue full")
			if done != nil {
				done(endpoint.ErrSendQueueFull)
			}
			return endpoint.ErrSendQueueFull
		}
		op.deadline = time.Now().Add(s.settings().AsyncSendTimeout)
	case policyBasic:
		op.wait = make(chan error, 1)
	}
	o.push(op)
	s.ensurePollLocked()
	wait := op.wait // op belongs to the loop once the lock is released
	o.mu.Unlock()
	if wait == nil {
		return nil
	}
	t := time.NewTimer(s.settings().BlockingSendTimeout)
	defer t.Stop()
	select {
	case err := <-wait:
		return err
	case <-t.C:
		s.abort("blocking send timed out")
		return endpoint.ErrSendTimeout
	}
}

// writeLocked writes w now: straight to the socket in direct mode, else
// through gnet. It reports whether the write already completed (then the
// caller reports err to the sender, outside the lock); otherwise done goes
// with the frame and is called when gnet has written it. o.mu must be held.
func (s *session) writeLocked(w wframe, done endpoint.SendHandler) (completed bool, err error) {
	o := &s.out
	if o.direct {
		n, err := writeFD(int(s.fd), w.b)
		if err != nil {
			w.release()
			o.closed = true
			_ = s.c.Close()
			return true, endpoint.ErrSessionClosed
		}
		if n == len(w.b) {
			closeAfter := w.closeAfter
			w.release()
			if closeAfter {
				_ = s.c.Close()
			}
			return true, nil
		}
		w.b = w.b[n:]
		o.direct = false
	}
	s.asyncLocked(&sendOp{s: s, w: w, n: len(w.b), done: done})
	return false, nil
}

// asyncLocked hands op to gnet. o.mu must be held.
func (s *session) asyncLocked(op *sendOp) {
	o := &s.out
	op.inflight = true
	o.inflight += op.n
	if err := s.c.AsyncWrite(op.w.b, op.written); err != nil {
		o.inflight -= op.n
		if done, _, _ := op.finish(); done != nil {
			go done(endpoint.ErrSessionClosed)
		}
	}
}

// written is the AsyncWrite callback; it runs on the event loop.
func (op *sendOp) written(_ gnet.Conn, err error) error {
	s := op.s
	o := &s.out
	o.mu.Lock()
	o.inflight -= op.n
	done, _, closeAfter := op.finish()
	var ready []*sendOp
	if err == nil && !o.closed {
		o.backlog = s.c.OutboundBuffered()
		if closeAfter {
			o.closeDrain = true
		}
		ready = s.progressLocked()
	}
	o.mu.Unlock()
	notify(ready)
	if done != nil {
		if err != nil {
			err = endpoint.ErrSessionClosed
		}
		done(err)
	}
	return nil
}

// progressLocked moves waiting frames to gnet while they fit, returns to
// direct mode when everything has been written, and keeps polling gnet's
// buffer while it holds bytes of ours. It returns the Basic waiters to
// release (outside the lock). o.mu must be held; it runs on the event loop.
func (s *session) progressLocked() []*sendOp {
	o := &s.out
	if o.streaming {
		return nil // the streaming sender moves the FIFO on when it is done
	}
	o.stage = stageNone // the FIFO goes through gnet from now on
	var ready []*sendOp
	max := s.settings().MaxPendingOutboundBytes
	fifo := o.ops()
	for len(fifo) > 0 {
		op := fifo[0]
		if o.queued() > 0 && o.queued()+op.n > max {
			break
		}
		fifo[0] = nil
		fifo = fifo[1:]
		o.fifoBytes -= fifoCost(op.n)
		wait := op.wait
		op.wait = nil
		s.asyncLocked(op)
		if wait != nil {
			ready = append(ready, &sendOp{wait: wait})
		}
	}
	if len(fifo) == 0 {
		fifo = nil // do not keep a burst's storage
	}
	o.setOps(fifo)
	o.checkFIFO()
	if o.queued() == 0 && !o.waiting() {
		o.direct = true
		o.pollShift = 0
		if o.closeDrain {
			_ = s.c.Close()
		}
		return ready
	}
	if o.backlog > 0 || o.waiting() {
		s.ensurePollLocked()
	}
	return ready
}

func notify(ready []*sendOp) {
	for _, op := range ready {
		op.wait <- nil
	}
}

// maxPollShift caps the poll back-off at 1 ms << 7 = 128 ms.
const maxPollShift = 8

// ensurePollLocked arms the timer that looks at gnet's outbound buffer:
// gnet does not tell when it has drained. The delay backs off from 1 ms to
// 128 ms while the peer stays slow. o.mu must be held.
func (s *session) ensurePollLocked() {
	o := &s.out
	if o.polling || o.closed {
		return
	}
	o.polling = true
	if o.pollShift < maxPollShift {
		o.pollShift++
	}
	time.AfterFunc(time.Millisecond<<(o.pollShift-1), s.poll)
}

func (s *session) poll() {
	err := s.c.EventLoop().Execute(context.Background(), gnet.RunnableFunc(s.pollOnLoop))
	if err != nil {
		s.out.mu.Lock()
		s.out.polling = false
		s.out.mu.Unlock()
	}
}

// pollOnLoop refreshes the backlog and expires Async sends that waited too
// long. It runs on the event loop.
func (s *session) pollOnLoop(context.Context) error {
	o := &s.out
	o.mu.Lock()
	o.polling = false
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.backlog = s.c.OutboundBuffered()
	// Async sends past their deadline fail with ErrSendTimeout; the
	// session then closes, failing the rest with ErrSessionClosed.
	var expired []*sendOp
	now := time.Now()
	for _, op := range o.ops() {
		if !op.deadline.IsZero() && now.After(op.deadline) {
			expired = append(expired, op)
		}
	}
	var ready []*sendOp
	if len(expired) > 0 {
		kept := o.ops()[:0]
		for _, op := range o.ops() {
			if op.deadline.IsZero() || !now.After(op.deadline) {
				kept = append(kept, op)
			} else {
				o.fifoBytes -= fifoCost(op.n)
			}
		}
		clear(o.ops()[len(kept):])
		o.setOps(kept)
		o.checkFIFO()
	} else {
		ready = s.progressLocked()
	}
	o.mu.Unlock()
	notify(ready)
	if len(expired) > 0 {
		for _, op := range expired {
			if done, _, _ := op.finish(); done != nil {
				done(endpoint.ErrSendTimeout)
			}
		}
		s.abort("async send timed out")
	}
	return nil
}

// closeOutbound marks the session closed for sending and fails every
// waiting frame. It runs in gnet's OnClose, before the descriptor is closed.
func (s *session) closeOutbound() {
	o := &s.out
	o.mu.Lock()
	o.closed = true
	o.checkFIFO()
	fifo := o.ops()
	o.fifo, o.fifoBytes = nil, 0
	o.mu.Unlock()
	for _, op := range fifo {
		done, wait, _ := op.finish()
		if wait != nil {
			wait <- endpoint.ErrSessionClosed
		}
		if done != nil {
			done(endpoint.ErrSessionClosed)
		}
	}
}

// abort closes the TCP connection of a session whose peer does not read:
// no close frame can get through. OnClose reports 1006 with why.
func (s *session) abort(why string) {
	s.out.mu.Lock()
	if s.closeReason == nil {
		s.closeReason = &endpoint.CloseReason{Code: endpoint.CloseClosedAbnormally, Reason: why}
	}
	s.out.mu.Unlock()
	s.cont.log.Debug("session aborted", "session", s.ID(), "why", why)
	_ = s.c.Close()
}

// writeFD writes b to a non-blocking socket. It returns how much was
// written; EAGAIN is not an error.
func writeFD(fd int, b []byte) (int, error) {
	written := 0
	for written < len(b) {
		n, err := rawWrite(fd, b[written:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return written, nil
		case err != nil:
			return written, err
		}
		written += n
	}
	return written, nil
}

// encodeFrame builds a frame for payload in a pooled buffer, compressing a
// data message when permessage-deflate is in force.
func (s *session) encodeFrame(op ws.OpCode, payload []byte) wframe {
	if s.has(flagDeflate) && op.IsData() && len(payload) >= minCompressBytes {
		if w, ok := s.deflate.compress(op, payload); ok {
			return w
		}
	}
	fb := getBuf(headerLen(len(payload)) + len(payload))
	*fb = appendHeader(*fb, op, true, false, len(payload))
	*fb = append(*fb, payload...)
	return wframe{b: *fb, own: fb}
}

// encodeFrameString is encodeFrame for a string payload, without converting it.
func (s *session) encodeFrameString(op ws.OpCode, payload string) wframe {
	if s.has(flagDeflate) && len(payload) >= minCompressBytes {
		return s.encodeFrame(op, []byte(payload))
	}
	fb := getBuf(headerLen(len(payload)) + len(payload))
	*fb = appendHeader(*fb, op, true, false, len(payload))
	*fb = append(*fb, payload...)
	return wframe{b: *fb, own: fb}
}

func (s *session) sendData(op ws.OpCode, payload []byte, policy sendPolicy, done endpoint.SendHandler) error {
	if op == ws.OpText && !utf8.Valid(payload) {
		if done != nil {
			done(endpoint.ErrInvalidUTF8)
		}
		return endpoint.ErrInvalidUTF8
	}
	s.countOut(len(payload))
	if policy == policyBasic && s.canStream(len(payload)) {
		return s.stream(op, payload)
	}
	return s.sendBatched(s.encodeFrame(op, payload), policy, done)
}

// countOut counts a data message handed to the send path.
func (s *session) countOut(n int) {
	s.out.msgs.Add(1)
	s.out.bytes.Add(uint64(n))
}

func (s *session) sendControl(op ws.OpCode, payload []byte, policy sendPolicy) error {
	if len(payload) > 125 {
		return endpoint.ErrControlTooLong
	}
	return s.transmit(s.encodeFrame(op, payload), false, policy, nil)
}

// sendClose queues a close frame and records r for OnClose. It returns
// false when a close frame was already sent or the connection is closed.
func (s *session) sendClose(payload []byte, r endpoint.CloseReason, closeAfter bool) bool {
	s.out.mu.Lock()
	if s.out.closeSent || s.out.closed {
		s.out.mu.Unlock()
		return false
	}
	if s.closeReason == nil {
		s.closeReason = &r
	}
	s.out.mu.Unlock()
	s.state.CompareAndSwap(uint32(stateOpen), uint32(stateClosing))
	w := s.encodeFrame(ws.OpClose, payload)
	w.closeAfter = closeAfter
	if s.transmit(w, true, policyControl, nil) != nil {
		return false
	}
	time.AfterFunc(s.cont.cfg.CloseTimeout, func() { _ = s.c.Close() })
	return true
}

// basicRemote is the endpoint.Basic of a session.
type basicRemote struct{ *session }

// SendText implements endpoint.Basic.
func (r basicRemote) SendText(text string) error {
	if !utf8.ValidString(text) {
		return endpoint.ErrInvalidUTF8
	}
	r.session.countOut(len(text))
	return r.session.sendBatched(r.session.encodeFrameString(ws.OpText, text), policyBasic, nil)
}
func (r basicRemote) SendTextBytes(text []byte) error {
	return r.session.sendData(ws.OpText, text, policyBasic, nil)
}
func (r basicRemote) SendBinary(data []byte) error {
	return r.session.sendData(ws.OpBinary, data, policyBasic, nil)
}
func (r basicRemote) SendPing(data []byte) error {
	return r.session.sendControl(ws.OpPing, data, policyBasic)
}
func (r basicRemote) SendPong(data []byte) error {
	return r.session.sendControl(ws.OpPong, data, policyBasic)
}

// asyncRemote is the endpoint.Async of a session.
type asyncRemote struct{ *session }

func (r asyncRemote) SendText(text string, h endpoint.SendHandler) {
	if !utf8.ValidString(text) {
		if h != nil {
			h(endpoint.ErrInvalidUTF8)
		}
		return
	}
	r.session.countOut(len(text))
	_ = r.session.sendBatched(r.session.encodeFrameString(ws.OpText, text), policyAsync, h)
}
func (r asyncRemote) SendBinary(data []byte, h endpoint.SendHandler) {
	_ = r.session.sendData(ws.OpBinary, data, policyAsync, h)
}
func (r asyncRemote) SendTextFuture(text string) <-chan error {
	ch := make(chan error, 1)
	r.SendText(text, func(err error) { ch <- err; close(ch) })
	return ch
}
func (r asyncRemote) SendBinaryFuture(data []byte) <-chan error {
	ch := make(chan error, 1)
	r.SendBinary(data, func(err error) { ch <- err; close(ch) })
	return ch
}

// Broadcast implements endpoint.Broadcaster: the frame is encoded once and
// the same bytes are queued on every open session of this container that
// did not negotiate compression (those get their own compressed frame).
// From fanoutMin sessions on, the subscribers' event loops write it (see
// fanout.go); to fewer, the caller does.
func (s *session) Broadcast(to []endpoint.Session, typ endpoint.MessageType, data []byte) int {
	op := opFor(typ)
	if op == ws.OpText && !utf8.Valid(data) {
		return 0
	}
	var (
		shared      *sharedFrame
		lastLoop    gnet.EventLoop
		lastFlusher *loopFlusher
	)
	n := 0
	for _, e := range to {
		t, ok := e.(*session)
		if !ok {
			if e.IsOpen() {
				if typ == endpoint.Text {
					e.Async().SendText(string(data), nil)
				} else {
					e.Async().SendBinary(data, nil)
				}
				n++
			}
			continue
		}
		if t.getState() != stateOpen {
			continue
		}
		t.countOut(len(data))
		if t.deflate != nil {
			if t.transmit(t.encodeFrame(op, data), false, policyAsync, nil) == nil {
				n++
			}
			continue
		}
		if shared == nil {
			fb := getBuf(headerLen(len(data)) + len(data))
			*fb = appendHeader(*fb, op, true, false, len(data))
			*fb = append(*fb, data...)
			shared = sharedFrames.Get().(*sharedFrame)
			shared.buf = fb
			shared.refs.Store(1) // ours, dropped below
		}
		shared.refs.Add(1)
		w := wframe{b: *shared.buf, shared: shared}
		if len(to) < fanoutMin {
			if t.transmit(w, false, policyAsync, nil) == nil {
				n++
			}
			continue
		}
		ok, first := t.stage(w)
		if ok {
			n++
		}
		if first {
			if loop := t.c.EventLoop(); loop != lastLoop {
				lastLoop, lastFlusher = loop, t.cont.flusherFor(loop)
			}
			lastFlusher.add(t)
		}
	}
	if shared != nil {
		shared.release()
	}
	return n
}

var (
	_ endpoint.Basic       = basicRemote{}
	_ endpoint.Async       = asyncRemote{}
	_ endpoint.Broadcaster = (*session)(nil)
)
