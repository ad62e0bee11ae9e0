package container

import (
	"context"
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Open sessions after the hand-off.
//
// gnet accepts connections, serves plain HTTP and runs the WebSocket
// handshake. When a session opens, its socket leaves gnet: the container
// duplicates the descriptor (detach), writes the 101 on the duplicate, and
// gnet closes its own descriptor; in gnet's OnClose the bytes gnet had
// read past the request are carried over, and the duplicate is registered,
// edge-triggered, with one of the container's pollers (adopt).
//
// A poller only reports readiness, as Tomcat's and Jetty's selectors do:
//   - an inline endpoint's session is read, decoded and delivered on the
//     poller's goroutine, which is its event loop;
//   - any other session is queued on its web context's executor, and the
//     worker reads the socket itself, decodes and delivers in the same
//     turn (see session.run). A message's bytes are read, decoded and
//     handled on one core, with no copy from a loop's buffer to the
//     worker's, and a session whose endpoint falls behind is simply not
//     read: TCP's flow control holds its client back, with no buffer on
//     our side growing.
//
// Sending is unchanged: senders write the duplicate directly (send.go).
// What the socket does not take waits in the sock's outbuf, which the
// poller writes when the socket reports room (EPOLLOUT), and the poller
// runs the tasks that gnet's loop ran for the session (the staged-send
// flusher, the send path's polls, the close).
//
// When the descriptor cannot be duplicated (no descriptors left), or bytes
// of an earlier HTTP response still wait in gnet, the session stays on
// gnet, which then reads it on its loop (Config.LoopReads makes every
// session stay, for comparison).

// errPollerStopped is returned by Execute once the poller has stopped.
var errPollerStopped = errors.New("container: poller stopped")

// errNotSupported is returned by the gnet.EventLoop methods a poller does
// not offer.
var errNotSupported = errors.New("container: not supported by the poller")

// poller waits for the readiness of the sockets registered with it, and
// runs tasks handed to it (Execute), on one goroutine.
type poller struct {
	c    *Container
	epfd int
	efd  int // an eventfd: Execute wakes the poller through it
	// epf holds epfd; eprc is set when the Go runtime's poller watches it:
	// the poller's goroutine parks there rather than in epoll_wait (see
	// parkOnRuntime).
	epf  *os.File
	eprc syscall.RawConn
	// The poller goroutine's events buffer, and the callback of its
	// parked wait with that wait's results (look is made once: a method
	// value formed per wait would be allocated per wait).
	events  []unix.EpollEvent
	ready   int
	readErr error
	look    func(uintptr) bool

	mu       sync.Mutex
	tasks    []gnet.Runnable
	spare    []gnet.Runnable
	notified atomic.Bool // the eventfd has been written and not read yet
	stopped  atomic.Bool
	done     chan struct{}
}

func newPoller(c *Container) (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(efd)
		return nil, err
	}
	p := &poller{c: c, epfd: epfd, efd: efd, events: make([]unix.EpollEvent, 128), done: make(chan struct{})}
	p.parkOnRuntime()
	go p.run()
	return p, nil
}

// parkOnRuntime registers the epoll descriptor with the Go runtime's own
// poller (an epoll descriptor is readable while it has events), so that
// an idle poller parks its goroutine instead of blocking a thread in
// epoll_wait. A thread blocked in a system call keeps its P until sysmon
// takes it away; with a poller going in and out of epoll_wait thousands
// of times a second, sysmon then polls every 20 µs and threads are handed
// Ps, woken and put to sleep over and over. Parked, the poller costs the
// scheduler nothing: an idle P's thread blocks in the runtime's own
// epoll_wait and wakes the poller's goroutine when there is work.
func (p *poller) parkOnRuntime() {
	if unix.SetNonblock(p.epfd, true) != nil {
		return
	}
	// From here f owns epfd (stop closes it through f).
	p.epf = os.NewFile(uintptr(p.epfd), "wsc-poller")
	if p.epf.SetReadDeadline(time.Time{}) != nil {
		return // not registered with the runtime's poller (ErrNoDeadline)
	}
	p.look = p.lookNow
	p.eprc, _ = p.epf.SyscallConn()
}

// run is the poller's loop.
func (p *poller) run() {
	defer close(p.done)
	for !p.stopped.Load() {
		n, err := p.wait()
		if err != nil {
			if !p.stopped.Load() {
				p.c.log.Error("poller stopped", "err", err)
			}
			return
		}
		for i := range p.events[:n] {
			ev := &p.events[i]
			if int(ev.Fd) == p.efd {
				p.runTasks()
				continue
			}
			k := p.c.socks.get(int(ev.Fd))
			if k == nil {
				continue // closed since epoll_wait returned
			}
			if ev.Events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 && k.wantOut.Load() {
				k.onWritable()
			}
			if ev.Events&(unix.EPOLLRDHUP|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
				k.hup.Store(true)
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
				k.onReadable()
			}
		}
	}
}

