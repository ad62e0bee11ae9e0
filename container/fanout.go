package container

import (
	"context"
	"sync"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/wsc-dev/wsc/endpoint"
)

// Staged sends: fan-out and corking.
//
// Writing the frame to each subscriber from the broadcaster's goroutine
// costs one system call per subscriber, all on one core, and the next
// message waits until the last subscriber has its copy. Instead, a
// broadcast to fanoutMin sessions or more stages the shared frame on each
// subscriber (a few nanoseconds under its out.mu) and leaves the writing to
// the subscriber's own event loop: the loops write in parallel, and when
// they fall behind, a subscriber's staged frames leave in one writev. The
// cost per delivery then falls as the load rises, the way a
// goroutine-per-connection server gains from its writers' batching.
//
// A session is staged (out.stage) only from direct mode, so nothing of it
// is in gnet. Its staged frames wait in the FIFO, and every frame sent
// meanwhile goes behind them (transmit), so the order of a session's frames
// is kept. The first staged frame registers the session with its loop's
// flusher, which arms one gnet task per loop, not per session; the task
// writes each registered session's FIFO with one writev and returns the
// session to direct mode, or hands what the socket did not take to gnet as
// any queued frame (progressLocked). Anything else that takes the FIFO over
// (progressLocked, OnClose) clears out.stage, so the flush then has
// nothing to do. While the loop writes (stageFlushing), frames sent meanwhile
// are added to the FIFO and written by the same flush.
//
// Corking stages a session's own replies the same way. While the executor
// delivers an event with more events behind it in the mailbox, or an
// inline endpoint's loop a message with more bytes behind it in the read,
// the session is corked (flagCorked) and its sends are staged; the turn
// ends with one writev of them all (flushStagedHere). Pipelined requests
// then cost one system call per turn instead of one per reply. A callback
// that blocks while corked does not hold its replies back: the executor
// registers the session with the loop's flusher too, which writes them if
// the turn has not ended by then. A lone event is not corked, so a
// request-reply exchange writes directly, with no extra step.

// fanoutMin is the smallest broadcast that stages its frame on the
// subscribers' loops. A smaller one writes directly: a loop's wake-up would
// cost more than it saves.
const fanoutMin = 8

// maxIOV bounds the buffers of one writev (Linux's UIO_MAXIOV is 1024).
const maxIOV = 64

// stageState says whether a session's FIFO holds staged frames.
type stageState uint8

const (
	stageNone     stageState = iota
	stageWaiting             // staged, for the loop's flusher or a helping sender
	stageFlushing            // the loop is writing them, without out.mu
)

// loopFlusher writes the staged frames of the sessions of one event loop.
type loopFlusher struct {
	loop gnet.EventLoop
	task gnet.Runnable

	mu    sync.Mutex
	queue []*session // sessions with staged frames, in staging order
	spare []*session // the last batch's storage, for the next queue
	armed bool       // a flush task is queued on the loop and has not started
}

// flushScratch is the storage one flush works in.
type flushScratch struct {
	iov  [][]byte
	vecs []unix.Iovec
	done []*sendOp
}

var flushScratches = sync.Pool{New: func() any { return new(flushScratch) }}

// flusherFor returns the flusher of loop, creating it on first use.
func (c *Container) flusherFor(loop gnet.EventLoop) *loopFlusher {
	if f, ok := c.flushers.Load(loop); ok {
		return f.(*loopFlusher)
	}
	f := &loopFlusher{loop: loop}
	f.task = gnet.RunnableFunc(f.run)
	v, _ := c.flushers.LoadOrStore(loop, f)
	return v.(*loopFlusher)
}

// add registers s, whose first frame was just staged, and makes sure a
// flush is on its way.
func (f *loopFlusher) add(s *session) {
	f.mu.Lock()
	f.queue = append(f.queue, s)
	arm := !f.armed
	f.armed = true
	f.mu.Unlock()
	if !arm {
		return
	}
	if err := f.loop.Execute(context.Background(), f.task); err != nil {
		// The engine is stopping: write from here, as a direct send would.
		f.flush(false)
	}
}

// run flushes every registered session on the loop.
func (f *loopFlusher) run(context.Context) error {
	f.flush(true)
	return nil
}

