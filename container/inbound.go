package container

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"

	"github.com/wsc-dev/wsc/endpoint"
)

// inbound is the frame decoder's state for one session. It lives on the
// event loop only. Data frame payloads are consumed as they arrive (unmasked
// in gnet's buffer, checked and appended to the message), so a large frame
// never waits whole in gnet's buffer and is never copied twice; a message
// that came whole in one frame and is delivered at once is not copied at
// all (see finishWhole).
type inbound struct {
	// The data frame whose payload is arriving: remaining bytes, and the
	// mask with its offset (mod 4) in the frame.
	remaining int64

	// The message being assembled; op == 0 when none.
	size  int64 // bytes announced so far (compressed bytes if compressed)
	limit int64 // the session's limit for this message's type
	buf   *[]byte

	mask       [4]byte
	maskOff    uint8
	done       bool // a close frame was received or the connection failed: discard input
	inPayload  bool
	fin        bool
	op         ws.OpCode
	compressed bool
	partial    bool // delivered in parts to a partial handler
	utf8       utf8Validator
}

// payloadPrealloc bounds what a frame header makes us allocate before the
// bytes arrive: a peer-declared length is not trusted.
const payloadPrealloc = 64 << 10

// readFrames decodes every complete frame in gnet's inbound buffer and
// consumes the payload of a frame in progress, for a session that stayed
// on gnet (see poller.go). It runs on the event loop.
func (s *session) readFrames(c gnet.Conn) gnet.Action {
	in := &s.in
	if in.done {
		_, _ = c.Discard(-1)
		return gnet.None
	}
	if s.has(flagOpening) {
		// Publish held before re-checking opening: the executor clears
		// opening, then looks at held (see openDone); one of us sees the other.
		s.setFlag(flagHeld)
		if s.has(flagOpening) {
			if c.InboundBuffered() > s.inboundHardCap() {
				s.fail(endpoint.CloseTryAgainLater, "client sends faster than the endpoint opens")
				_, _ = c.Discard(-1)
			}
			return gnet.None
		}
	}
	if s.has(flagPaused) {
		if s.pendingInbound() > s.settings().MaxPendingInboundBytes/2 {
			if c.InboundBuffered() > s.inboundHardCap() {
				s.fail(endpoint.CloseTryAgainLater, "client sends faster than the endpoint reads")
				_, _ = c.Discard(-1)
			}
			return gnet.None
		}
		s.clearFlag(flagPaused)
	}
	buf, _ := c.Peek(-1)
	off, act := s.decode(buf)
	if act == gnet.Close {
		return gnet.Close
	}
	switch {
	case in.done:
		_, _ = c.Discard(-1)
	case off > 0:
		// Never Discard(0): gnet treats n <= 0 as "everything", which would
		// drop a partial header still waiting for its next bytes.
		_, _ = c.Discard(off)
	}
	return gnet.None
}

