package container

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/samples/echo"
)

// liveHeap returns the heap in use after a garbage collection.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// startServer runs a container on 127.0.0.1:0 with one context at /t
// holding eps, and stops it when the test ends.
func startServer(tb testing.TB, settings Settings, eps ...*endpoint.ServerConfig) (*Container, string) {
	tb.Helper()
	return startServerCfg(tb, Config{}, settings, eps...)
}

// startServerCfg is startServer with the container settings of cfg; its
// address and close timeout are the test's.
func startServerCfg(tb testing.TB, cfg Config, settings Settings, eps ...*endpoint.ServerConfig) (*Container, string) {
	tb.Helper()
	return startContext(tb, cfg, WebContext{Path: "/t", Settings: settings, Endpoints: eps})
}

// startContext starts a container with the one web context wc, on the
// test's address and close timeout, and shuts it down after the test.
func startContext(tb testing.TB, cfg Config, wc WebContext) (*Container, string) {
	tb.Helper()
	cfg.Addr, cfg.CloseTimeout = "127.0.0.1:0", time.Second
	c := New(cfg)
	if err := c.Deploy(wc); err != nil {
		tb.Fatal(err)
	}
	if err := c.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown: %v", err)
		}
	})
	return c, c.Addr().String()
}

// dial opens a WebSocket client connection (gobwas, no compression).
func dial(tb testing.TB, addr, path string) net.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, "ws://"+addr+path)
	if err != nil {
		tb.Fatalf("dial %s: %v", path, err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	return withBuffered(conn, br)
}

// bufferedConn reads first what the dialer buffered after the 101 (the
// server may send right after it).
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func withBuffered(conn net.Conn, br *bufio.Reader) net.Conn {
	if br == nil {
		return conn
	}
	return &bufferedConn{Conn: conn, r: io.MultiReader(br, conn)}
}

// readClose reads server frames until a close frame and returns its code
// (at the frame level: gobwas' message reader rejects codes it does not
// know, such as 1013).
func readClose(tb testing.TB, conn net.Conn) ws.StatusCode {
	tb.Helper()
	code, err := readFrames(conn, time.Now().Add(10*time.Second), func(ws.OpCode, []byte) error { return nil })
	if err != nil {
		tb.Fatalf("reading until close: %v", err)
	}
	return code
}

// maskedFrame builds a client frame with a fixed mask.
func maskedFrame(op ws.OpCode, payload []byte) []byte {
	f := ws.NewFrame(op, true, append([]byte(nil), payload...))
	f = ws.MaskFrameWith(f, [4]byte{0x11, 0x22, 0x33, 0x44})
	b, _ := ws.CompileFrame(f)
	return b
}

func echoSettings() Settings { return Settings{AllowedOrigins: []string{"*"}} }

// TestEchoAllocs holds the container's steady-state allocations per echoed
// message at zero: frame decode, mailbox, executor, endpoint, send.
func TestEchoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	_, addr := startServer(t, echoSettings(), echo.Config())
	conn := dial(t, addr, "/t/echo")
	for _, size := range []int{16, 1024, 8192} {
		payload := make([]byte, size)
		_, _ = rand.Read(payload)
		frame := maskedFrame(ws.OpBinary, payload)
		reply := make([]byte, headerLen(size)+size)
		echoOnce := func() {
			if _, err := conn.Write(frame); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(conn, reply); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 2000; i++ { // warm the pools and the executor
			echoOnce()
		}
		allocs := testing.AllocsPerRun(5000, echoOnce)
		if allocs >= 0.05 {
			t.Errorf("%d-byte echo: %.3f allocations per message, want 0", size, allocs)
		}
		if string(reply[headerLen(size):]) != string(payload) {
			t.Fatalf("%d-byte echo: payload differs", size)
		}
	}
}

// BenchmarkEcho measures one client's round trip through the container.
func BenchmarkEcho(b *testing.B) {
	_, addr := startServer(b, echoSettings(), echo.Config())
	for _, size := range []int{64, 1024, 8192} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			conn := dial(b, addr, "/t/echo")
			frame := maskedFrame(ws.OpBinary, make([]byte, size))
			reply := make([]byte, headerLen(size)+size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_, _ = conn.Write(frame)
				if _, err := io.ReadFull(conn, reply); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestManyClientsInOrder: 1,000 concurrent clients each get their own
// echoes, in order.
func TestManyClientsInOrder(t *testing.T) {
	_, addr := startServer(t, echoSettings(), echo.Config())
	const clients, msgs = 1000, 20
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			conn, _, _, err := ws.Dial(ctx, "ws://"+addr+"/t/echo")
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			for j := 0; j < msgs; j++ { // pipelined: all first, then read
				if err := wsutil.WriteClientText(conn, []byte(fmt.Sprintf("client %d message %d", id, j))); err != nil {
					errs <- err
					return
				}
			}
			for j := 0; j < msgs; j++ {
				got, err := wsutil.ReadServerText(conn)
				if err != nil {
					errs <- fmt.Errorf("client %d: %w", id, err)
					return
				}
				if want := fmt.Sprintf("client %d message %d", id, j); string(got) != want {
					errs <- fmt.Errorf("client %d got %q, want %q", id, got, want)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestSlowReaderBounded: a client that sends large messages to an echo
// endpoint and never reads its replies must be closed, and the server's live
// heap must stay bounded meanwhile.
func TestSlowReaderBounded(t *testing.T) {
	st := echoSettings()
	st.BlockingSendTimeout = 300 * time.Millisecond
	st.MaxPendingOutboundBytes = 256 << 10
	st.MaxPendingInboundBytes = 256 << 10
	ep := echo.Config()
	ep.MaxBinaryMessageBytes = 1 << 20
	ep.MaxTextMessageBytes = 1 << 20
	_, addr := startServer(t, st, ep)
	before := liveHeap()

	conn := dial(t, addr, "/t/echo")
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	frame := maskedFrame(ws.OpBinary, make([]byte, 1<<20))
	deadline := time.Now().Add(20 * time.Second)
	sent := 0
	var peak int64
	for time.Now().Before(deadline) {
		_ = conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if _, err := conn.Write(frame); err != nil {
			break // the server closed the connection: what we want
		}
		sent++
		if sent%8 == 0 {
			peak = max(peak, liveHeap()-before)
		}
	}
	if time.Now().After(deadline) {
		t.Fatalf("server kept a non-reading client open after %d MiB", sent)
	}
	t.Logf("client sent %d MiB before the server closed it; peak live heap growth %d KiB", sent, peak>>10)
	// Bound: the mailbox (one 1 MiB message), gnet's inbound ring while
	// decoding is paused (bounded by MaxPendingInbound + one message) and
	// its outbound buffer (bounded by MaxPendingOutbound), with slack for
	// pooled buffers.
	if peak > 24<<20 {
		t.Fatalf("live heap grew by %d MiB for one non-reading client", peak>>20)
	}
}

// panicky panics on the message "boom" and records OnError.
type panicky struct {
	errs chan error
}

func (p *panicky) OnOpen(s endpoint.Session, _ *endpoint.ServerConfig) {
	s.SetTextHandler(func(text string) {
		if text == "boom" {
			panic("boom")
		}
		_ = s.Basic().SendText(text)
	})
}
func (p *panicky) OnError(_ endpoint.Session, err error) { p.errs <- err }

func TestPanicEndpoint(t *testing.T) {
	errs := make(chan error, 4)
	_, addr := startServer(t, echoSettings(), &endpoint.ServerConfig{
		Path: "/panic",
		New:  func() endpoint.Endpoint { return &panicky{errs: errs} },
	}, echo.Config())
	a := dial(t, addr, "/t/panic")
	b := dial(t, addr, "/t/echo")
	if err := wsutil.WriteClientText(a, []byte("boom")); err != nil {
		t.Fatal(err)
	}
	if code := readClose(t, a); code != ws.StatusInternalServerError {
		t.Fatalf("close code %d, want 1011", code)
	}
	select {
	case err := <-errs:
		var pe *endpoint.PanicError
		if !errors.As(err, &pe) || pe.Value != "boom" {
			t.Fatalf("OnError got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnError not called")
	}
	// The server still serves.
	if err := wsutil.WriteClientText(b, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if got, err := wsutil.ReadServerText(b); err != nil || string(got) != "still here" {
		t.Fatalf("echo after panic: %q %v", got, err)
	}
	c := dial(t, addr, "/t/panic")
	_ = wsutil.WriteClientText(c, []byte("hi"))
	if got, err := wsutil.ReadServerText(c); err != nil || string(got) != "hi" {
		t.Fatalf("new session after panic: %q %v", got, err)
	}
}

// TestConcurrentSendersNoInterleave: eight goroutines send whole messages
// on one session at once; every message arrives intact.
func TestConcurrentSendersNoInterleave(t *testing.T) {
	const senders, each, size = 8, 200, 3000
	_, addr := startServer(t, echoSettings(), &endpoint.ServerConfig{
		Path: "/spray",
		New: func() endpoint.Endpoint {
			return openFunc(func(s endpoint.Session) {
				for g := 0; g < senders; g++ {
					go func(g int) {
						msg := []byte(strings.Repeat(string(rune('a'+g)), size))
						for i := 0; i < each; i++ {
							var err error
							if i%2 == 0 {
								err = s.Basic().SendText(string(msg))
							} else {
								err = <-s.Async().SendBinaryFuture(msg)
							}
							if err != nil {
								return
							}
						}
					}(g)
				}
			})
		},
	})
	conn := dial(t, addr, "/t/spray")
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	counts := map[byte]int{}
	for i := 0; i < senders*each; i++ {
		data, _, err := wsutil.ReadServerData(conn)
		if err != nil {
			t.Fatalf("after %d messages: %v", i, err)
		}
		if len(data) != size || strings.Count(string(data), string(data[0])) != size {
			t.Fatalf("message %d is mixed or cut: %d bytes starting %q", i, len(data), data[:10])
		}
		counts[data[0]]++
	}
	for g := 0; g < senders; g++ {
		if counts[byte('a'+g)] != each {
			t.Fatalf("sender %d: %d messages", g, counts[byte('a'+g)])
		}
	}
}

// openFunc is an endpoint made of its OnOpen.
type openFunc func(s endpoint.Session)

func (f openFunc) OnOpen(s endpoint.Session, _ *endpoint.ServerConfig) { f(s) }

// TestExecutorMax: no more than Executor.Max callbacks run at once.
func TestExecutorMax(t *testing.T) {
	var running, peak atomic.Int32
	st := echoSettings()
	st.Executor = ExecutorSettings{Min: 1, Max: 3, QueueSize: 100}
	c, addr := startServer(t, st, &endpoint.ServerConfig{
		Path: "/slow",
		New: func() endpoint.Endpoint {
			return openFunc(func(s endpoint.Session) {
				s.SetTextHandler(func(text string) {
					n := running.Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					time.Sleep(20 * time.Millisecond)
					running.Add(-1)
					_ = s.Basic().SendText(text)
				})
			})
		},
	})
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		conn := dial(t, addr, "/t/slow")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				_ = wsutil.WriteClientText(conn, []byte("x"))
				if _, err := wsutil.ReadServerText(conn); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > 3 || p < 2 {
		t.Fatalf("peak concurrent callbacks %d, want 2..3 with Max 3", p)
	}
	if p := c.contexts[0].exec.peak.Load(); p > 3 {
		t.Fatalf("executor peak %d > Max", p)
	}
}

// lifecycle records the order of callbacks.
type lifecycle struct {
	mu     sync.Mutex
	events []string
	closed chan endpoint.CloseReason
}

func (l *lifecycle) add(e string) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}
func (l *lifecycle) OnOpen(s endpoint.Session, _ *endpoint.ServerConfig) {
	time.Sleep(50 * time.Millisecond) // let the client go away meanwhile
	l.add("open")
	s.SetTextHandler(func(string) { l.add("text") })
}
func (l *lifecycle) OnClose(_ endpoint.Session, r endpoint.CloseReason) {
	l.add("close")
	l.closed <- r
}

func TestOnCloseOnceAfterOnOpen(t *testing.T) {
	var mu sync.Mutex
	var all []*lifecycle
	_, addr := startServer(t, echoSettings(), &endpoint.ServerConfig{
		Path: "/life",
		New: func() endpoint.Endpoint {
			l := &lifecycle{closed: make(chan endpoint.CloseReason, 2)}
			mu.Lock()
			all = append(all, l)
			mu.Unlock()
			return l
		},
	})
	// Client sends a message then drops TCP without a close frame.
	conn := dial(t, addr, "/t/life")
	_ = wsutil.WriteClientText(conn, []byte("hi"))
	_ = conn.Close()
	// Client closes properly with 4000.
	conn2 := dial(t, addr, "/t/life")
	_ = ws.WriteFrame(conn2, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(4000, "bye"))))
	if code := readClose(t, conn2); code != 4000 {
		t.Fatalf("close echo %d, want 4000", code)
	}
	deadline := time.After(5 * time.Second)
	for {
		mu.Lock()
		n := len(all)
		mu.Unlock()
		if n == 2 {
			break
		}
		select {
		case <-deadline:
			t.Fatal("sessions not created")
		case <-time.After(5 * time.Millisecond):
		}
	}
	want := map[endpoint.CloseCode]bool{endpoint.CloseClosedAbnormally: true, 4000: true}
	for _, l := range all {
		select {
		case r := <-l.closed:
			if !want[r.Code] {
				t.Fatalf("OnClose reason %v", r)
			}
			delete(want, r.Code)
		case <-time.After(5 * time.Second):
			t.Fatal("OnClose not called")
		}
		time.Sleep(20 * time.Millisecond)
		l.mu.Lock()
		ev := strings.Join(l.events, ",")
		l.mu.Unlock()
		if ev != "open,close" && ev != "open,text,close" {
			t.Fatalf("callbacks %s", ev)
		}
	}
}

// TestCannotAccept: a binary message to an endpoint with only a text
// handler closes with 1003.
func TestCannotAccept(t *testing.T) {
	_, addr := startServer(t, echoSettings(), &endpoint.ServerConfig{
		Path: "/text",
		New: func() endpoint.Endpoint {
			return openFunc(func(s endpoint.Session) { s.SetTextHandler(func(string) {}) })
		},
	})
	conn := dial(t, addr, "/t/text")
	_ = wsutil.WriteClientBinary(conn, []byte{1, 2, 3})
	if code := readClose(t, conn); code != ws.StatusUnsupportedData {
		t.Fatalf("close %d, want 1003", code)
	}
}

// TestBroadcast: one message reaches every open session of the endpoint.
func TestBroadcast(t *testing.T) {
	ready := make(chan endpoint.Session, 100)
	_, addr := startServer(t, echoSettings(), &endpoint.ServerConfig{
		Path: "/room",
		New: func() endpoint.Endpoint {
			return openFunc(func(s endpoint.Session) {
				s.SetTextHandler(func(text string) {
					endpoint.Broadcast(s.OpenSessions(), endpoint.Text, []byte(text))
				})
				ready <- s
			})
		},
	})
	const n = 50
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dial(t, addr, "/t/room")
		<-ready
	}
	_ = wsutil.WriteClientText(conns[0], []byte("hello room"))
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := wsutil.ReadServerText(c)
		if err != nil || string(got) != "hello room" {
			t.Fatalf("conn %d: %q %v", i, got, err)
		}
	}
}

// TestShutdownGoingAway: Shutdown closes sessions with 1001 and runs
// OnClose before it returns; new handshakes are refused meanwhile.
func TestShutdownGoingAway(t *testing.T) {
	closed := make(chan endpoint.CloseReason, 10)
	c := New(Config{Addr: "127.0.0.1:0"})
	_ = c.Deploy(WebContext{Path: "/t", Endpoints: []*endpoint.ServerConfig{{
		Path: "/x",
		New:  func() endpoint.Endpoint { return &closeRecorder{closed} },
	}}})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	addr := c.Addr().String()
	conns := []net.Conn{dial(t, addr, "/t/x"), dial(t, addr, "/t/x")}
	time.Sleep(50 * time.Millisecond)
	codes := make(chan ws.StatusCode, 2)
	for _, conn := range conns {
		go func(conn net.Conn) {
			// Answer the server's close like a browser does.
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			h, err := ws.ReadHeader(conn)
			if err != nil || h.OpCode != ws.OpClose {
				codes <- 0
				return
			}
			p := make([]byte, h.Length)
			_, _ = io.ReadFull(conn, p)
			_ = ws.WriteFrame(conn, ws.MaskFrame(ws.NewCloseFrame(p[:2])))
			codes <- ws.StatusCode(binary.BigEndian.Uint16(p))
		}(conn)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for range conns {
		if code := <-codes; code != ws.StatusGoingAway {
			t.Fatalf("close code %d, want 1001", code)
		}
	}
	if len(closed) != 2 {
		t.Fatalf("%d OnClose calls before Shutdown returned, want 2", len(closed))
	}
	if r := <-closed; r.Code != endpoint.CloseGoingAway {
		t.Fatalf("OnClose reason %v", r)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		// gnet may still have the port for a moment; a handshake must fail.
		resp, err := http.Get("http://" + addr + "/t/x")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("served after shutdown: %s", resp.Status)
		}
	}
}

type closeRecorder struct{ ch chan endpoint.CloseReason }

func (r *closeRecorder) OnOpen(endpoint.Session, *endpoint.ServerConfig) {}
func (r *closeRecorder) OnClose(_ endpoint.Session, reason endpoint.CloseReason) {
	r.ch <- reason
}

// TestAsyncSend covers the completion handler and the future.
func TestAsyncSend(t *testing.T) {
	results := make(chan error, 2)
	_, addr := startServer(t, echoSettings(), &endpoint.ServerConfig{
		Path: "/async",
		New: func() endpoint.Endpoint {
			return openFunc(func(s endpoint.Session) {
				s.Async().SendText("one", func(err error) { results <- err })
				results <- <-s.Async().SendBinaryFuture([]byte("two"))
				s.Async().SendText("\xff", func(err error) {
					if !errors.Is(err, endpoint.ErrInvalidUTF8) {
						results <- fmt.Errorf("bad UTF-8 send: %v", err)
					}
				})
			})
		},
	})
	conn := dial(t, addr, "/t/async")
	for _, want := range []string{"one", "two"} {
		got, _, err := wsutil.ReadServerData(conn)
		if err != nil || string(got) != want {
			t.Fatalf("got %q %v, want %q", got, err, want)
		}
	}
	for i := 0; i < 2; i++ {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
}

// TestHandshakeTimeout: a connection that never finishes its request is
// closed after HandshakeTimeout.
func TestHandshakeTimeout(t *testing.T) {
	c := New(Config{Addr: "127.0.0.1:0", HandshakeTimeout: 200 * time.Millisecond})
	_ = c.Deploy(WebContext{Path: "/t", Endpoints: []*endpoint.ServerConfig{echo.Config()}})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	conn, err := net.Dial("tcp", c.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = conn.Write([]byte("GET /t/echo HTTP/1.1\r\nHost: x\r\n"))
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	start := time.Now()
	_, err = bufio.NewReader(conn).ReadByte()
	if err == nil || errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("connection not closed by the handshake timeout: %v after %v", err, time.Since(start))
	}
}

// TestIdleTimeout: an idle session is closed within timeout + period with
// 1001 on the wire and 1006 in OnClose; a pinging one stays open.
func TestIdleTimeout(t *testing.T) {
	closed := make(chan endpoint.CloseReason, 4)
	st := echoSettings()
	st.IdleTimeout = 500 * time.Millisecond // clamped to 1s
	st.MonitoringPeriod = time.Millisecond  // clamped to 1s
	_, addr := startServer(t, st, &endpoint.ServerConfig{
		Path: "/idle",
		New:  func() endpoint.Endpoint { return &closeRecorder{closed} },
	})
	idle := dial(t, addr, "/t/idle")
	busy := dial(t, addr, "/t/idle")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
				_ = ws.WriteFrame(busy, ws.MaskFrame(ws.NewPingFrame([]byte("hi"))))
			}
		}
	}()
	start := time.Now()
	if code := readClose(t, idle); code != ws.StatusGoingAway {
		t.Fatalf("idle close code %d, want 1001", code)
	}
	// Within timeout + period (2 s), with slack for a loaded machine; not
	// before the clamped timeout.
	if d := time.Since(start); d < 900*time.Millisecond || d > 3500*time.Millisecond {
		t.Fatalf("closed after %v, want between 1s (clamped timeout) and 2s (+ clamped period)", d)
	}
	_ = ws.WriteFrame(idle, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(1001, ""))))
	select {
	case r := <-closed:
		if r.Code != endpoint.CloseClosedAbnormally {
			t.Fatalf("OnClose %v, want 1006", r)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("OnClose not called")
	}
	// The pinging session is still open.
	_ = busy.SetReadDeadline(time.Now().Add(time.Second))
	for {
		h, err := ws.ReadHeader(busy)
		if err != nil {
			t.Fatalf("busy session: %v", err)
		}
		if h.OpCode == ws.OpClose {
			t.Fatal("busy session was closed")
		}
		_, _ = io.CopyN(io.Discard, busy, h.Length)
		if h.OpCode == ws.OpPong {
			break
		}
	}
}

