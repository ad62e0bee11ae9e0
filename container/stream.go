package container

import (
	"errors"
	"os"
	"syscall"
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
//
// The sender waits in the Go runtime's network poller (socketWaiter), so a
// waiting sender is a parked goroutine, not an OS thread blocked in
// poll(2): many large sends to slow peers cannot exhaust the threads.

// streamMin is the smallest payload a Basic send streams. Below it the
// copy into a pooled frame buffer costs less than the extra system calls.
const streamMin = 256 << 10

// streamPollSlice bounds one wait for the socket, so that a sender notices
// a closed session even when the descriptor never becomes writable.
const streamPollSlice = 100 * time.Millisecond

// canStream reports whether a Basic send of payload may stream: not
// compressed, not batched, and not on the event loop (which must not wait).
func (s *session) canStream(n int) bool {
	if n < streamMin || s.has(flagDeflate|flagBatching) {
		return false
	}
	return !s.inlineOnLoop()
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
	if !o.direct || o.streaming || o.waiting() {
		o.mu.Unlock()
		return s.transmit(s.encodeFrame(op, payload), false, policyBasic, nil)
	}
	o.streaming = true
	deadline := time.Now().Add(s.settings().BlockingSendTimeout)
	fd := int(s.fd)
	// step writes what the socket takes, with o.mu held. It reports whether
	// the stream has ended: written, closed, or failed (then err is set).
	var err error
	step := func() bool {
		if o.closed {
			err = endpoint.ErrSessionClosed
			return true
		}
		s.touch()
		n, werr := writevFD(fd, hdr, payload)
		if werr != nil {
			o.closed = true
			err = werr
			return true
		}
		if k := min(n, len(hdr)); k > 0 {
			hdr, n = hdr[k:], n-k
		}
		payload = payload[n:]
		return len(hdr) == 0 && len(payload) == 0
	}
	// retry takes o.mu and steps; it keeps o.mu when the stream has ended.
	retry := func() bool {
		o.mu.Lock()
		if step() {
			return true
		}
		o.mu.Unlock()
		return false
	}
	var waiter *socketWaiter // made when the socket is first full
	ended := step()
	if !ended {
		o.mu.Unlock()
	}
	for !ended {
		left := time.Until(deadline)
		if left <= 0 {
			o.mu.Lock()
			s.endStreamLocked()
			o.mu.Unlock()
			waiter.close()
			s.abort("blocking send timed out")
			return endpoint.ErrSendTimeout
		}
		if waiter == nil {
			// Dup under o.mu, where o.closed is tested: the descriptor
			// is closed only after it is set, so the number is still ours.
			o.mu.Lock()
			if o.closed {
				err = endpoint.ErrSessionClosed
				break // with o.mu held, as after the loop
			}
			waiter = newSocketWaiter(fd)
			o.mu.Unlock()
		}
		ended = waiter.retry(min(left, streamPollSlice), retry)
	}
	// o.mu is held again.
	waiter.close()
	ready := s.endStreamLocked()
	o.mu.Unlock()
	switch {
	case err == endpoint.ErrSessionClosed:
		return err
	case err != nil:
		_ = s.c.Close()
		return endpoint.ErrSessionClosed
	}
	notify(ready)
	return nil
}

// endStreamLocked ends a stream and sends on the frames that queued behind
// it. o.mu must be held.
func (s *session) endStreamLocked() []*sendOp {
	o := &s.out
	o.streaming = false
	if o.closed || !o.waiting() {
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

// socketWaiter waits until a socket can take more bytes, in the Go
// runtime's network poller. It watches a duplicate of the descriptor, so it
// never registers or closes a number that gnet owns (and may close, and the
// kernel reuse); the duplicate keeps the socket open until close, which a
// stream calls at most streamPollSlice after its session closed. When the
// descriptor cannot be duplicated (no descriptors left) or registered, it
// falls back to poll(2), which holds the thread while it waits.
type socketWaiter struct {
	fd int // the socket's own descriptor, for the fallback
	f  *os.File
	rc syscall.RawConn
}

func newSocketWaiter(fd int) *socketWaiter {
	w := &socketWaiter{fd: fd}
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return w
	}
	// The socket is non-blocking, so os.NewFile registers the duplicate
	// with the runtime's poller.
	f := os.NewFile(uintptr(dup), "wsc-stream")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return w
	}
	w.f, w.rc = f, rc
	return w
}

// retry calls try, and again each time the socket can take more bytes,
// until try returns true (then retry does too) or d has passed. try must
// attempt a write: the poller forgets readiness it saw before retry was
// called, so it is the write's EAGAIN that makes waiting safe.
func (w *socketWaiter) retry(d time.Duration, try func() bool) bool {
	if w.f != nil && w.f.SetWriteDeadline(time.Now().Add(d)) == nil {
		ok := false
		err := w.rc.Write(func(uintptr) bool {
			ok = try()
			return ok
		})
		if ok || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			return ok
		}
	}
	// Not pollable: wait in poll(2), then try once.
	ms := max(int(d/time.Millisecond), 1)
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLOUT}}
	_, _ = unix.Poll(fds, ms)
	return try()
}

// close releases the duplicate descriptor. A nil waiter is a no-op.
func (w *socketWaiter) close() {
	if w != nil && w.f != nil {
		_ = w.f.Close()
	}
}