// flush flushes every registered session; onLoop says whether it runs on
// the loop (else on the caller of add, when the loop is gone). Sessions
// staged while it runs are queued again with a new task armed for them.
func (f *loopFlusher) flush(onLoop bool) {
	f.mu.Lock()
	batch := f.queue
	f.queue, f.spare = f.spare, nil
	f.armed = false
	f.mu.Unlock()
	sc := flushScratches.Get().(*flushScratch)
	for i, s := range batch {
		batch[i] = nil
		s.flushStaged(sc, onLoop)
	}
	flushScratches.Put(sc)
	f.mu.Lock()
	if f.spare == nil {
		f.spare = batch[:0]
	}
	f.mu.Unlock()
}

// flushStaged writes the session's staged frames, up to maxIOV per writev,
// until they are all written or the socket is full, and completes the ones
// written; the rest goes to gnet.
//
// On the loop it writes without holding out.mu, so that senders staging
// more frames meanwhile do not wait for the system call: they only append
// to the FIFO (stageFlushing keeps every other writer off the socket), and
// the descriptor cannot be closed under the write, because gnet closes it
// on this same goroutine. Anywhere else the write happens under out.mu, as
// every direct write does.
func (s *session) flushStaged(f *flushScratch, onLoop bool) {
	o := &s.out
	o.mu.Lock()
	if o.stage != stageWaiting || o.closed {
		if o.closed {
			o.stage = stageNone
		}
		o.mu.Unlock()
		return
	}
	o.stage = stageFlushing
	done := f.done[:0]
	for o.waiting() {
		iov := f.iov[:0]
		want := 0
		for _, op := range o.ops() {
			if len(iov) == maxIOV {
				break
			}
			iov = append(iov, op.w.b)
			want += len(op.w.b)
		}
		if onLoop {
			o.mu.Unlock()
		}
		wrote, err := writevAll(int(s.fd), iov, &f.vecs)
		if onLoop {
			o.mu.Lock()
		}
		clear(iov)
		f.iov = iov[:0]
		if o.closed && err == nil {
			// Closed while the socket was written: closeOutbound has
			// failed the frames in the FIFO and dropped it. gnet calls it
			// on this goroutine, so only a caller off the loop gets here.
			// The frames of the earlier rounds had left the FIFO, and are
			// still ours to complete.
			o.stage = stageNone
			o.mu.Unlock()
			s.finishWritten(f, done, nil)
			return
		}
		if err != nil {
			o.closed = true
			o.stage = stageNone
			o.mu.Unlock()
			_ = s.c.Close() // OnClose releases the FIFO and fails its waiters
			clear(done)
			f.done = done[:0]
			return
		}
		// The frames written leave the FIFO now, before the lock can be
		// released again: only the FIFO's frames are anyone else's to fail.
		// Senders only append meanwhile, so they are at its front.
		fifo := o.ops()
		k, n := 0, wrote
		for ; k < len(fifo) && n >= len(fifo[k].w.b); k++ {
			op := fifo[k]
			n -= len(op.w.b)
			o.fifoBytes -= fifoCost(op.n)
			done = append(done, op)
		}
		if n > 0 { // the socket took part of the next frame
			op := fifo[k]
			op.w.b = op.w.b[n:]
			op.n -= n
			o.fifoBytes -= n
		}
		rest := copy(fifo, fifo[k:])
		clear(fifo[rest:])
		o.setOps(fifo[:rest])
		if wrote < want {
			break // the socket is full
		}
	}
	o.stage = stageNone
	o.checkFIFO()
	var ready []*sendOp
	if !o.waiting() {
		o.direct = true
		o.pollShift = 0
		if cap(o.ops()) > maxIOV {
			o.setOps(nil) // do not keep a burst's storage
		}
	} else {
		ready = s.progressLocked() // through gnet, as any queued frame
	}
	o.mu.Unlock()
	s.finishWritten(f, done, ready)
}

