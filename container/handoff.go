package container

import (
	"net"
	"sync"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// The session's side of the hand-off from gnet to a poller (see poller.go
// for the design).

// transport is what a session needs of its connection once the handshake
// is read: gnet's connection, or after the hand-off its sock.
type transport interface {
	Close() error
	Wake(gnet.AsyncCallback) error
	AsyncWrite([]byte, gnet.AsyncCallback) error
	OutboundBuffered() int
	EventLoop() gnet.EventLoop
}

// gc returns the session's gnet connection; only before the hand-off.
func (s *session) gc() gnet.Conn { return s.c.(gnet.Conn) }

// detach gives the session a sock on a duplicate of its descriptor, which
// every send uses from now on. It runs before the 101 is written. It
// reports false, and the session stays on gnet, when the connection has
// closed, when bytes of an earlier response still wait in gnet (they must
// leave first), or when no descriptor is left.
func (s *session) detach() bool {
	if len(s.cont.pollers) == 0 {
		return false
	}
	o := &s.out
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || !o.direct || o.waiting() || o.queued() > 0 || o.streaming {
		return false
	}
	fd, err := unix.FcntlInt(uintptr(s.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		s.cont.log.Debug("session stays on gnet: descriptor not duplicated", "session", s.ID(), "err", err)
		return false
	}
	s.c = &sock{fd: fd, s: s, p: s.cont.pollers[fd%len(s.cont.pollers)]}
	s.fd = int32(fd)
	s.setFlag(flagHandedOff)
	return true
}

// closeOutboundFrom is closeOutbound for the transport t that closed. It
// does nothing and reports false when the session has left t (gnet's
// connection, after detach).
func (s *session) closeOutboundFrom(t transport) bool {
	s.out.mu.Lock()
	if s.c != t {
		s.out.mu.Unlock()
		return false
	}
	s.out.closed = true // under the same hold as the test: detach sees it
	s.out.mu.Unlock()
	s.closeOutbound()
	return true
}

// adopt takes a detached session's connection over from gnet, in gnet's
// OnClose: the bytes gnet read past the handshake are carried over, and
// the sock is registered with its poller, which reports the socket's
// readiness from then on (edge-triggered: ET reports what is pending at
// registration too).
func (s *session) adopt(conn gnet.Conn, k *sock) {
	k.lmu.Lock()
	if k.closing {
		k.lmu.Unlock()
		return
	}
	// Under lmu, before closeNow can begin: the turn that delivers the
	// close (releaseReader) comes after it, and drops carry.
	held := conn.InboundBuffered() > 0
	if held {
		b, _ := conn.Peek(-1)
		k.carry = append([]byte(nil), b...)
		k.decodeFirst = true
	}
	s.cont.socks.set(k.fd, k)
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(k.fd)}
	if err := unix.EpollCtl(k.p.epfd, unix.EPOLL_CTL_ADD, k.fd, &ev); err != nil {
		s.cont.socks.clear(k.fd, k)
		k.lmu.Unlock()
		s.cont.log.Error("session not registered with its poller", "session", s.ID(), "err", err)
		_ = k.Close()
		return
	}
	k.registered = true
	k.lmu.Unlock()
	// What arrived before the registration is reported by the poller all
	// the same: epoll_ctl(ADD) queues an event for a descriptor that is
	// ready already, edge-triggered or not. That event may have found the
	// sock not yet adopted (onReadable stores readable, then loads
	// adopted; this stores adopted, then loads readable: one of the two
	// sees the other), so the turn is started here only when it has
	// something to read. A session that sent nothing takes no executor
	// turn, and no queue slot: with the queue full, it is not closed with
	// 1013 for a read it never asked for.
	k.adopted.Store(true)
	if held || k.readable.Load() {
		_ = k.Wake(nil)
	}
}

// scheduleRead queues the session on its executor for a turn that reads
// its sock, unless a turn is queued or running: that one reads before it
// ends (run looks at readable under mbMu, after the poller set it).
func (s *session) scheduleRead() {
	s.mbMu.Lock()
	if s.scheduled || s.closeQd {
		s.mbMu.Unlock()
		return
	}
	s.scheduled = true
	s.mbMu.Unlock()
	if s.ctx.exec.submit(s) {
		return
	}
	// The executor is full: close with 1013 from here, as the loop did when
	// it could not post a message. No turn can start meanwhile (scheduled
	// is ours), so this goroutine is the session's reader.
	s.overloaded()
	s.mbMu.Lock()
	if s.mailboxEmpty() {
		s.scheduled = false
		s.mbMu.Unlock()
		return
	}
	s.mbMu.Unlock()
	s.ctx.exec.submitMust(s) // the events overloaded posted
}

// readerSock returns the sock an executor turn reads: nil for a session on
// gnet and for an inline endpoint's (read on its poller).
func (s *session) readerSock() *sock {
	// The flag first: detach sets it after s.c, which the event loop may
	// be writing while this session's turn ends (an upgrade after an HTTP
	// request served on the executor).
	if s.flags.Load()&uint32(flagHandedOff|flagInline) != uint32(flagHandedOff) {
		return nil
	}
	return s.c.(*sock)
}

// wantsRead reports whether the session's turn should read k now: the
// socket has bytes not yet read, or bytes wait in carry, and OnOpen has
// returned (its handlers and limits govern the first message).
func (s *session) wantsRead(k *sock) bool {
	return k.adopted.Load() && (k.readable.Load() || k.decodeFirst) && !s.has(flagOpening)
}

// readChunk is the most one read takes from a socket, as gnet's buffer.
const readChunk = 64 << 10

// keptCarry is the most carry keeps room for once empty.
const keptCarry = 4 << 10

var readBufs = sync.Pool{New: func() any {
	b := make([]byte, readChunk)
	return &b
}}

// readSock decodes what waits in carry, then reads the socket once and
// decodes what came, delivering as decode does: to the mailbox (which the
// turn then delivers), or straight to an inline endpoint. It reports false
// when it could do nothing (the mailbox is still too full: maybeResume
// wakes the session). It runs in the session's turn, the only reader.
func (s *session) readSock(k *sock) bool {
	if k.decodeFirst {
		if s.has(flagPaused) {
			if s.pendingInbound() > s.settings().MaxPendingInboundBytes/2 {
				return false
			}
			s.clearFlag(flagPaused)
		}
		k.decodeFirst = false
		off, act := s.decodeHere(k.carry)
		s.keepRest(k, k.carry[off:])
		if act == gnet.Close {
			_ = k.Close()
			return true
		}
		if k.decodeFirst {
			return true // stopped again
		}
	}
	k.readable.Store(false) // before the read: an edge after it sets it again
	bp := readBufs.Get().(*[]byte)
	buf := *bp
	c := copy(buf, k.carry) // under 140 bytes: an incomplete header or control frame
	n, err := k.read(buf[c:])
	switch {
	case n > 0:
		if c+n == len(buf) || k.hup.Load() {
			// The socket may hold more; after the peer's FIN a short read
			// does not mean the end was read, and no edge will come again.
			k.readable.Store(true)
		}
		data := buf[:c+n]
		off, act := s.decodeHere(data)
		s.keepRest(k, data[off:])
		if act == gnet.Close {
			_ = k.Close()
		}
	case err == unix.EAGAIN || err == net.ErrClosed:
	case err == unix.EINTR:
		k.readable.Store(true)
	default: // the peer closed (n == 0) or the connection failed
		_ = k.Close()
	}
	readBufs.Put(bp)
	return true
}

// decodeHere decodes buf in the session's turn: an executor turn delivers
// the messages as they are decoded (flagReading), as an inline endpoint's
// loop does.
func (s *session) decodeHere(buf []byte) (int, gnet.Action) {
	if s.has(flagInline) {
		return s.decode(buf)
	}
	s.setFlag(flagReading)
	off, act := s.decode(buf)
	s.clearFlag(flagReading)
	return off, act
}

// keepRest keeps rest, the bytes decode left, in carry: the start of a
// frame still arriving, or with flagPaused what waits for the endpoint to
// catch up (decodeFirst). After a failure or a close frame they are
// dropped.
func (s *session) keepRest(k *sock, rest []byte) {
	if s.in.done || len(rest) == 0 {
		k.carry = k.carry[:0]
		if cap(k.carry) > keptCarry {
			k.carry = nil
		}
		return
	}
	k.decodeFirst = s.has(flagPaused)
	k.carry = append(k.carry[:0], rest...) // rest may be carry's own tail: append moves
}

// releaseReader frees the decoder's buffers once the session has closed;
// it runs in the turn that delivers the close, the last reader.
func (s *session) releaseReader() {
	putBuf(s.in.buf)
	s.in.buf = nil
	if k, ok := s.c.(*sock); ok {
		k.carry, k.decodeFirst = nil, false
	}
}
