package container

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/wsc-dev/wsc/endpoint"
)

// fakeConn is the part of gnet.Conn a session uses on the event loop, over
// an in-memory inbound buffer and one end of a socketpair for writes. The
// embedded nil Conn makes any other method panic, which a test would see.
type fakeConn struct {
	gnet.Conn
	in     []byte
	fd     int
	mu     sync.Mutex
	closed bool
	tasks  []func() // AsyncWrite callbacks and Execute runnables, run by step
}

func (f *fakeConn) Peek(int) ([]byte, error) { return f.in, nil }
func (f *fakeConn) Discard(n int) (int, error) {
	if n <= 0 || n > len(f.in) {
		n = len(f.in)
	}
	f.in = f.in[n:]
	return n, nil
}
func (f *fakeConn) InboundBuffered() int      { return len(f.in) }
func (f *fakeConn) OutboundBuffered() int     { return 0 }
func (f *fakeConn) Fd() int                   { return f.fd }
func (f *fakeConn) RemoteAddr() net.Addr      { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (f *fakeConn) EventLoop() gnet.EventLoop { return fakeLoop{f} }
func (f *fakeConn) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}
func (f *fakeConn) Wake(gnet.AsyncCallback) error { return nil }
func (f *fakeConn) AsyncWrite(b []byte, cb gnet.AsyncCallback) error {
	_, _ = unix.Write(f.fd, b) // the test's reader side is large enough
	f.mu.Lock()
	f.tasks = append(f.tasks, func() { _ = cb(f, nil) })
	f.mu.Unlock()
	return nil
}

// step runs queued loop tasks, as gnet would after OnTraffic returns.
func (f *fakeConn) step() {
	for {
		f.mu.Lock()
		tasks := f.tasks
		f.tasks = nil
		f.mu.Unlock()
		if len(tasks) == 0 {
			return
		}
		for _, t := range tasks {
			t()
		}
	}
}

type fakeLoop struct{ f *fakeConn }

func (l fakeLoop) Execute(ctx context.Context, r gnet.Runnable) error {
	l.f.mu.Lock()
	l.f.tasks = append(l.f.tasks, func() { _ = r.Run(ctx) })
	l.f.mu.Unlock()
	return nil
}
func (fakeLoop) Register(context.Context, net.Addr) (<-chan gnet.RegisteredResult, error) {
	return nil, nil
}
func (fakeLoop) Enroll(context.Context, net.Conn) (<-chan gnet.RegisteredResult, error) {
	return nil, nil
}
func (fakeLoop) Schedule(context.Context, gnet.Runnable, time.Duration) error {
	return nil
}
func (fakeLoop) Close(gnet.Conn) error { return nil }

// recorder checks what the decoder delivers.
type recorder struct {
	t     *testing.T
	limit int
}

func (r *recorder) OnOpen(s endpoint.Session, _ *endpoint.ServerConfig) {
	s.SetRawTextHandler(func(text []byte) {
		if !utf8.Valid(text) {
			r.t.Errorf("delivered invalid UTF-8 text %q", text)
		}
		if len(text) > r.limit {
			r.t.Errorf("delivered %d-byte text over the %d limit", len(text), r.limit)
		}
	})
	s.SetBinaryHandler(func(data []byte) {
		if len(data) > r.limit {
			r.t.Errorf("delivered %d-byte binary over the %d limit", len(data), r.limit)
		}
	})
}

