package container

import (
	"fmt"
	"net/http"
	"runtime/debug"

	"github.com/wsc-dev/wsc/endpoint"
)

// Dispatch: the event loop turns frames into events and appends them to the
// session's mailbox; the web context's executor runs the session, which
// delivers the events to the endpoint one at a time. A session is queued on
// the executor at most once (scheduled), so its callbacks never overlap and
// keep frame order; evOpen is always first and evClose always last.

type eventKind uint8

const (
	evOpen eventKind = iota
	evText
	evBinary
	evTextPart   // part of a text message for a partial handler; last marks the end
	evBinaryPart // part of a binary message for a partial handler
	evPong
	evError     // err is delivered to OnError
	evHTTP      // a plain HTTP request for the context's handler
	evHandshake // a handshake for an endpoint with a Configurator
	evClose     // the final event: OnClose, then the session is released
)

type event struct {
	kind eventKind
	buf  *[]byte // message bytes, pooled, released after the callback
	err  error
	req  *http.Request // evHTTP
	last bool          // evTextPart, evBinaryPart
}

// eventCost is what an event counts in its mailbox's size on top of its
// bytes, so that a flood of empty messages fills the mailbox too.
const eventCost = 64

// cost is what ev counts in its mailbox's size.
func (ev *event) cost() uint32 {
	return uint32(len(ev.bytes())) + eventCost
}

// compact reports whether ev is only a kind and bytes, and so can wait in
// the session's own line (see session.oneBuf).
func (ev *event) compact() bool {
	return ev.err == nil && ev.req == nil && !ev.last
}

// mailQueue holds the mailbox's events behind its first one: the last
// session.mbQueued of evs wait, the ones before them were taken.
type mailQueue struct {
	evs []event
}

// maxKeptQueue is the most events a mailbox's queue keeps room for once
// empty: a burst's storage is not kept for the session's lifetime.
const maxKeptQueue = 16

// mailboxEmpty reports whether no event waits. s.mbMu must be held.
func (s *session) mailboxEmpty() bool { return !s.hasOne && s.mbQueued == 0 }

// enqueue appends ev to the mailbox. s.mbMu must be held.
func (s *session) enqueue(ev event) {
	if s.mailboxEmpty() && ev.compact() {
		s.hasOne, s.oneKind, s.oneBuf = true, ev.kind, ev.buf
		return
	}
	if s.mbq == nil {
		s.mbq = new(mailQueue)
	}
	s.mbq.evs = append(s.mbq.evs, ev)
	s.mbQueued++
}

// dequeue takes the mailbox's first event. s.mbMu must be held.
func (s *session) dequeue() (ev event, ok bool) {
	if s.hasOne {
		ev = event{kind: s.oneKind, buf: s.oneBuf}
		s.hasOne, s.oneBuf = false, nil
		return ev, true
	}
	if s.mbQueued == 0 {
		return event{}, false
	}
	q := s.mbq
	head := len(q.evs) - int(s.mbQueued)
	ev = q.evs[head]
	q.evs[head] = event{}
	if s.mbQueued--; s.mbQueued == 0 {
		if cap(q.evs) > maxKeptQueue {
			q.evs = nil
		} else {
			q.evs = q.evs[:0]
		}
	}
	return ev, true
}

// dropMailbox forgets the mailbox's storage; it must be empty. s.mbMu
// must be held.
func (s *session) dropMailbox() {
	s.hasOne, s.oneBuf, s.mbq, s.mbQueued = false, nil, nil, 0
}

func (ev *event) bytes() []byte {
	if ev.buf == nil {
		return nil
	}
	return *ev.buf
}

// post appends ev to the mailbox and schedules the session. It returns false
// when the executor is overloaded: the caller then closes the session with
// 1013. Posting never blocks.
func (s *session) post(ev event) bool {
	ok, _ := s.postPending(ev)
	return ok
}