// decode decodes every complete frame in buf and consumes the payload of a
// frame in progress. It returns how many bytes it consumed (the rest waits
// for more), and gnet.Close when the connection must close now (the peer
// answered our close frame). It stops early when the session fails and
// when the mailbox is full (flagPaused). It runs on the session's reader:
// the event loop, or the turn that reads its sock.
func (s *session) decode(buf []byte) (int, gnet.Action) {
	in := &s.in
	s.touch()
	off := 0
	// An inline endpoint's sends for a message with more bytes behind it in
	// this read are staged (corked) and leave together once the read is
	// decoded, as the executor does for a turn of several events.
	corked, wasCorked := false, false
	inline := s.flags.Load()&uint32(flagInline|flagReading) != 0 // delivered as decoded
	if inline {
		defer func() {
			if corked {
				s.clearFlag(flagCorked)
			}
			if wasCorked {
				s.flushStagedHere()
			}
		}()
	}
	for off < len(buf) && !in.done {
		if in.inPayload {
			n := len(buf) - off
			if int64(n) > in.remaining {
				n = int(in.remaining)
			}
			chunk := buf[off : off+n]
			ws.Cipher(chunk, in.mask, int(in.maskOff))
			in.maskOff = uint8((int(in.maskOff) + n) & 3)
			in.remaining -= int64(n)
			off += n
			if !s.appendPayload(chunk) {
				break
			}
			if in.remaining == 0 {
				in.inPayload = false
				if inline && in.fin {
					s.corkFor(off < len(buf), &corked, &wasCorked)
				}
				if in.fin && !s.finishMessage() {
					break
				}
				if !in.fin && in.partial && !s.postPart(false) {
					break
				}
			}
			continue
		}
		h, hn, err := decodeHeader(buf[off:])
		if err != nil {
			s.fail(endpoint.CloseProtocolError, err.Error())
			break
		}
		if hn == 0 {
			break // header incomplete: wait for more bytes
		}
		if code, why := s.checkHeader(h); code != 0 {
			s.fail(code, why)
			break
		}
		if h.OpCode.IsControl() {
			end := off + hn + int(h.Length)
			if end > len(buf) {
				break // at most 139 bytes: wait for the whole frame
			}
			payload := buf[off+hn : end]
			ws.Cipher(payload, h.Mask, 0)
			off = end
			if s.control(h.OpCode, payload) == gnet.Close {
				return off, gnet.Close
			}
			continue
		}
		off += hn
		if !s.startFrame(h) {
			break
		}
		if h.Length == 0 {
			if h.Fin && !s.finishMessage() {
				break
			}
			continue
		}
		if h.Fin && h.OpCode != ws.OpContinuation && !in.compressed && !in.partial && h.Length <= int64(len(buf)-off) {
			// A whole message in one frame, all in buf: it goes to the
			// endpoint from buf itself when it is delivered now (see
			// postWhole), without a copy into a message buffer.
			payload := buf[off : off+int(h.Length)]
			ws.Cipher(payload, h.Mask, 0)
			off += len(payload)
			in.inPayload, in.remaining = false, 0
			if inline {
				s.corkFor(off < len(buf), &corked, &wasCorked)
			}
			if !s.finishWhole(payload) {
				break
			}
		}
	}
	if in.done {
		off = len(buf)
	}
	return off, gnet.None
}

// inboundHardCap is how much a paused session may leave in gnet's buffer
// before it is closed: the mailbox bound plus one message of the largest
// kind plus a read.
func (s *session) inboundHardCap() int {
	return s.settings().MaxPendingInboundBytes + int(max(s.maxText.Load(), s.maxBinary.Load())) + 64<<10
}

// checkHeader applies RFC 6455 §5.2–§5.5 to a client frame header.
func (s *session) checkHeader(h ws.Header) (endpoint.CloseCode, string) {
	switch {
	case h.Rsv&0x3 != 0:
		return endpoint.CloseProtocolError, "RSV2 or RSV3 set"
	case h.Rsv1() && (s.deflate == nil || !(h.OpCode == ws.OpText || h.OpCode == ws.OpBinary)):
		return endpoint.CloseProtocolError, "RSV1 set without a compressed message"
	case !h.Masked:
		return endpoint.CloseProtocolError, "client frame not masked"
	case h.OpCode.IsReserved():
		return endpoint.CloseProtocolError, "reserved opcode"
	case h.OpCode.IsControl() && !h.Fin:
		return endpoint.CloseProtocolError, "fragmented control frame"
	case h.OpCode.IsControl() && h.Length > 125:
		return endpoint.CloseProtocolError, "control frame longer than 125 bytes"
	}
	return 0, ""
}

// startFrame begins a data frame, and a message with it unless it is a
// continuation. It returns false when the session failed.
func (s *session) startFrame(h ws.Header) bool {
	in := &s.in
	if h.OpCode == ws.OpContinuation {
		if in.op == 0 {
			s.fail(endpoint.CloseProtocolError, "continuation frame without a message")
			return false
		}
	} else {
		if in.op != 0 {
			s.fail(endpoint.CloseProtocolError, "new message inside a fragmented message")
			return false
		}
		in.op = h.OpCode
		in.compressed = h.Rsv1()
		in.size = 0
		in.utf8.reset()
		if h.OpCode == ws.OpText {
			in.limit = int64(s.maxText.Load())
			in.partial = s.has(flagPartialText) && !in.compressed
		} else {
			in.limit = int64(s.maxBinary.Load())
			in.partial = s.has(flagPartialBinary) && !in.compressed
		}
	}
	in.size += h.Length
	limit := in.limit
	if in.partial {
		limit = 1<<63 - 1 // partial handlers take messages of any size
	}
	if in.compressed {
		// Deflate can expand incompressible data by a few bytes per block.
		limit += limit>>6 + 256
	}
	if in.size > limit {
		s.fail(endpoint.CloseTooBig, "message too big")
		return false
	}
	in.inPayload = h.Length > 0
	in.remaining = h.Length
	in.mask = h.Mask
	in.maskOff = 0
	in.fin = h.Fin
	return true
}

