package container

// Benchmarks of the three stages of the hot path, each on its own, with the
// container's internal types and no gnet engine:
//
//   - decode:   gnet's OnTraffic over a buffer holding masked client frames,
//     up to the message posted in the session's mailbox;
//   - dispatch: a message posted to a mailbox, up to the endpoint's handler
//     having run on the context's executor;
//   - send:     Basic().SendBinary / SendText and Broadcast, up to the frame
//     written to a real loopback TCP socket.
//
// TestHotPathAllocs holds each stage at zero allocations per message.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/wsc-dev/wsc/endpoint"
)

// hotSizes are the payload sizes every hot-path benchmark runs at.
var hotSizes = []struct {
	name string
	n    int
}{{"16B", 16}, {"1KiB", 1 << 10}, {"8KiB", 8 << 10}}

// hotWarmup is how many messages warm the pools, the mailbox slices and the
// executor's workers before anything is measured.
const hotWarmup = 2000

var errNoLoop = errors.New("hotConn: no event loop")

// hotConn is the part of gnet.Conn a session uses, over an in-memory
// inbound buffer (decode) and a real socket descriptor (send). The embedded
// nil Conn makes any other method panic. With startLoop, a goroutine plays
// gnet's event loop for AsyncWrite (the fallback when the socket is full)
// and EventLoop().Execute.
type hotConn struct {
	gnet.Conn
	ctx  any
	addr net.Addr

	buf []byte // backing array of in, reused
	in  []byte // inbound bytes not yet discarded
	fd  int

	mu     sync.Mutex
	tasks  []hotTask
	spare  []hotTask // the loop's last batch, reused so the fake allocates nothing
	wake   chan struct{}
	quit   chan struct{}
	exited chan struct{}
	async  atomic.Int64 // AsyncWrite calls: the socket did not take a whole frame
	closed atomic.Bool
	held   atomic.Bool // the fake loop leaves its tasks queued until release
	loopv  *hotLoop
}

// hotTask is an AsyncWrite or an Execute for the fake event loop.
type hotTask struct {
	b   []byte
	cb  gnet.AsyncCallback
	run gnet.Runnable
	ctx context.Context
}

var hotAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}

func newHotConn(fd int) *hotConn {
	f := &hotConn{fd: fd, addr: hotAddr}
	f.loopv = &hotLoop{f: f} // one value, as gnet's loop is one pointer
	return f
}

// load replaces the inbound buffer with a copy of b, as a read from the
// socket into gnet's buffer would. The decoder unmasks in place, so every
// round needs fresh masked bytes.
func (f *hotConn) load(b []byte) {
	f.buf = append(f.buf[:0], b...)
	f.in = f.buf
}

func (f *hotConn) Context() any                  { return f.ctx }
func (f *hotConn) SetContext(ctx any)            { f.ctx = ctx }
func (f *hotConn) Peek(int) ([]byte, error)      { return f.in, nil }
func (f *hotConn) InboundBuffered() int          { return len(f.in) }
func (f *hotConn) OutboundBuffered() int         { return 0 } // the fake loop writes before it calls back
func (f *hotConn) Fd() int                       { return f.fd }
func (f *hotConn) RemoteAddr() net.Addr          { return f.addr }
func (f *hotConn) Wake(gnet.AsyncCallback) error { return nil }
func (f *hotConn) EventLoop() gnet.EventLoop     { return f.loopv }
func (f *hotConn) Close() error                  { f.closed.Store(true); return nil }

func (f *hotConn) Discard(n int) (int, error) {
	if n <= 0 || n > len(f.in) {
		n = len(f.in)
	}
	f.in = f.in[n:]
	return n, nil
}

func (f *hotConn) AsyncWrite(b []byte, cb gnet.AsyncCallback) error {
	f.async.Add(1)
	return f.enqueue(hotTask{b: b, cb: cb})
}

func (f *hotConn) enqueue(t hotTask) error {
	if f.wake == nil {
		return errNoLoop
	}
	f.mu.Lock()
	f.tasks = append(f.tasks, t)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
	return nil
}