// TestRemoteAddressProperties: the JEUS address properties are there.
func TestRemoteAddressProperties(t *testing.T) {
	got := make(chan [3]any, 1)
	_, addr := startServer(t, echoSettings(), &endpoint.ServerConfig{
		Path: "/props",
		New: func() endpoint.Endpoint {
			return openFunc(func(s endpoint.Session) {
				p := s.UserProperties()
				a, _ := p.Get(endpoint.PropRemoteAddr)
				h, _ := p.Get(endpoint.PropRemoteHost)
				port, _ := p.Get(endpoint.PropRemotePort)
				got <- [3]any{a, h, port}
			})
		},
	})
	conn := dial(t, addr, "/t/props")
	v := <-got
	_, localPort, _ := net.SplitHostPort(conn.LocalAddr().String())
	if v[0] != "127.0.0.1" || v[1] != "127.0.0.1" || fmt.Sprint(v[2]) != localPort {
		t.Fatalf("properties %v, want 127.0.0.1 127.0.0.1 %s", v, localPort)
	}
}

// TestEmptyCompressedMessage: an empty payload with RSV1 is an empty message.
func TestEmptyCompressedMessage(t *testing.T) {
	st := echoSettings()
	st.PerMessageDeflate = true
	_, addr := startServer(t, st, echo.Config())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := ws.Dialer{Extensions: []httphead.Option{httphead.NewOption("permessage-deflate", nil)}}
	conn, br, hs, err := d.Dial(ctx, "ws://"+addr+"/t/echo")
	if err != nil || len(hs.Extensions) == 0 {
		t.Fatalf("dial: %v, extensions %v", err, hs.Extensions)
	}
	defer conn.Close()
	c := withBuffered(conn, br)
	for _, op := range []ws.OpCode{ws.OpText, ws.OpBinary} {
		f := ws.NewFrame(op, true, nil)
		f.Header.Rsv = ws.Rsv(true, false, false)
		_ = ws.WriteFrame(c, ws.MaskFrame(f))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		h, err := ws.ReadHeader(c)
		if err != nil || h.OpCode != op || h.Length != 0 {
			t.Fatalf("%v: reply %+v %v", op, h, err)
		}
	}
}