// corkFor stages an inline endpoint's sends (sets flagCorked) while more
// bytes wait behind the message just decoded, and lets them go with the
// last one: corked is the current state, wasCorked whether the read staged
// anything (decode flushes then).
func (s *session) corkFor(more bool, corked, wasCorked *bool) {
	if more == *corked {
		return
	}
	if *corked = more; more {
		s.setFlag(flagCorked)
		*wasCorked = true
	} else {
		s.clearFlag(flagCorked)
	}
}

// partChunk is the most a partial handler's part holds: a large frame is
// delivered in pieces of this size as it arrives.
const partChunk = 64 << 10

// postPart delivers what has arrived of a partial message. A text part
// stops at the last whole code point; the rest waits for the next part.
// It returns false when decoding must stop.
func (s *session) postPart(last bool) bool {
	in := &s.in
	kind := evBinaryPart
	buf := in.buf
	in.buf = nil
	if in.op == ws.OpText {
		kind = evTextPart
		if !last && buf != nil {
			if cut := completeUTF8(*buf); cut < len(*buf) {
				rest := getBuf(len(*buf) - cut)
				*rest = append(*rest, (*buf)[cut:]...)
				*buf = (*buf)[:cut]
				in.buf = rest
			}
		}
	}
	if last {
		in.op = 0
		s.msgsIn.Add(1)
	}
	if buf != nil {
		s.bytesIn.Add(uint64(len(*buf)))
	}
	return s.posted(s.postPending(event{kind: kind, buf: buf, last: last}))
}

// completeUTF8 returns the length of the longest prefix of valid UTF-8 b
// that does not end inside a code point.
func completeUTF8(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-3; i-- {
		if c := b[i]; c&0xC0 != 0x80 {
			if seqLen(c) > len(b)-i {
				return i
			}
			break
		}
	}
	return len(b)
}

// appendPayload adds unmasked payload bytes to the message. It returns false
// when the session failed.
func (s *session) appendPayload(p []byte) bool {
	in := &s.in
	if in.op == ws.OpText && !in.compressed && !in.utf8.feed(p) {
		s.fail(endpoint.CloseNotConsistent, "invalid UTF-8 in text message")
		return false
	}
	if in.buf == nil {
		// The message's first bytes: room for the rest of the frame, up to
		// payloadPrealloc.
		in.buf = getBuf(int(min(int64(len(p))+in.remaining, payloadPrealloc)))
	}
	in.buf = growBuf(in.buf, len(p))
	*in.buf = append(*in.buf, p...)
	if in.partial && len(*in.buf) >= partChunk && in.remaining > 0 {
		return s.postPart(false)
	}
	return true
}

// finishMessage completes the message and posts it to the endpoint. It
// returns false when decoding must stop (failure, or the mailbox is full).
func (s *session) finishMessage() bool {
	in := &s.in
	if in.partial {
		if in.op == ws.OpText && !in.utf8.complete() {
			s.fail(endpoint.CloseNotConsistent, "text message ends inside a UTF-8 sequence")
			return false
		}
		return s.postPart(true)
	}
	buf := in.buf
	in.buf = nil
	op := in.op
	in.op = 0
	if in.compressed {
		var src []byte
		if buf != nil {
			src = *buf
		}
		out, err := s.deflate.inflate(src, int(in.limit))
		putBuf(buf)
		switch err {
		case nil:
		case errInflateBig:
			s.fail(endpoint.CloseTooBig, "message too big")
			return false
		default:
			s.fail(endpoint.CloseNotConsistent, err.Error())
			return false
		}
		buf = out
		if op == ws.OpText && buf != nil && !utf8.Valid(*buf) {
			putBuf(buf)
			s.fail(endpoint.CloseNotConsistent, "invalid UTF-8 in text message")
			return false
		}
	} else if op == ws.OpText && !in.utf8.complete() {
		putBuf(buf)
		s.fail(endpoint.CloseNotConsistent, "text message ends inside a UTF-8 sequence")
		return false
	}
	kind := evBinary
	if op == ws.OpText {
		kind = evText
	}
	s.msgsIn.Add(1)
	if buf != nil {
		s.bytesIn.Add(uint64(len(*buf)))
	}
	return s.posted(s.postPending(event{kind: kind, buf: buf}))
}