// wait returns the next events. Like gnet's loop, it waits only after a
// look that found nothing has let other goroutines run: the worker a
// readable session was just queued for then usually runs at once on this
// P, and may leave more work behind.
func (p *poller) wait() (int, error) {
	if p.lookNow(0) {
		return p.ready, p.readErr
	}
	runtime.Gosched()
	if p.eprc == nil {
		for {
			n, err := unix.EpollWait(p.epfd, p.events, -1)
			if err != unix.EINTR {
				return n, err
			}
		}
	}
	if err := p.eprc.Read(p.look); err != nil {
		return 0, err
	}
	return p.ready, p.readErr
}

// lookNow reads the events ready now into p.events, without waiting, and
// reports whether there were any (or an error).
func (p *poller) lookNow(uintptr) bool {
	for {
		n, err := epollWaitNow(p.epfd, p.events)
		if err != unix.EINTR {
			p.ready, p.readErr = max(n, 0), err
			return n > 0 || err != nil
		}
	}
}

// runTasks runs the tasks queued with Execute.
func (p *poller) runTasks() {
	var b [8]byte
	_, _ = unix.Read(p.efd, b[:])
	p.notified.Store(false)
	p.mu.Lock()
	tasks := p.tasks
	p.tasks, p.spare = p.spare, nil
	p.mu.Unlock()
	for i, t := range tasks {
		tasks[i] = nil
		_ = t.Run(context.Background())
	}
	p.mu.Lock()
	if p.spare == nil && cap(tasks) <= 1024 {
		p.spare = tasks[:0]
	}
	p.mu.Unlock()
}

// Execute runs r on the poller's goroutine, soon; it implements
// gnet.EventLoop, so that the send path and the flushers treat a poller as
// the session's loop.
func (p *poller) Execute(_ context.Context, r gnet.Runnable) error {
	if p.stopped.Load() {
		return errPollerStopped
	}
	p.mu.Lock()
	p.tasks = append(p.tasks, r)
	p.mu.Unlock()
	if !p.notified.Swap(true) {
		one := [8]byte{1}
		_, _ = unix.Write(p.efd, one[:])
	}
	return nil
}

// Register implements gnet.EventLoop; a poller does not dial.
func (p *poller) Register(context.Context, net.Addr) (<-chan gnet.RegisteredResult, error) {
	return nil, errNotSupported
}

// Enroll implements gnet.EventLoop; a poller adopts sessions only.
func (p *poller) Enroll(context.Context, net.Conn) (<-chan gnet.RegisteredResult, error) {
	return nil, errNotSupported
}

// Schedule implements gnet.EventLoop; not offered, as in gnet.
func (p *poller) Schedule(context.Context, gnet.Runnable, time.Duration) error {
	return errNotSupported
}

// Close implements gnet.EventLoop; a poller's sockets close through their
// sessions.
func (p *poller) Close(gnet.Conn) error { return errNotSupported }

// stop ends the poller's goroutine and waits for it; the tasks still
// queued run here, so that no close or completion is lost.
func (p *poller) stop() {
	p.stopped.Store(true)
	one := [8]byte{1}
	_, _ = unix.Write(p.efd, one[:])
	<-p.done
	p.mu.Lock()
	tasks := p.tasks
	p.tasks = nil
	p.mu.Unlock()
	for _, t := range tasks {
		_ = t.Run(context.Background())
	}
	if p.epf != nil {
		_ = p.epf.Close()
	} else {
		_ = unix.Close(p.epfd)
	}
	_ = unix.Close(p.efd)
}

// The bits of sock.refs above the count of reads in progress.
const (
	sockClosed   = 1 << 62 // the sock is closed: no new read may start
	sockReleased = 1 << 61 // the descriptor has been closed
)

// sock is a session's socket after the hand-off: the duplicated
// descriptor, registered with a poller. It is the session's transport.
type sock struct {
	fd int
	p  *poller
	s  *session
	// refs counts the reads in progress, with the sockClosed and
	// sockReleased bits: the descriptor is closed by whoever sees no read
	// left once the sock is closed, so a read never reaches a number the
	// kernel has given to another connection. Writes need no count: they
	// happen under out.mu while the session is not closed for sending,
	// and closeNow closes it for sending first.
	refs atomic.Int64
	// readable: the poller saw the socket readable and the session's turn
	// has not read it to the end yet.
	readable atomic.Bool
	// wantOut: outbuf holds bytes, so EPOLLOUT matters.
	wantOut atomic.Bool
	// hup: the peer has closed its side, or the connection failed; reads
	// go on until they see it.
	hup atomic.Bool
	// adopted: gnet has let the connection go and the bytes it held are in
	// carry; reads may start.
	adopted atomic.Bool

	lmu        sync.Mutex
	registered bool // with the poller (guarded by lmu)
	closing    bool // closeNow has begun (guarded by lmu)

	// outbuf holds the bytes of AsyncWrites the socket did not take, in
	// order (guarded by the session's out.mu).
	outbuf []byte

	// Reader state [the session's turn]. carry holds bytes read and not
	// decoded: the start of an incomplete frame header or control frame,
	// or, with decodeFirst, what a stopped decode left or gnet held.
	carry       []byte
	decodeFirst bool
}