// hold makes the fake loop leave its tasks queued, as a busy loop would.
func (f *hotConn) hold() { f.held.Store(true) }

// release lets the fake loop run its queued tasks again.
func (f *hotConn) release() {
	f.held.Store(false)
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// runOnLoop runs fn on the fake event loop, after the tasks queued before
// it, and waits for it; without a loop it runs fn here.
func (f *hotConn) runOnLoop(fn func()) {
	ran := make(chan struct{})
	task := gnet.RunnableFunc(func(context.Context) error { fn(); close(ran); return nil })
	if f.enqueue(hotTask{run: task, ctx: context.Background()}) != nil {
		fn()
		return
	}
	f.release()
	<-ran
}

// startLoop starts the fake event loop; it stops when the test ends.
func (f *hotConn) startLoop(tb testing.TB) {
	f.wake = make(chan struct{}, 1)
	f.quit = make(chan struct{})
	f.exited = make(chan struct{})
	go f.loop()
	tb.Cleanup(func() {
		close(f.quit)
		<-f.exited
	})
}

func (f *hotConn) loop() {
	defer close(f.exited)
	pfd := []unix.PollFd{{Fd: int32(f.fd), Events: unix.POLLOUT}}
	for {
		select {
		case <-f.wake:
		case <-f.quit:
			return
		}
		if f.held.Load() {
			continue
		}
		for {
			f.mu.Lock()
			tasks := f.tasks
			f.tasks, f.spare = f.spare[:0], nil
			f.mu.Unlock()
			if len(tasks) == 0 {
				break
			}
			for i, t := range tasks {
				tasks[i] = hotTask{}
				if t.run != nil {
					_ = t.run.Run(t.ctx)
					continue
				}
				err := f.writeAll(t.b, pfd)
				if t.cb != nil {
					_ = t.cb(f, err)
				}
			}
			f.mu.Lock()
			f.spare = tasks[:0]
			f.mu.Unlock()
		}
	}
}

// writeAll writes b to the non-blocking descriptor, waiting for room.
func (f *hotConn) writeAll(b []byte, pfd []unix.PollFd) error {
	for len(b) > 0 {
		if f.closed.Load() {
			return net.ErrClosed
		}
		n, err := unix.Write(f.fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			_, _ = unix.Poll(pfd, 100)
			continue
		case err != nil:
			return err
		}
		b = b[n:]
	}
	return nil
}

// hotLoop is the fake event loop's gnet.EventLoop: only Execute is used
// (by the send path's poll of gnet's outbound buffer and by fan-out).
type hotLoop struct {
	gnet.EventLoop
	f *hotConn
}

func (l *hotLoop) Execute(ctx context.Context, r gnet.Runnable) error {
	return l.f.enqueue(hotTask{run: r, ctx: ctx})
}

// hotEndpoint sets a binary and a raw text handler that do nothing but
// signal ran (when not nil).
type hotEndpoint struct{ ran chan struct{} }

func (e *hotEndpoint) OnOpen(s endpoint.Session, _ *endpoint.ServerConfig) {
	s.SetBinaryHandler(e.handle)
	s.SetRawTextHandler(e.handle)
}

func (e *hotEndpoint) handle([]byte) {
	if e.ran != nil {
		e.ran <- struct{}{}
	}
}

// hotEnv is a container, one web context and one endpoint mapping, set up
// as Deploy and Start would, without the gnet engine.
type hotEnv struct {
	cont   *Container
	ctx    *webContext
	m      *mapping
	manual bool // the executor has no workers: the test runs its tasks
}

// newHotEnv builds the environment. With pooled, the context has a real
// executor (default settings), stopped when the test ends; without, an
// executor with no workers whose queue the test drains itself (runTasks,
// takeMessage), so a stage can be measured without the executor's hop.
func newHotEnv(tb testing.TB, pooled bool) *hotEnv {
	cont := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	settings := Settings{MaxTextMessageBytes: 64 << 10, MaxBinaryMessageBytes: 64 << 10}.withDefaults()
	ctx := &webContext{settings: settings}
	env := &hotEnv{cont: cont, ctx: ctx, manual: !pooled}
	if pooled {
		ctx.exec = newExecutor(settings.Executor)
		tb.Cleanup(func() { ctx.exec.stop(make(chan struct{})) })
	} else {
		ctx.exec = &executor{tasks: make(chan *session, settings.Executor.QueueSize)}
	}
	env.m = &mapping{ctx: ctx, fullPath: "/hot",
		cfg: &endpoint.ServerConfig{Path: "/hot", New: func() endpoint.Endpoint { return &hotEndpoint{} }}}
	return env
}

// session opens a session on conn with ep as its endpoint, as the
// handshake does, and returns once OnOpen has returned.
func (env *hotEnv) session(tb testing.TB, conn *hotConn, ep endpoint.Endpoint) *session {
	tb.Helper()
	s := newSession(conn, env.cont)
	conn.SetContext(s)
	s.ep, s.ctx, s.endpoint = env.m, env.ctx, ep
	env.m.add(s)
	if !s.open(true) {
		tb.Fatal("session did not open")
	}
	if env.manual {
		env.runTasks()
	}
	if !waitFor(5*time.Second, func() bool { return !s.has(flagOpening) && mailboxIdle(s) }) {
		tb.Fatal("OnOpen did not run")
	}
	return s
}

// runTasks runs the sessions queued on a manual executor, as a worker would.
func (env *hotEnv) runTasks() {
	for {
		select {
		case s := <-env.ctx.exec.tasks:
			s.run()
		default:
			return
		}
	}
}

// mailboxIdle reports whether s has no events and is not scheduled.
func mailboxIdle(s *session) bool {
	s.mbMu.Lock()
	defer s.mbMu.Unlock()
	return !s.scheduled && s.mailboxEmpty()
}

// takeMessage plays a manual executor's worker for one turn: it takes s off
// the queue and its single event out of the mailbox, checks that it is a
// message of the kind and size wanted and recycles it, without calling the
// endpoint (that is the dispatch stage).
func (env *hotEnv) takeMessage(tb testing.TB, s *session, kind eventKind, n int) {
	select {
	case got := <-env.ctx.exec.tasks:
		if got != s {
			tb.Fatal("another session was scheduled")
		}
	default:
		tb.Fatal("the message did not schedule the session")
	}
	s.mbMu.Lock()
	ev, ok := s.dequeue()
	if !ok || !s.mailboxEmpty() {
		k := 0
		if ok {
			k = 1 + int(s.mbQueued)
		}
		s.mbMu.Unlock()
		tb.Fatalf("mailbox holds %d events, want 1", k)
	}
	s.mbBytes -= ev.cost()
	s.scheduled = false
	s.mbMu.Unlock()
	if ev.kind != kind || len(ev.bytes()) != n {
		tb.Fatalf("got event %d of %d bytes, want %d of %d", ev.kind, len(ev.bytes()), kind, n)
	}
	putBuf(ev.buf)
}

// hotText returns n bytes of valid UTF-8 mixing 1- to 4-byte code points,
// so that validation leaves its ASCII fast path and fragments split
// sequences.
func hotText(n int) []byte {
	const cycle = "wsc héllo wörld € 𝄞 ünïcödé "
	b := make([]byte, 0, n)
	for len(b) < n {
		for _, r := range cycle {
			if len(b)+len(string(r)) > n {
				break
			}
			b = append(b, string(r)...)
		}
		if len(b)+4 > n {
			for len(b) < n {
				b = append(b, 'x')
			}
		}
	}
	return b
}

// hotBinary returns n bytes of binary payload.
func hotBinary(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

// clientFrames encodes payload as a masked client message of frags frames
// (the first with op, the rest continuations), cut at equal thirds, which
// for text may fall inside a code point.
func clientFrames(op ws.OpCode, payload []byte, frags int) []byte {
	var out []byte
	mask := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	for i := 0; i < frags; i++ {
		lo, hi := len(payload)*i/frags, len(payload)*(i+1)/frags
		fop := op
		if i > 0 {
			fop = ws.OpContinuation
		}
		f := ws.MaskFrameWith(ws.NewFrame(fop, i == frags-1, payload[lo:hi]), mask)
		b, err := ws.CompileFrame(f)
		if err != nil {
			panic(err)
		}
		out = append(out, b...)
	}
	return out
}

// decodeCase is one kind of client message for the decode stage.
type decodeCase struct {
	name  string
	op    ws.OpCode
	frags int
}

var decodeCases = []decodeCase{
	{"binary", ws.OpBinary, 1},
	{"text", ws.OpText, 1},
	{"binary-3frag", ws.OpBinary, 3},
	{"text-3frag", ws.OpText, 3},
}

// decodeRig feeds one message's frames to a session's OnTraffic.
type decodeRig struct {
	env    *hotEnv
	h      *handler
	conn   *hotConn
	s      *session
	frames []byte
	kind   eventKind
	n      int
}

func newDecodeRig(tb testing.TB, dc decodeCase, n int) *decodeRig {
	env := newHotEnv(tb, false)
	conn := newHotConn(-1) // the decoder never writes for data frames
	r := &decodeRig{env: env, h: (*handler)(env.cont), conn: conn, n: n, kind: evBinary}
	r.s = env.session(tb, conn, &hotEndpoint{})
	payload := hotBinary(n)
	if dc.op == ws.OpText {
		payload, r.kind = hotText(n), evText
	}
	r.frames = clientFrames(dc.op, payload, dc.frags)
	return r
}

// once delivers the frames of one message to gnet's OnTraffic and takes the
// message out of the mailbox.
func (r *decodeRig) once(tb testing.TB) {
	r.conn.load(r.frames)
	if r.h.OnTraffic(r.conn) != gnet.None || r.s.in.done || len(r.conn.in) != 0 {
		tb.Fatalf("decoder failed or left %d bytes", len(r.conn.in))
	}
	r.env.takeMessage(tb, r.s, r.kind, r.n)
}

// BenchmarkDecode measures the decode stage per message: gnet's OnTraffic
// (readFrames) parsing the headers of complete masked client frames,
// unmasking in place, validating UTF-8 (text), assembling the message in a
// pooled buffer and posting it to the mailbox, which schedules the session
// on the executor. The executor is a queue drained by the benchmark without
// calling the endpoint. Each op also copies the masked frames into the fake
// inbound buffer (the decoder unmasks in place), standing in for gnet's read
// from the socket. The -3frag cases send the message as three frames.
func BenchmarkDecode(b *testing.B) {
	for _, dc := range decodeCases {
		for _, sz := range hotSizes {
			b.Run(dc.name+"/"+sz.name, func(b *testing.B) {
				r := newDecodeRig(b, dc, sz.n)
				for i := 0; i < hotWarmup; i++ {
					r.once(b)
				}
				b.SetBytes(int64(sz.n))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					r.once(b)
				}
			})
		}
	}
}

// dispatchRig posts binary messages to sessions served by a real executor.
type dispatchRig struct {
	sessions []*session
	ran      chan struct{}
	window   int
	next     int
}

const maxDispatchWindow = 1024

func newDispatchRig(tb testing.TB, sessions, window int) *dispatchRig {
	env := newHotEnv(tb, true)
	r := &dispatchRig{ran: make(chan struct{}, maxDispatchWindow), window: window}
	ep := &hotEndpoint{ran: r.ran}
	for i := 0; i < sessions; i++ {
		r.sessions = append(r.sessions, env.session(tb, newHotConn(-1), ep))
	}
	return r
}

// run posts count messages of size bytes round-robin over the sessions,
// keeping at most window of them not yet handled, and returns once every
// handler has run.
func (r *dispatchRig) run(tb testing.TB, count, size int) {
	for i := 0; i < count; i++ {
		if i >= r.window {
			<-r.ran
		}
		s := r.sessions[r.next]
		if r.next++; r.next == len(r.sessions) {
			r.next = 0
		}
		buf := getBuf(size) // as the decoder hands it over: pooled, filled
		*buf = (*buf)[:size]
		if !s.post(event{kind: evBinary, buf: buf}) {
			tb.Fatal("executor overloaded")
		}
	}
	for i := min(count, r.window); i > 0; i-- {
		<-r.ran
	}
}

// BenchmarkDispatch measures the dispatch stage per message: a decoded
// message (a pooled buffer) posted to a session's mailbox, the session
// scheduled on the context's real executor (default settings: 10 to 30
// workers), a worker running it and calling the endpoint's no-op binary
// handler, and the buffer going back to its pool. With window 1 each op is
// one message's latency, post to handler returned, alone in the system;
// 1000sessions spreads the messages round-robin over 1000 sessions (cold
// mailboxes and session structs); window256 keeps up to 256 messages in
// flight, so ns/op is the executor's throughput per message.
func BenchmarkDispatch(b *testing.B) {
	cases := []struct {
		name             string
		sessions, window int
	}{
		{"1session", 1, 1},
		{"1000sessions", 1000, 1},
		{"1000sessions-window256", 1000, 256},
	}
	for _, dc := range cases {
		b.Run(dc.name, func(b *testing.B) {
			r := newDispatchRig(b, dc.sessions, dc.window)
			for _, sz := range hotSizes {
				b.Run(sz.name, func(b *testing.B) {
					r.run(b, max(hotWarmup, 2*dc.sessions), sz.n)
					b.SetBytes(int64(sz.n))
					b.ReportAllocs()
					b.ResetTimer()
					r.run(b, b.N, sz.n)
				})
			}
		})
	}
}

// sendPeer is one open session whose socket is one end of a loopback TCP
// connection; the test holds the other end.
type sendPeer struct {
	s      *session
	conn   *hotConn
	server *net.TCPConn // owns the session's descriptor
	client *net.TCPConn
	got    atomic.Int64 // bytes the drainer read
	sent   int64        // bytes sent, counted by the benchmark
}

// tcpPair returns both ends of a new loopback TCP connection.
func tcpPair(tb testing.TB) (server, client *net.TCPConn) {
	tb.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Skip("no loopback TCP:", err)
	}
	defer ln.Close()
	accepted := make(chan *net.TCPConn, 1)
	go func() {
		c, _ := ln.AcceptTCP()
		accepted <- c
	}()
	client, err = net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		tb.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		tb.Fatal("accept failed")
	}
	// Room for bursts from the start, rather than autotuning's 16 KiB: the
	// benchmarks measure the direct write, not the peer's scheduling.
	_ = server.SetWriteBuffer(4 << 20)
	_ = client.SetReadBuffer(4 << 20)
	return server, client
}