// finishWritten completes done, the frames a flush wrote, releases the
// Basic waiters of ready, and closes the connection when one of the frames
// was the last (a close frame). o.mu must not be held.
func (s *session) finishWritten(f *flushScratch, done, ready []*sendOp) {
	closeAfter := false
	for i, op := range done {
		done[i] = nil
		h, wait, last := op.finish()
		closeAfter = closeAfter || last
		if wait != nil {
			wait <- nil
		}
		if h != nil {
			h(nil)
		}
	}
	f.done = done[:0]
	if closeAfter {
		_ = s.c.Close()
	}
	notify(ready)
}

// flushStagedHere writes the session's staged frames from the calling
// goroutine, for a sender that finds its loop too far behind.
func (s *session) flushStagedHere() {
	sc := flushScratches.Get().(*flushScratch)
	s.flushStaged(sc, false)
	flushScratches.Put(sc)
}

// stage queues w, a broadcast frame, for the session's loop to write. It
// reports whether the frame was accepted (as Async().Send would) and
// whether this is the session's first staged frame, which the caller
// registers with the loop's flusher. A session that is not in direct mode
// takes w as any other Async send. When maxIOV frames or
// MaxPendingOutboundBytes are staged already, the loop has fallen behind
// the broadcaster, who then writes them itself (in one writev): a fast
// broadcaster is slowed down to the sockets' pace, as by a direct write,
// instead of piling up frames and latency, or closing subscribers that
// read fast enough.
func (s *session) stage(w wframe) (ok, first bool) {
	o := &s.out
	n := len(w.b)
	for {
		o.mu.Lock()
		switch {
		case o.closed || o.closeSent:
			o.mu.Unlock()
			w.release()
			return false, false
		case o.stage == stageWaiting && (len(o.ops()) >= maxIOV || o.fifoBytes+fifoCost(n) > s.settings().MaxPendingOutboundBytes):
			o.mu.Unlock()
			s.flushStagedHere()
			continue
		case o.stage != stageNone:
		case o.direct && !o.waiting() && !o.streaming:
		default:
			o.mu.Unlock()
			return s.transmit(w, false, policyAsync, nil) == nil, false
		}
		s.touch()
		first = s.stageLocked(newSendOp(s, w, nil))
		o.mu.Unlock()
		return true, first
	}
}

// stageLocked adds op to the session's staged frames, staging the session
// if it was in direct mode; it reports whether it was, and the caller must
// then register the session with its loop's flusher. o.mu must be held.
func (s *session) stageLocked(op *sendOp) (first bool) {
	o := &s.out
	if o.stage == stageNone {
		o.direct, o.stage, first = false, stageWaiting, true
	}
	o.push(op)
	return first
}

// sendOps recycles the operations of staged frames and of frames sent
// behind them, which a flush completes; finish puts them back.
var sendOps = sync.Pool{New: func() any { return new(sendOp) }}

func newSendOp(s *session, w wframe, done endpoint.SendHandler) *sendOp {
	op := sendOps.Get().(*sendOp)
	op.s, op.w, op.n, op.done, op.pooled = s, w, len(w.b), done, true
	return op
}

func putSendOp(op *sendOp) {
	*op = sendOp{}
	sendOps.Put(op)
}

// writevAll writes bufs to a non-blocking socket until it is full, with
// vecs as the storage of the system call's vector (unix.Writev allocates
// one per call). It returns how much was written; EAGAIN is not an error.
func writevAll(fd int, bufs [][]byte, vecs *[]unix.Iovec) (int, error) {
	if len(bufs) == 1 {
		return writeFD(fd, bufs[0])
	}
	written := 0
	for len(bufs) > 0 {
		v := (*vecs)[:0]
		total := 0
		for _, b := range bufs {
			if len(b) > 0 {
				iov := unix.Iovec{Base: &b[0]}
				iov.SetLen(len(b))
				v = append(v, iov)
				total += len(b)
			}
		}
		*vecs = v
		n, err := rawWritev(fd, v, total)
		clear(v) // drop the references to the buffers
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return written, nil
		case err != nil:
			return written, err
		}
		written += n
		for len(bufs) > 0 && n >= len(bufs[0]) {
			n -= len(bufs[0])
			bufs = bufs[1:]
		}
		if n > 0 {
			// A short write: the socket is full, or nearly. Let the caller
			// queue the rest rather than split a buffer here.
			return written, nil
		}
	}
	return written, nil
}