// Close implements transport: the sock closes on its poller's goroutine,
// as a gnet connection does on its loop.
func (k *sock) Close() error {
	if k.p.Execute(context.Background(), k) != nil {
		k.closeNow()
	}
	return nil
}

// Run implements gnet.Runnable for Close.
func (k *sock) Run(context.Context) error {
	k.closeNow()
	return nil
}

// closeNow closes the session's connection: what the socket takes of the
// bytes still waiting is written, the session is closed for sending and
// its OnClose is posted (session.ended), and the descriptor is closed once
// no read is in progress.
func (k *sock) closeNow() {
	k.lmu.Lock()
	if k.closing {
		k.lmu.Unlock()
		return
	}
	k.closing = true
	if k.registered {
		_ = unix.EpollCtl(k.p.epfd, unix.EPOLL_CTL_DEL, k.fd, nil)
		k.p.c.socks.clear(k.fd, k)
	}
	k.lmu.Unlock()
	s := k.s
	s.out.mu.Lock()
	if len(k.outbuf) > 0 && !s.out.closed {
		_, _ = writeFD(k.fd, k.outbuf) // as gnet does before it closes
	}
	k.outbuf = nil
	k.wantOut.Store(false)
	s.out.mu.Unlock()
	s.cont.conns.Add(-1)
	s.setFlag(flagOnLoop) // an inline endpoint's OnClose runs here
	s.ended(k)
	s.clearFlag(flagOnLoop)
	k.drain()
	if k.refs.Or(sockClosed) == 0 && k.refs.CompareAndSwap(sockClosed, sockClosed|sockReleased) {
		_ = unix.Close(k.fd)
	}
}

// maxDrain bounds what closeNow reads and drops.
const maxDrain = 256 << 10

// drain reads and drops what the peer sent and nobody read, up to
// maxDrain: a socket closed with bytes unread sends a reset instead of a
// FIN, and the reset can make the peer drop our close frame unread. (gnet
// read every socket eagerly, so its closes seldom found any.)
func (k *sock) drain() {
	bp := readBufs.Get().(*[]byte)
	for total := 0; total < maxDrain; {
		n, err := k.read(*bp)
		if n <= 0 || err != nil {
			break
		}
		total += n
	}
	readBufs.Put(bp)
}

// read reads from the socket into b, unless the sock is closed.
func (k *sock) read(b []byte) (int, error) {
	if k.refs.Add(1)&sockClosed != 0 {
		k.unref()
		return 0, net.ErrClosed
	}
	n, err := rawRead(k.fd, b)
	k.unref()
	return n, err
}

func (k *sock) unref() {
	if k.refs.Add(-1) == sockClosed && k.refs.CompareAndSwap(sockClosed, sockClosed|sockReleased) {
		_ = unix.Close(k.fd)
	}
}

// Wake implements transport: the session's turn reads the socket again
// (after OnOpen, or once the endpoint has caught up with a full mailbox).
func (k *sock) Wake(gnet.AsyncCallback) error {
	if k.s.has(flagInline) {
		return k.p.Execute(context.Background(), (*inlineRead)(k))
	}
	k.s.scheduleRead()
	return nil
}

// AsyncWrite implements transport for the send path's queued mode, as
// gnet's does: b is written after every byte queued before it, and cb is
// called on the poller once b is written or queued. The caller holds the
// session's out.mu.
func (k *sock) AsyncWrite(b []byte, cb gnet.AsyncCallback) error {
	if k.s.out.closed {
		return net.ErrClosed
	}
	if len(k.outbuf) == 0 {
		n, err := writeFD(k.fd, b)
		if err != nil {
			return err
		}
		b = b[n:]
	}
	if len(b) > 0 {
		k.outbuf = append(k.outbuf, b...)
		k.wantOut.Store(true)
	}
	if cb == nil {
		return nil
	}
	return k.p.Execute(context.Background(), &asyncDone{cb: cb})
}

// asyncDone calls an AsyncWrite's callback on the poller.
type asyncDone struct{ cb gnet.AsyncCallback }

func (a *asyncDone) Run(context.Context) error { return a.cb(nil, nil) }

// OutboundBuffered implements transport: the bytes waiting in outbuf. The
// caller holds the session's out.mu.
func (k *sock) OutboundBuffered() int { return len(k.outbuf) }