// finishWhole completes a message that came whole in one uncompressed
// frame, with payload (unmasked) still in the read's buffer, and posts it
// as finishMessage does.
func (s *session) finishWhole(payload []byte) bool {
	in := &s.in
	kind := evBinary
	if in.op == ws.OpText {
		kind = evText
		if !utf8.Valid(payload) {
			s.fail(endpoint.CloseNotConsistent, "invalid UTF-8 in text message")
			return false
		}
	}
	in.op = 0
	s.msgsIn.Add(1)
	s.bytesIn.Add(uint64(len(payload)))
	return s.posted(s.postWhole(kind, payload))
}

// posted finishes the decoder's post of a message: it closes the session
// with 1013 when the executor is overloaded (!ok), and pauses decoding when
// the mailbox holds too much (see checkPause). It returns false when
// decoding must stop.
func (s *session) posted(ok bool, pending int) bool {
	if !ok {
		s.overloaded()
		return false
	}
	return s.checkPause(pending)
}

// checkPause stops decoding when the mailbox holds more than
// MaxPendingInboundBytes (pending, as post saw it); it returns false then.
func (s *session) checkPause(pending int) bool {
	if pending > s.settings().MaxPendingInboundBytes {
		// Stop decoding until the endpoint catches up (see maybeResume).
		// Re-check after publishing the flag: the executor may have drained
		// the mailbox in between and will not wake us.
		s.setFlag(flagPaused)
		if s.pendingInbound() > s.settings().MaxPendingInboundBytes/2 {
			return false
		}
		s.clearFlag(flagPaused)
	}
	return true
}

// control handles a ping, pong or close frame; payload is unmasked and
// valid only during the call.
func (s *session) control(op ws.OpCode, payload []byte) gnet.Action {
	switch op {
	case ws.OpPing:
		_ = s.sendControl(ws.OpPong, payload, policyControl)
	case ws.OpPong:
		if s.getHandlers().pong != nil {
			b := getBuf(len(payload))
			*b = append(*b, payload...)
			if !s.post(event{kind: evPong, buf: b}) {
				s.overloaded()
			}
		}
	case ws.OpClose:
		return s.peerClose(payload)
	}
	return gnet.None
}

// peerClose answers the peer's close frame (RFC 6455 §5.5.1, §7.1.5).
func (s *session) peerClose(payload []byte) gnet.Action {
	r := endpoint.CloseReason{Code: endpoint.CloseNoStatusCode}
	var code uint16
	switch {
	case len(payload) == 1:
		s.fail(endpoint.CloseProtocolError, "close frame with a 1-byte payload")
		return gnet.None
	case len(payload) >= 2:
		code = binary.BigEndian.Uint16(payload)
		if !receivableCloseCode(code) {
			s.fail(endpoint.CloseProtocolError, "invalid close code")
			return gnet.None
		}
		if !utf8.Valid(payload[2:]) {
			s.fail(endpoint.CloseNotConsistent, "invalid UTF-8 in close reason")
			return gnet.None
		}
		r = endpoint.CloseReason{Code: endpoint.CloseCode(code), Reason: string(payload[2:])}
	}
	s.in.done = true
	if !s.sendClose(closePayload(code), r, true) {
		// We sent our close first and this is the answer: the closing
		// handshake is complete, and the server closes TCP (§7.1.1).
		return gnet.Close
	}
	return gnet.None
}

// fail closes the session for a protocol violation: a close frame with code,
// then TCP, without waiting for the peer (RFC 6455 §7.1.7). OnError hears of
// it.
func (s *session) fail(code endpoint.CloseCode, why string) {
	s.failWith(code, why, nil)
}

// failWith is fail with the error OnError hears (a *CloseError when nil).
func (s *session) failWith(code endpoint.CloseCode, why string, cause error) {
	s.cont.log.Debug("session failed", "session", s.ID(), "code", int(code), "why", why)
	in := &s.in
	in.done = true
	putBuf(in.buf)
	in.buf = nil
	r := endpoint.CloseReason{Code: code, Reason: why}
	payload := make([]byte, 2, 2+len(why))
	binary.BigEndian.PutUint16(payload, uint16(code))
	payload = append(payload, truncateUTF8(why, endpoint.MaxCloseReasonBytes)...)
	if cause == nil {
		cause = &endpoint.CloseError{CloseReason: r}
	}
	if s.sendClose(payload, r, true) {
		s.post(event{kind: evError, err: cause})
	}
}

// overloaded closes a session whose events the executor could not take.
func (s *session) overloaded() {
	s.cont.log.Warn("executor overloaded: closing session", "session", s.ID(), "context", s.ctx.path)
	s.failWith(endpoint.CloseTryAgainLater, "server overloaded", endpoint.ErrOverloaded)
}