// postPending is post that also returns the bytes then waiting in the
// mailbox, so the decoder need not take the lock again to check the bound.
func (s *session) postPending(ev event) (ok bool, pending int) {
	s.mbMu.Lock()
	if s.closeQd {
		s.mbMu.Unlock()
		putBuf(ev.buf)
		return true, 0
	}
	if ev.kind == evText || ev.kind == evBinary {
		if now, onLoop := s.deliverNowLocked(); now {
			s.deliver(&ev)
			putBuf(ev.buf)
			if onLoop {
				s.run() // what the callback posted meanwhile (an error, the close), and unschedules
			}
			return true, 0
		}
	}
	s.enqueue(ev)
	s.mbBytes += ev.cost()
	pending = int(s.mbBytes)
	if ev.kind == evClose {
		s.closeQd = true
	}
	schedule := !s.scheduled
	s.scheduled = true
	s.mbMu.Unlock()
	if !schedule {
		return true, pending
	}
	if s.inlineOnLoop() {
		// An inline endpoint: deliver now, on the event loop.
		s.run()
		return true, 0
	}
	if ev.kind == evClose {
		s.ctx.exec.submitMust(s)
		return true, pending
	}
	if s.ctx.exec.submit(s) {
		return true, pending
	}
	s.mbMu.Lock()
	s.scheduled = false
	s.mbMu.Unlock()
	return false, pending
}

// deliverNowLocked reports whether a message posted now is delivered at
// once by the poster, without a trip through the mailbox: nothing is
// pending, and the session's own turn is decoding (see readSock), or an
// inline endpoint's loop is (onLoop: the session is then scheduled, and
// the poster runs it after the delivery, for what the callback posted; its
// mailbox is never allocated). s.mbMu must be held; it is released when
// now is true.
func (s *session) deliverNowLocked() (now, onLoop bool) {
	if !s.mailboxEmpty() {
		return false, false
	}
	if s.has(flagReading) {
		s.mbMu.Unlock()
		return true, false
	}
	if !s.scheduled && s.inlineOnLoop() {
		s.scheduled = true
		s.mbMu.Unlock()
		return true, true
	}
	return false, false
}

// postWhole posts a message whose bytes p belong to the caller's read
// buffer. Delivered at once (see deliverNowLocked), the endpoint gets p
// itself, valid until its handler returns; otherwise p is copied into a
// message buffer and posted.
func (s *session) postWhole(kind eventKind, p []byte) (ok bool, pending int) {
	s.mbMu.Lock()
	if s.closeQd {
		s.mbMu.Unlock()
		return true, 0
	}
	if now, onLoop := s.deliverNowLocked(); now {
		s.deliverMessage(kind, p)
		if onLoop {
			s.run()
		}
		return true, 0
	}
	s.mbMu.Unlock()
	b := getBuf(len(p))
	*b = append(*b, p...)
	return s.postPending(event{kind: kind, buf: b})
}

// pendingInbound returns the bytes of messages waiting in the mailbox.
func (s *session) pendingInbound() int {
	s.mbMu.Lock()
	defer s.mbMu.Unlock()
	return int(s.mbBytes)
}

// maxBatch bounds the events one executor turn delivers before the session
// goes to the back of the queue, so one busy session cannot hog a worker.
const maxBatch = 64

// run delivers the session's pending events, and for a session on a sock
// reads the socket when they are delivered, decoding the messages into the
// mailbox to be delivered in the same turn. It is called by an executor
// worker; never twice at once for one session.
func (s *session) run() {
	last := evClose // the kind of the last event delivered
	corked, wasCorked := false, false
	defer func() {
		// Sends staged while corked leave now, with one writev.
		if corked {
			s.clearFlag(flagCorked)
		}
		if wasCorked {
			s.flushStagedHere()
		}
	}()
	for i := 0; i < maxBatch; i++ {
		s.mbMu.Lock()
		ev, ok := s.dequeue()
		if !ok && s.readHere() {
			continue
		}
		if !ok {
			if last == evOpen {
				// A session that only opened may stay idle for hours:
				// it holds no mailbox storage.
				s.dropMailbox()
			}
			s.scheduled = false
			s.mbMu.Unlock()
			s.maybeResume()
			return
		}
		s.mbBytes -= ev.cost()
		more := !s.mailboxEmpty() && !s.has(flagInline)
		s.mbMu.Unlock()
		if more != corked {
			// With more events behind this one, its sends are staged
			// (corked) rather than written one system call each.
			if corked = more; more {
				s.setFlag(flagCorked)
				wasCorked = true
			} else {
				s.clearFlag(flagCorked)
			}
		}
		s.deliver(&ev)
		putBuf(ev.buf)
		last = ev.kind
		if ev.kind == evClose {
			s.mbMu.Lock()
			s.dropMailbox()
			s.scheduled = false
			s.mbMu.Unlock()
			return
		}
	}
	s.maybeResume()
	s.ctx.exec.submitMust(s)
}

