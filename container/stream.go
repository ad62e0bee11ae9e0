package container

import (
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsc-dev/wsc/endpoint"
)

// Large Basic sends.
//
// A Basic send blocks until its message is written (JSR 356), so a large
// message need not be copied into a frame buffer, nor into gnet's outbound
// buffer when the peer reads slower than we write: the sender writes the
// frame header and the caller's bytes with writev, straight to the socket,
// and waits for the socket in its own goroutine when it is full. A 16 MiB
// echo then holds the received message and nothing else.
//
// While a message streams, out.streaming is set: every other frame of the
// session waits in the FIFO behind it (frames never interleave), and
// progressLocked leaves the FIFO alone. out.mu is released while the sender
// waits for the socket, so the event loop (OnClose, pongs) never waits for
// a slow peer; the sender writes again only under out.mu and while the
// session is not closed, so it never writes to a descriptor gnet has
// closed and the kernel may have reused.

// streamMin is the smallest payload a Basic send streams. Below it the
// copy into a pooled frame buffer costs less than the extra system calls.
const streamMin = 256 << 10

// streamPollSlice bounds one wait for the socket, so that a sender notices
// a closed session even when the descriptor never becomes writable.
const streamPollSlice = 100 * time.Millisecond

// canStream reports whether a Basic send of payload may stream: not
// compressed, not batched, and not on the event loop (which must not wait).
func (s *session) canStream(n int) bool {
	if n < streamMin || s.deflate != nil {
		return false
	}
	if b := s.batch.Load(); b != nil && b.on.Load() {
		return false
	}
	return !(s.inline && s.has(flagOnLoop))
}

// stream writes one data frame of payload from the caller's buffer and
// returns when it is written, the session closed or BlockingSendTimeout
// passed (then the session is aborted, as for any Basic send that times
// out). When frames are already queued it falls back to the copying path,
// behind them.
func (s *session) stream(op ws.OpCode, payload []byte) error {
	var hb [ws.MaxHeaderSize]byte
	hdr := appendHeader(hb[:0], op, true, false, len(payload))
	o := &s.out
	o.mu.Lock()
	if o.closed || o.closeSent {
		o.mu.Unlock()
		return endpoint.ErrSessionClosed
	}
	if !o.direct || o.streaming || len(o.fifo) > 0 {
		o.mu.Unlock()
		return s.transmit(s.encodeFrame(op, payload), false, policyBasic, nil)
	}
	o.streaming = true
	deadline := time.Now().Add(s.settings().BlockingSendTimeout)
	fd := s.c.Fd()
	for {
		s.touch()
		n, err := writevFD(fd, hdr, payload)
		if err != nil {
			o.closed = true
			s.endStreamLocked()
			o.mu.Unlock()
			_ = s.c.Close()
			return endpoint.ErrSessionClosed
		}
		if k := min(n, len(hdr)); k > 0 {
			hdr, n = hdr[k:], n-k
		}
		payload = payload[n:]
		if len(hdr) == 0 && len(payload) == 0 {
			break
		}
		o.mu.Unlock()
		left := time.Until(deadline)
		if left <= 0 {
			o.mu.Lock()
			s.endStreamLocked()
			o.mu.Unlock()
			s.abort("blocking send timed out")
			return endpoint.ErrSendTimeout
		}
		waitWritable(fd, min(left, streamPollSlice))
		o.mu.Lock()
		if o.closed {
			s.endStreamLocked()
			o.mu.Unlock()
			return endpoint.ErrSessionClosed
		}
	}
	ready := s.endStreamLocked()
	o.mu.Unlock()
	notify(ready)
	return nil
}

// endStreamLocked ends a stream and sends on the frames that queued behind
// it. o.mu must be held.
func (s *session) endStreamLocked() []*sendOp {
	o := &s.out
	o.streaming = false
	if o.closed || len(o.fifo) == 0 {
		return nil
	}
	o.direct = false // nothing is in gnet: progressLocked sends the FIFO on
	return s.progressLocked()
}

// writevFD writes hdr and then payload to a non-blocking socket. It returns
// how much was written; EAGAIN is not an error.
func writevFD(fd int, hdr, payload []byte) (int, error) {
	if len(hdr) == 0 {
		return writeFD(fd, payload)
	}
	for {
		n, err := unix.Writev(fd, [][]byte{hdr, payload})
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, nil
		case err != nil:
			return 0, err
		}
		return n, nil
	}
}

// waitWritable waits until fd can take more bytes, at most d.
func waitWritable(fd int, d time.Duration) {
	ms := int(d / time.Millisecond)
	if ms < 1 {
		ms = 1
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	_, _ = unix.Poll(fds, ms)
}