// newSendPeer opens a session on a new loopback connection. With drain, a
// goroutine reads and counts everything the session sends.
func newSendPeer(tb testing.TB, env *hotEnv, drain bool) *sendPeer {
	server, client := tcpPair(tb)
	p := &sendPeer{server: server, client: client}
	rc, err := server.SyscallConn()
	if err != nil {
		tb.Fatal(err)
	}
	fd := -1
	_ = rc.Control(func(d uintptr) { fd = int(d) }) // non-blocking, as gnet's
	p.conn = newHotConn(fd)
	p.conn.startLoop(tb)
	p.s = env.session(tb, p.conn, &hotEndpoint{})
	stopped := make(chan struct{})
	if drain {
		go func() {
			defer close(stopped)
			buf := make([]byte, 64<<10)
			for {
				n, err := client.Read(buf)
				p.got.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
	} else {
		close(stopped)
	}
	tb.Cleanup(func() {
		// As gnet's OnClose, on the loop: not while a flush writes.
		p.conn.runOnLoop(p.s.closeOutbound) // no send may reach the descriptor once closed
		_ = client.Close()
		_ = server.Close()
		<-stopped
	})
	return p
}

// waitDrained waits until the drainer has read everything sent, and checks
// that it read no more.
func (p *sendPeer) waitDrained(tb testing.TB) {
	if !waitFor(10*time.Second, func() bool { return p.got.Load() >= p.sent }) {
		tb.Fatalf("peer read %d of %d bytes", p.got.Load(), p.sent)
	}
	if got := p.got.Load(); got != p.sent {
		tb.Fatalf("peer read %d bytes, %d were sent", got, p.sent)
	}
}

// BenchmarkSend measures the send stage per message: Basic().SendBinary
// (or SendText, with its UTF-8 check) of one session, encoding the frame in
// a pooled buffer and writing it straight to a loopback TCP socket from the
// sending goroutine, while a goroutine drains the peer end. asyncwrites/op
// is the share of frames the socket did not take whole, which went through
// the gnet AsyncWrite fallback (a fake event loop here); it should be ~0.
// The drain of the last bytes is not timed.
func BenchmarkSend(b *testing.B) {
	env := newHotEnv(b, false)
	p := newSendPeer(b, env, true)
	for _, typ := range []string{"binary", "text"} {
		for _, sz := range hotSizes {
			b.Run(typ+"/"+sz.name, func(b *testing.B) {
				data := hotBinary(sz.n)
				send := func() error { return p.s.Basic().SendBinary(data) }
				if typ == "text" {
					text := string(hotText(sz.n))
					send = func() error { return p.s.Basic().SendText(text) }
				}
				frame := int64(headerLen(sz.n) + sz.n)
				for i := 0; i < hotWarmup; i++ {
					if err := send(); err != nil {
						b.Fatal(err)
					}
				}
				p.sent += hotWarmup * frame
				p.waitDrained(b)
				async := p.conn.async.Load()
				b.SetBytes(int64(sz.n))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := send(); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				p.sent += int64(b.N) * frame
				p.waitDrained(b)
				b.ReportMetric(float64(p.conn.async.Load()-async)/float64(b.N), "asyncwrites/op")
			})
		}
	}
}

// broadcastSessions is how many sessions BenchmarkBroadcast sends to.
const broadcastSessions = 100

// BenchmarkBroadcast measures one Broadcast of a binary message to 100
// open sessions, each on its own loopback TCP connection drained by a
// goroutine: the frame is encoded once into a shared pooled buffer and
// written directly to each socket. SetBytes counts the payload once per
// session, so MB/s is the fan-out rate. asyncwrites/op counts the writes
// (of 100 per op) that went through the AsyncWrite fallback.
func BenchmarkBroadcast(b *testing.B) {
	env := newHotEnv(b, false)
	peers := make([]*sendPeer, broadcastSessions)
	to := make([]endpoint.Session, broadcastSessions)
	for i := range peers {
		peers[i] = newSendPeer(b, env, true)
		to[i] = peers[i].s
	}
	from := peers[0].s
	asyncWrites := func() (n int64) {
		for _, p := range peers {
			n += p.conn.async.Load()
		}
		return n
	}
	drained := func(b *testing.B, msgs, size int) {
		for _, p := range peers {
			p.sent += int64(msgs) * int64(headerLen(size)+size)
			p.waitDrained(b)
		}
	}
	for _, sz := range hotSizes {
		b.Run(sz.name, func(b *testing.B) {
			data := hotBinary(sz.n)
			for i := 0; i < hotWarmup/10; i++ {
				if n := from.Broadcast(to, endpoint.Binary, data); n != broadcastSessions {
					b.Fatalf("broadcast reached %d sessions", n)
				}
			}
			drained(b, hotWarmup/10, sz.n)
			async := asyncWrites()
			b.SetBytes(int64(sz.n) * broadcastSessions)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if n := from.Broadcast(to, endpoint.Binary, data); n != broadcastSessions {
					b.Fatalf("broadcast reached %d sessions", n)
				}
			}
			b.StopTimer()
			drained(b, b.N, sz.n)
			b.ReportMetric(float64(asyncWrites()-async)/float64(b.N), "asyncwrites/op")
		})
	}
}

// TestHotPathAllocs holds each stage of the hot path at zero allocations
// per 1 KiB message in steady state, after the pools are warm: decode
// (binary, text, text in three fragments), dispatch (post to handler run on
// the real executor) and send (Basic SendBinary and SendText to a loopback
// TCP socket, read back synchronously so the socket never fills). Broadcast
// is measured by BenchmarkBroadcast, not held here.
func TestHotPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	const size, runs = 1 << 10, 2000
	check := func(t *testing.T, f func()) {
		t.Helper()
		for i := 0; i < hotWarmup; i++ {
			f()
		}
		if allocs := testing.AllocsPerRun(runs, f); allocs >= 0.05 {
			t.Errorf("%.3f allocations per message, want 0", allocs)
		}
	}
	for _, dc := range decodeCases {
		if dc.name == "binary-3frag" {
			continue
		}
		t.Run("decode/"+dc.name, func(t *testing.T) {
			r := newDecodeRig(t, dc, size)
			check(t, func() { r.once(t) })
		})
	}
	t.Run("dispatch", func(t *testing.T) {
		r := newDispatchRig(t, 1, 1)
		check(t, func() { r.run(t, 1, size) })
	})
	t.Run("send", func(t *testing.T) {
		env := newHotEnv(t, false)
		p := newSendPeer(t, env, false)
		reply := make([]byte, headerLen(size)+size)
		data := hotBinary(size)
		text := string(hotText(size))
		for _, typ := range []string{"binary", "text"} {
			t.Run(typ, func(t *testing.T) {
				check(t, func() {
					var err error
					if typ == "text" {
						err = p.s.Basic().SendText(text)
					} else {
						err = p.s.Basic().SendBinary(data)
					}
					if err != nil {
						t.Fatal(err)
					}
					if _, err := io.ReadFull(p.client, reply); err != nil {
						t.Fatal(err)
					}
				})
				want := text
				if typ == "binary" {
					want = string(data)
				}
				if string(reply[headerLen(size):]) != want {
					t.Fatal("peer read a different payload")
				}
				if n := p.conn.async.Load(); n != 0 {
					t.Logf("%d frames went through the AsyncWrite fallback", n)
				}
			})
		}
	})
	// A broadcast to fewer than fanoutMin sessions is written by the caller
	// and allocates nothing.
	t.Run("broadcast-direct", func(t *testing.T) {
		env := newHotEnv(t, false)
		to := make([]endpoint.Session, fanoutMin-1)
		for i := range to {
			to[i] = newSendPeer(t, env, true).s
		}
		data := hotBinary(size)
		check(t, func() {
			if n := to[0].(*session).Broadcast(to, endpoint.Binary, data); n != len(to) {
				t.Fatalf("broadcast reached %d sessions", n)
			}
		})
	})
	// A bigger one is staged and written by the subscribers' loops (here one
	// fake loop per session). The loops release the frames and operations
	// that the broadcaster takes from sync.Pools, on other goroutines and Ps:
	// a pool may miss now and then, and a GC empties the pools. So this is
	// measured with the GC off, over the real GOMAXPROCS (AllocsPerRun sets
	// it to 1, which drops the pools' per-P caches), and held at well below
	// one allocation per delivery rather than at zero. gnet's Execute
	// allocates a closure per loop and broadcast, which the fake loop does
	// not count. (In a server, a broadcast to 1000 subscribers measured 0.02
	// allocations per delivery.)
	t.Run("broadcast-staged", func(t *testing.T) {
		defer debug.SetGCPercent(debug.SetGCPercent(-1))
		env := newHotEnv(t, false)
		to := make([]endpoint.Session, 2*fanoutMin)
		for i := range to {
			to[i] = newSendPeer(t, env, true).s
		}
		data := hotBinary(size)
		broadcast := func() {
			if n := to[0].(*session).Broadcast(to, endpoint.Binary, data); n != len(to) {
				t.Fatalf("broadcast reached %d sessions", n)
			}
		}
		for i := 0; i < hotWarmup; i++ {
			broadcast()
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := 0; i < runs; i++ {
			broadcast()
		}
		runtime.ReadMemStats(&after)
		perDelivery := float64(after.Mallocs-before.Mallocs) / float64(runs*len(to))
		t.Logf("%.4f allocations per delivery", perDelivery)
		if perDelivery >= 0.1 {
			t.Errorf("%.3f allocations per delivery, want none but the pools' occasional misses", perDelivery)
		}
	})
}