// readHere reads the session's sock in its turn, when it has bytes to
// decode. s.mbMu is held; it reports true when it released it to read
// (the caller then looks at the mailbox again). The sock is looked up each
// time: a handshake the turn runs hands the session off (detach).
func (s *session) readHere() bool {
	k := s.readerSock()
	if k == nil || !s.wantsRead(k) {
		return false
	}
	s.mbMu.Unlock()
	s.readSock(k)
	return true
}

// openDone lets the decoder go once OnOpen has returned, waking the event
// loop if it held bytes back meanwhile.
func (s *session) openDone() {
	s.clearFlag(flagOpening)
	if s.has(flagHeld) {
		_ = s.c.Wake(nil)
	}
}

// maybeResume wakes the event loop when decoding was paused for a full
// mailbox and the endpoint has caught up.
func (s *session) maybeResume() {
	if s.has(flagPaused) && s.pendingInbound() <= s.settings().MaxPendingInboundBytes/2 {
		_ = s.c.Wake(nil)
	}
}

// deliver runs the endpoint callback for ev, recovering panics.
func (s *session) deliver(ev *event) {
	if s.closeDone {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			s.panicked(p)
		}
	}()
	switch ev.kind {
	case evOpen:
		defer s.openDone()     // also after a panic
		if s.endpoint == nil { // an InstanceProvider may have set it
			s.endpoint = s.ep.cfg.New()
		}
		s.opened = true
		s.endpoint.OnOpen(s, s.ep.cfg)
	case evText, evBinary:
		s.callHandler(ev.kind, ev.bytes())
	case evTextPart:
		if h := s.getHandlers().partialText; h != nil {
			h(string(ev.bytes()), ev.last)
		}
	case evBinaryPart:
		if h := s.getHandlers().partialBinary; h != nil {
			h(ev.bytes(), ev.last)
		}
	case evPong:
		if h := s.getHandlers().pong; h != nil {
			h(ev.bytes())
		}
	case evError:
		s.callOnError(ev.err)
	case evHTTP:
		s.serveRequest(ev.req)
	case evHandshake:
		s.upgradeOnExecutor(ev.bytes())
	case evClose:
		s.closeDone = true
		s.releaseReader()
		if !s.opened {
			return
		}
		if c, ok := s.endpoint.(endpoint.OnCloser); ok {
			s.out.mu.Lock()
			var r endpoint.CloseReason
			if s.closeReason != nil {
				r = *s.closeReason
			}
			s.out.mu.Unlock()
			c.OnClose(s, r)
		}
	}
}

// deliverMessage is deliver for a text or binary message whose bytes are
// not in an event (see postWhole).
func (s *session) deliverMessage(kind eventKind, b []byte) {
	if s.closeDone {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			s.panicked(p)
		}
	}()
	s.callHandler(kind, b)
}

// callHandler calls the endpoint's handler for a whole text or binary
// message, or closes with 1003 when it has none.
func (s *session) callHandler(kind eventKind, b []byte) {
	if kind == evText {
		if h := s.fastText.load(); h != nil {
			h(b)
			return
		}
		hs := s.getHandlers()
		switch {
		case hs.rawText != nil:
			hs.rawText(b)
		case hs.text != nil:
			hs.text(string(b))
		default:
			_ = s.Close(endpoint.CloseReason{Code: endpoint.CloseCannotAccept, Reason: "text messages are not accepted"})
		}
		return
	}
	h := s.fastBinary.load()
	if h == nil {
		h = s.getHandlers().binary
	}
	if h == nil {
		_ = s.Close(endpoint.CloseReason{Code: endpoint.CloseCannotAccept, Reason: "binary messages are not accepted"})
		return
	}
	h(b)
}

func (s *session) callOnError(err error) {
	if !s.opened {
		return
	}
	if h, ok := s.endpoint.(endpoint.OnErrorer); ok {
		h.OnError(s, err)
	}
}

// panicked reports a panic in endpoint code to OnError and closes the
// session with 1011. A panic in OnError itself is only logged.
func (s *session) panicked(p any) {
	perr := &endpoint.PanicError{Value: p, Stack: debug.Stack()}
	s.cont.log.Error("endpoint panicked", "session", s.ID(), "path", s.ep.fullPath, "panic", fmt.Sprint(p))
	func() {
		defer func() {
			if p2 := recover(); p2 != nil {
				s.cont.log.Error("OnError panicked", "session", s.ID(), "panic", fmt.Sprint(p2))
			}
		}()
		s.callOnError(perr)
	}()
	s.startClose(endpoint.CloseReason{Code: endpoint.CloseUnexpectedCondition, Reason: "endpoint error"}, false)
}