// EventLoop implements transport: the poller is the session's loop.
func (k *sock) EventLoop() gnet.EventLoop { return k.p }

// onWritable writes what waits in outbuf, and when it is all written moves
// the send path's waiting frames on (which gnet leaves to a poll). It runs
// on the poller.
func (k *sock) onWritable() {
	s := k.s
	o := &s.out
	o.mu.Lock()
	if o.closed || len(k.outbuf) == 0 {
		o.mu.Unlock()
		return
	}
	n, err := writeFD(k.fd, k.outbuf)
	if err != nil {
		o.mu.Unlock()
		_ = k.Close()
		return
	}
	rest := copy(k.outbuf, k.outbuf[n:])
	k.outbuf = k.outbuf[:rest]
	var ready []*sendOp
	if rest == 0 {
		if cap(k.outbuf) > 64<<10 {
			k.outbuf = nil // do not keep a burst's storage
		}
		k.wantOut.Store(false)
		o.backlog = 0
		ready = s.progressLocked()
	}
	o.mu.Unlock()
	notify(ready)
}

// onReadable runs on the poller when the socket has bytes, or the peer
// closed or failed: an inline endpoint's session reads here, any other is
// queued on its executor.
func (k *sock) onReadable() {
	k.readable.Store(true)
	if !k.adopted.Load() {
		return // adopt reads once gnet's bytes are carried over
	}
	if k.s.has(flagInline) {
		(*inlineRead)(k).readHere()
		return
	}
	k.s.scheduleRead()
}

// inlineReads bounds the reads of one inline session per wake-up, so that
// a client that never stops sending cannot keep the poller to itself.
const inlineReads = 4

// inlineRead is an inline session's read, as a task for its poller.
type inlineRead sock

// Run implements gnet.Runnable.
func (r *inlineRead) Run(context.Context) error {
	r.readHere()
	return nil
}

// readHere reads and delivers an inline session's messages on the poller.
func (r *inlineRead) readHere() {
	k := (*sock)(r)
	s := k.s
	if s.has(flagOpening) {
		// OnOpen runs on the executor (the handshake was served there):
		// publish held, then look again, as readFrames does; openDone
		// clears opening, then looks at held, and wakes this sock.
		s.setFlag(flagHeld)
		if s.has(flagOpening) {
			return
		}
	}
	s.setFlag(flagOnLoop)
	more := true // false: decoding is paused, and maybeResume wakes us
	for i := 0; more && i < inlineReads && s.wantsRead(k); i++ {
		more = s.readSock(k)
	}
	s.clearFlag(flagOnLoop)
	if more && s.wantsRead(k) {
		_ = k.p.Execute(context.Background(), r) // after the others' turns
	}
}

// fdTable maps the descriptors of adopted sessions to their socks, for the
// pollers: lock-free to read, one chunk of fdChunk entries allocated as the
// descriptors first reach it.
type fdTable struct {
	mu     sync.Mutex
	chunks [fdChunks]atomic.Pointer[[fdChunk]atomic.Pointer[sock]]
	big    sync.Map // descriptors past the table
}

const (
	fdChunk  = 1024
	fdChunks = 1024
)

func (t *fdTable) get(fd int) *sock {
	if fd < 0 {
		return nil
	}
	if i := fd / fdChunk; i < fdChunks {
		if c := t.chunks[i].Load(); c != nil {
			return c[fd%fdChunk].Load()
		}
		return nil
	}
	if v, ok := t.big.Load(fd); ok {
		return v.(*sock)
	}
	return nil
}

func (t *fdTable) set(fd int, k *sock) {
	i := fd / fdChunk
	if i >= fdChunks {
		t.big.Store(fd, k)
		return
	}
	c := t.chunks[i].Load()
	if c == nil {
		t.mu.Lock()
		if c = t.chunks[i].Load(); c == nil {
			c = new([fdChunk]atomic.Pointer[sock])
			t.chunks[i].Store(c)
		}
		t.mu.Unlock()
	}
	c[fd%fdChunk].Store(k)
}

// clear removes fd's entry if it is still k's.
func (t *fdTable) clear(fd int, k *sock) {
	i := fd / fdChunk
	if i >= fdChunks {
		t.big.CompareAndDelete(fd, k)
		return
	}
	if c := t.chunks[i].Load(); c != nil {
		c[fd%fdChunk].CompareAndSwap(k, nil)
	}
}

// each calls f for every sock in the table.
func (t *fdTable) each(f func(*sock)) {
	for i := range t.chunks {
		if c := t.chunks[i].Load(); c != nil {
			for j := range c {
				if k := c[j].Load(); k != nil {
					f(k)
				}
			}
		}
	}
	t.big.Range(func(_, v any) bool {
		f(v.(*sock))
		return true
	})
}