// TestSlowEndpointBounded: a client that floods an endpoint slower than
// itself is held back, and the server's live heap stays bounded. After the
// hand-off the container stops reading the socket, so TCP paces the client
// and nothing is lost: the endpoint gets every message, in order, before
// the client's close. A session on gnet's loop (LoopReads), which reads on
// regardless, is paused and then closed with 1013.
func TestSlowEndpointBounded(t *testing.T) {
	for _, mode := range []struct {
		name string
		cfg  Config
	}{{"hand-off", Config{}}, {"loop-reads", Config{LoopReads: true}}} {
		t.Run(mode.name, func(t *testing.T) { testSlowEndpoint(t, mode.cfg) })
	}
}

func testSlowEndpoint(t *testing.T, cfg Config) {
	st := echoSettings()
	st.MaxPendingInboundBytes = 256 << 10
	var got atomic.Int64
	var outOfOrder atomic.Bool
	_, addr := startServerCfg(t, cfg, st, &endpoint.ServerConfig{
		Path:                  "/slow",
		MaxBinaryMessageBytes: 64 << 10,
		MaxTextMessageBytes:   64 << 10,
		New: func() endpoint.Endpoint {
			return openFunc(func(s endpoint.Session) {
				s.SetBinaryHandler(func(data []byte) {
					if int64(binary.BigEndian.Uint64(data)) != got.Load() {
						outOfOrder.Store(true)
					}
					got.Add(1)
					time.Sleep(200 * time.Microsecond)
				})
			})
		},
	})
	before := liveHeap()
	conn := dial(t, addr, "/t/slow")
	payload := make([]byte, 4096)
	var peak, lag int64
	var sent uint64
	flood := 20 * time.Second
	if !cfg.LoopReads {
		flood = 3 * time.Second // held back, not closed: flood for a while
	}
	deadline := time.Now().Add(flood)
	for time.Now().Before(deadline) {
		binary.BigEndian.PutUint64(payload, sent)
		_ = conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if _, err := conn.Write(maskedFrame(ws.OpBinary, payload)); err != nil {
			break
		}
		sent++
		if sent%64 == 0 {
			peak = max(peak, liveHeap()-before)
			lag = max(lag, int64(sent)-got.Load())
		}
	}
	if !cfg.LoopReads {
		// The lag is what the mailbox and the two sockets' buffers hold
		// (loopback's autotuning goes up to 4 MiB to send, 6 MiB to
		// receive): without the hold-back it would grow with the flood.
		_ = conn.SetWriteDeadline(time.Time{})
		_ = ws.WriteFrame(conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
	}
	// The close is read after every message the sockets hold, at the
	// endpoint's pace (slower under the race detector).
	code, err := readFrames(conn, time.Now().Add(60*time.Second), func(ws.OpCode, []byte) error { return nil })
	if err != nil {
		t.Fatalf("reading until close: %v", err)
	}
	t.Logf("sent %d messages (%d MiB), endpoint got %d, most behind %d, close %d, peak live heap growth %d KiB",
		sent, sent*4096>>20, got.Load(), lag, code, peak>>10)
	if outOfOrder.Load() || got.Load() == 0 {
		t.Fatalf("endpoint got %d messages, in order: %v", got.Load(), !outOfOrder.Load())
	}
	if peak > 16<<20 {
		t.Fatalf("live heap grew by %d MiB", peak>>20)
	}
	if cfg.LoopReads {
		if code != ws.StatusCode(endpoint.CloseTryAgainLater) {
			t.Fatalf("close code %d, want 1013", code)
		}
		return
	}
	// The close is answered when it is read; the messages before it are
	// delivered meanwhile.
	waitFor(5*time.Second, func() bool { return got.Load() == int64(sent) })
	if code != ws.StatusNormalClosure || got.Load() != int64(sent) {
		t.Fatalf("close %d after %d of %d messages, want 1000 after all", code, got.Load(), sent)
	}
	if lag > (12<<20)/4096 {
		t.Fatalf("the endpoint fell %d messages behind: the client was not held back", lag)
	}
}

// TestEmptyMessageFloodBounded: empty messages count in the mailbox's size
// too, so a client flooding a stuck endpoint with them (6 bytes on the
// wire, an event each in the mailbox) is held back with bounded memory:
// after the hand-off its writes stall, and once the endpoint is free every
// message is delivered; on gnet's loop (LoopReads) it is closed with 1013.
func TestEmptyMessageFloodBounded(t *testing.T) {
	for _, mode := range []struct {
		name string
		cfg  Config
	}{{"hand-off", Config{}}, {"loop-reads", Config{LoopReads: true}}} {
		t.Run(mode.name, func(t *testing.T) { testEmptyFlood(t, mode.cfg) })
	}
}

func testEmptyFlood(t *testing.T, cfg Config) {
	st := echoSettings()
	st.MaxPendingInboundBytes = 256 << 10
	var got atomic.Int64
	release := make(chan struct{})
	_, addr := startServerCfg(t, cfg, st, &endpoint.ServerConfig{
		Path: "/slow",
		New: func() endpoint.Endpoint {
			return openFunc(func(s endpoint.Session) {
				s.SetBinaryHandler(func([]byte) {
					got.Add(1)
					<-release // the endpoint is stuck until the flood is over
				})
			})
		},
	})
	unblock := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unblock) // before the server's shutdown, even on failure
	before := liveHeap()
	conn := dial(t, addr, "/t/slow")
	frame := maskedFrame(ws.OpBinary, nil)
	batch := bytes.Repeat(frame, 1000)
	// One message first, so that the flood meets an open session whose
	// endpoint is busy.
	if _, err := conn.Write(frame); err != nil {
		t.Fatal(err)
	}
	for got.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	var peak int64
	written := len(frame)
	deadline := time.Now().Add(20 * time.Second)
	stalled := false
	for time.Now().Before(deadline) {
		_ = conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
		n, err := conn.Write(batch)
		written += n
		if err != nil {
			stalled = true
			break
		}
		if written%(64000*len(frame)) == 0 {
			peak = max(peak, liveHeap()-before)
		}
	}
	peak = max(peak, liveHeap()-before)
	if !cfg.LoopReads {
		if !stalled {
			t.Fatal("the client's writes never stalled: it was not held back")
		}
		// Finish the frame the stalled write cut, free the endpoint, and
		// close: every message arrives first.
		_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if rest := written % len(frame); rest > 0 {
			if _, err := conn.Write(frame[rest:]); err != nil {
				t.Fatal(err)
			}
			written += len(frame) - rest
		}
		unblock()
		_ = ws.WriteFrame(conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
	}
	code := readClose(t, conn)
	unblock()
	sent := int64(written / len(frame))
	t.Logf("sent %d empty messages, endpoint got %d, close %d, peak live heap growth %d KiB", sent, got.Load(), code, peak>>10)
	if peak > 16<<20 {
		t.Fatalf("live heap grew by %d MiB", peak>>20)
	}
	if cfg.LoopReads {
		if code != ws.StatusCode(endpoint.CloseTryAgainLater) {
			t.Fatalf("close code %d, want 1013", code)
		}
		return
	}
	waitFor(5*time.Second, func() bool { return got.Load() == sent })
	if code != ws.StatusNormalClosure || got.Load() != sent {
		t.Fatalf("close %d after %d of %d messages, want 1000 after all", code, got.Load(), sent)
	}
}

// TestPathTemplates: path parameters reach the session; exact paths win;
// conflicting templates fail deployment naming both.
func TestPathTemplates(t *testing.T) {
	params := make(chan string, 4)
	mk := func(tag string) *endpoint.ServerConfig {
		return &endpoint.ServerConfig{New: func() endpoint.Endpoint {
			return openFunc(func(s endpoint.Session) {
				params <- fmt.Sprint(tag, s.PathParameters())
			})
		}}
	}
	room, lobby, korean := mk("room"), mk("lobby"), mk("korean")
	room.Path, lobby.Path, korean.Path = "/chat/{room}", "/chat/lobby", "/{a}/방"
	_, addr := startServer(t, echoSettings(), room, lobby, korean)
	for path, want := range map[string]string{
		"/t/chat/42":          "roommap[room:42]",
		"/t/chat/lobby":       "lobbymap[]",
		"/t/chat/%EB%B0%A9":   "roommap[room:방]",
		"/t/x/%EB%B0%A9":      "koreanmap[a:x]",
		"/t/chat/a%20b?q=1#f": "roommap[room:a b]",
	} {
		dial(t, addr, path)
		if got := <-params; got != want {
			t.Errorf("%s: %s, want %s", path, got, want)
		}
	}
	c := New(Config{})
	err := c.Deploy(WebContext{Path: "/x", Endpoints: []*endpoint.ServerConfig{
		{Path: "/a/{x}", New: room.New}, {Path: "/a/{y}", New: room.New}, {Path: "/bad/{}", New: room.New},
	}})
	if err == nil || !strings.Contains(err.Error(), `"/a/{x}"`) || !strings.Contains(err.Error(), `"/a/{y}"`) || !strings.Contains(err.Error(), `"/bad/{}"`) {
		t.Fatalf("deployment error %v should name both conflicting templates and the bad one", err)
	}
}

// TestForwardedHeaders: a trusted (loopback) peer's Forwarded header names
// the client; the same header from an untrusted peer is ignored.
func TestForwardedHeaders(t *testing.T) {
	got := make(chan string, 2)
	ep := &endpoint.ServerConfig{Path: "/who", New: func() endpoint.Endpoint {
		return openFunc(func(s endpoint.Session) {
			p := s.UserProperties()
			port, _ := p.Get(endpoint.PropRemotePort)
			got <- fmt.Sprint(p.String(endpoint.PropRemoteAddr), " ", port)
		})
	}}
	dialWith := func(addr, header string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d := ws.Dialer{Header: ws.HandshakeHeaderString(header)}
		conn, _, _, err := d.Dial(ctx, "ws://"+addr+"/t/who")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
	}
	_, trustedAddr := startServer(t, echoSettings(), ep)
	dialWith(trustedAddr, "Forwarded: for=\"[2001:db8::7]:4711\";proto=http\r\n")
	if v := <-got; v != "2001:db8::7 4711" {
		t.Fatalf("through a trusted proxy: %q", v)
	}
	st := echoSettings()
	st.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} // loopback no longer trusted
	_, untrustedAddr := startServer(t, st, &endpoint.ServerConfig{Path: "/who", New: ep.New})
	dialWith(untrustedAddr, "X-Forwarded-For: 6.6.6.6\r\n")
	if v := <-got; !strings.HasPrefix(v, "127.0.0.1 ") || strings.HasSuffix(v, " <nil>") {
		t.Fatalf("forged header from an untrusted peer was believed: %q", v)
	}
}