// FuzzFrames feeds an arbitrary client byte stream, cut at arbitrary points,
// to a session's frame decoder: it must never panic, never deliver a message
// over the limit or text that is not UTF-8, and every server frame it writes
// must be well formed.
func FuzzFrames(f *testing.F) {
	mask := func(op ws.OpCode, fin bool, rsv byte, p string) []byte {
		fr := ws.NewFrame(op, fin, []byte(p))
		fr.Header.Rsv = rsv
		b, _ := ws.CompileFrame(ws.MaskFrameWith(fr, [4]byte{1, 2, 3, 4}))
		return b
	}
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	f.Add(mask(ws.OpText, true, 0, "hello"), uint64(1), true)
	f.Add(cat(mask(ws.OpText, false, 0, "he"), mask(ws.OpPing, true, 0, "p"), mask(ws.OpContinuation, true, 0, "llo")), uint64(7), false)
	f.Add(cat(mask(ws.OpBinary, true, 0, string(make([]byte, 300))), mask(ws.OpClose, true, 0, "\x03\xe8bye")), uint64(3), false)
	f.Add(mask(ws.OpText, true, 4, "\xf2\x8b\x80\x04\x00"), uint64(0), true) // "compressed" text
	f.Add(cat(mask(ws.OpText, true, 0, "\xe2\x82"), mask(ws.OpText, true, 0, "\xac")), uint64(5), false)
	f.Add(mask(ws.OpClose, true, 0, "\x03"), uint64(2), false)

	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, stream []byte, cuts uint64, deflate bool) {
		watchdog := time.AfterFunc(5*time.Second, func() {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			panic(fmt.Sprintf("input %q cuts %d deflate %v hangs:\n%s", stream, cuts, deflate, buf[:n]))
		})
		defer watchdog.Stop()
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err != nil {
			t.Skip(err)
		}
		defer unix.Close(fds[0])
		defer unix.Close(fds[1])
		_ = unix.SetNonblock(fds[0], true)
		_ = unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
		_ = unix.SetsockoptInt(fds[1], unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)

		const limit = 1024
		cont := New(Config{Logger: discard})
		rec := &recorder{t: t, limit: limit}
		ctx := &webContext{settings: Settings{MaxTextMessageBytes: limit, MaxBinaryMessageBytes: limit,
			Executor: ExecutorSettings{Min: 1, Max: 1}}.withDefaults()}
		ctx.exec = newExecutor(ctx.settings.Executor)
		m := &mapping{ctx: ctx,
			cfg: &endpoint.ServerConfig{Path: "/f", New: func() endpoint.Endpoint { return rec }}}
		conn := &fakeConn{fd: fds[0]}
		s := newSession(conn, cont)
		s.ep, s.ctx = m, ctx
		if deflate {
			s.deflate = &deflateState{takeover: true}
			s.setFlag(flagDeflate)
		}
		s.open(true)
		for s.has(flagOpening) { // frames wait for OnOpen, as in the container
			time.Sleep(50 * time.Microsecond)
		}

		// Feed the stream in pieces cut where the bits of cuts say.
		for len(stream) > 0 {
			n := 1 + int(cuts%17)
			cuts = cuts/17 + uint64(len(stream))
			n = min(n, len(stream))
			conn.in = append(conn.in, stream[:n]...)
			stream = stream[n:]
			if s.readFrames(conn) == gnet.Close {
				break
			}
			conn.step()
		}
		// Let the executor deliver everything, then check what was written.
		ctx.exec.stop(make(chan struct{}))
		checkServerFrames(t, fds[1])
	})
}

// checkServerFrames reads what the server wrote and checks each frame is a
// well-formed server frame: unmasked, minimal length, control frames short
// and final, close frames with a sendable code.
func checkServerFrames(t *testing.T, fd int) {
	_ = unix.SetNonblock(fd, true)
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(fd, buf)
		if n <= 0 || err != nil {
			break
		}
		out = append(out, buf[:n]...)
	}
	for len(out) > 0 {
		h, n, err := decodeHeader(out)
		if err != nil || n == 0 {
			t.Fatalf("server wrote a bad header: % x", out[:min(len(out), 16)])
		}
		if h.Masked || n != headerLen(int(h.Length)) {
			t.Fatalf("server frame masked or not minimal: %+v", h)
		}
		if h.OpCode.IsControl() && (!h.Fin || h.Length > 125) {
			t.Fatalf("server control frame %+v", h)
		}
		if int64(len(out)-n) < h.Length {
			t.Fatalf("server frame cut short: %+v, %d bytes left", h, len(out)-n)
		}
		p := out[n : n+int(h.Length)]
		if h.OpCode == ws.OpClose && len(p) >= 2 {
			if code := endpoint.CloseCode(uint16(p[0])<<8 | uint16(p[1])); !code.Sendable() {
				t.Fatalf("server sent close code %d", code)
			}
		}
		out = out[n+int(h.Length):]
	}
}