// TestMaxSessions: the session limit gives 503 at the handshake; a slot
// frees when a session closes.
func TestMaxSessions(t *testing.T) {
	st := echoSettings()
	st.MaxSessions = 2
	_, addr := startServer(t, st, echo.Config())
	a := dial(t, addr, "/t/echo")
	dial(t, addr, "/t/echo")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, _, err := ws.Dial(ctx, "ws://"+addr+"/t/echo")
	var rej ws.StatusError
	if !errors.As(err, &rej) || int(rej) != http.StatusServiceUnavailable {
		t.Fatalf("third session: %v, want 503", err)
	}
	_ = ws.WriteFrame(a, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(1000, ""))))
	readClose(t, a)
	for i := 0; ; i++ { // the slot frees once the server has closed the first session
		conn, _, _, err := ws.Dial(ctx, "ws://"+addr+"/t/echo")
		if err == nil {
			conn.Close()
			break
		}
		if i > 100 {
			t.Fatalf("slot not freed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTimeoutThreads: the idle sweep is shared among TimeoutThreads
// goroutines, and closes idle sessions whichever share they are in.
func TestTimeoutThreads(t *testing.T) {
	st := echoSettings()
	st.TimeoutThreads = 3
	st.IdleTimeout = time.Second
	st.MonitoringPeriod = time.Hour // the test sweeps by hand
	c, addr := startServer(t, st, echo.Config())
	conns := make([]net.Conn, 7)
	for i := range conns {
		conns[i] = dial(t, addr, "/t/echo")
		// One round trip: the session is open on the server.
		_ = wsutil.WriteClientText(conns[i], []byte("x"))
		if _, err := wsutil.ReadServerText(conns[i]); err != nil {
			t.Fatal(err)
		}
	}
	ctx := c.contexts[0]
	if n := ctx.closeIdle(time.Now()); n != 3 {
		t.Fatalf("sweep ran on %d goroutines, want 3", n)
	}
	if n := ctx.closeIdle(time.Now().Add(2 * time.Second)); n != 3 {
		t.Fatalf("sweep ran on %d goroutines, want 3", n)
	}
	for i, conn := range conns {
		if code := readClose(t, conn); code != ws.StatusGoingAway {
			t.Fatalf("session %d: close %d, want 1001", i, code)
		}
	}
}

// A container starts again on the port of one that just shut down, while
// the connections it closed are in TIME_WAIT (as after a restart).
func TestRestartOnSamePort(t *testing.T) {
	c := New(Config{Addr: "127.0.0.1:0", CloseTimeout: 200 * time.Millisecond})
	if err := c.Deploy(WebContext{Path: "/t", Settings: echoSettings(), Endpoints: []*endpoint.ServerConfig{{
		Path: "/x", New: func() endpoint.Endpoint { return openFunc(func(endpoint.Session) {}) },
	}}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	addr := c.Addr().String()
	for range 3 {
		conn := dial(t, addr, "/t/x")
		go func() { _, _ = io.Copy(io.Discard, conn) }() // reads the close, then EOF
	}
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	again := New(Config{Addr: addr})
	if err := again.Start(); err != nil {
		t.Fatalf("start on %s after a shutdown: %v", addr, err)
	}
	if err := again.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
