package container

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/samples/echo"
)

// Tests of the send limits (send.go): BlockingSendTimeout, AsyncSendTimeout
// and MaxPendingOutboundBytes against a client that never reads, and sends
// on a closed session.

// tcpConnOf returns the TCP connection under a dialed client connection.
func tcpConnOf(c net.Conn) *net.TCPConn {
	if b, ok := c.(*bufferedConn); ok {
		c = b.Conn
	}
	tc, _ := c.(*net.TCPConn)
	return tc
}

// dialNonReader opens a session whose client never reads, with the
// smallest receive buffer the kernel gives.
func dialNonReader(t *testing.T, addr, path string) net.Conn {
	t.Helper()
	conn := dial(t, addr, path)
	if tc := tcpConnOf(conn); tc != nil {
		if err := tc.SetReadBuffer(4096); err != nil {
			t.Logf("SetReadBuffer: %v", err)
		}
	} else {
		t.Logf("client connection is a %T: receive buffer left as is", conn)
	}
	return conn
}

// closeSignal is an endpoint made of its OnOpen that reports OnClose.
type closeSignal struct {
	open   func(s endpoint.Session)
	closed chan<- endpoint.CloseReason
}

func (c *closeSignal) OnOpen(s endpoint.Session, _ *endpoint.ServerConfig) { c.open(s) }
func (c *closeSignal) OnClose(_ endpoint.Session, r endpoint.CloseReason)  { c.closed <- r }

// checkEcho checks that the container still serves: a new echo session
// answers.
func checkEcho(t *testing.T, addr, path string) {
	t.Helper()
	conn := dial(t, addr, path)
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	for i := 0; i < 3; i++ {
		msg := fmt.Sprint("still serving ", i)
		if err := wsutil.WriteClientText(conn, []byte(msg)); err != nil {
			t.Fatalf("echo session: %v", err)
		}
		if got, err := wsutil.ReadServerText(conn); err != nil || string(got) != msg {
			t.Fatalf("echo session: %q %v, want %q", got, err, msg)
		}
	}
}

// TestBlockingSendTimeout: a Basic send to a client that does not read
// returns ErrSendTimeout after BlockingSendTimeout (measured on the call
// that failed), the session is closed with 1006 and a reason naming the
// timeout, and other sessions are served.
func TestBlockingSendTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	type result struct {
		err     error
		elapsed time.Duration // of the failing call
		sent    int           // sends that succeeded before it
	}
	results := make(chan result, 1)
	closed := make(chan endpoint.CloseReason, 4)
	st := echoSettings()
	st.BlockingSendTimeout = timeout
	st.MaxPendingOutboundBytes = 64 << 10
	_, addr := startServer(t, st, echo.Config(), &endpoint.ServerConfig{
		Path: "/flood",
		New: func() endpoint.Endpoint {
			return &closeSignal{closed: closed, open: func(s endpoint.Session) {
				go func() {
					data := make([]byte, 256<<10)
					give := time.Now().Add(20 * time.Second)
					for i := 0; ; i++ {
						start := time.Now()
						err := s.Basic().SendBinary(data)
						if err != nil || start.After(give) {
							results <- result{err, time.Since(start), i}
							return
						}
					}
				}()
			}}
		},
	})
	dialNonReader(t, addr, "/t/flood")
	var r result
	select {
	case r = <-results:
	case <-time.After(10 * time.Second):
		t.Fatal("no send failed in 10s to a client that does not read")
	}
	t.Logf("send %d failed after %v: %v (%d MiB written before)", r.sent, r.elapsed.Round(time.Millisecond), r.err, r.sent/4)
	if !errors.Is(r.err, endpoint.ErrSendTimeout) {
		t.Fatalf("failing send returned %v, want endpoint.ErrSendTimeout", r.err)
	}
	if r.elapsed < timeout-time.Millisecond {
		t.Fatalf("send timed out after %v, before BlockingSendTimeout %v", r.elapsed, timeout)
	}
	if r.elapsed > 3*time.Second {
		t.Fatalf("send timed out after %v, want about BlockingSendTimeout %v", r.elapsed, timeout)
	}
	select {
	case reason := <-closed:
		if reason.Code != endpoint.CloseClosedAbnormally || !strings.Contains(strings.ToLower(reason.Reason), "time") {
			t.Fatalf("OnClose reason %v %q, want 1006 naming the timeout", reason.Code, reason.Reason)
		}
		t.Logf("OnClose: %v %q", reason.Code, reason.Reason)
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose not called after the send timed out")
	}
	checkEcho(t, addr, "/t/echo")
}

// asyncFlood is the record of an endpoint that floods a session with Async
// sends.
type asyncFlood struct {
	sent    atomic.Int32 // sends made
	calls   atomic.Int32 // handler calls
	twice   atomic.Int32 // handlers called more than once
	mu      sync.Mutex
	results map[string]int // handler results by error
	heap    atomic.Int64   // highest live heap seen while sending
	done    chan struct{}  // closed when the sender stops
}

func (f *asyncFlood) handler() endpoint.SendHandler {
	var called atomic.Bool
	return func(err error) {
		if called.Swap(true) {
			f.twice.Add(1)
		}
		key := "nil"
		switch {
		case err == nil:
		case errors.Is(err, endpoint.ErrSendTimeout):
			key = "ErrSendTimeout"
		case errors.Is(err, endpoint.ErrSendQueueFull):
			key = "ErrSendQueueFull"
		case errors.Is(err, endpoint.ErrSessionClosed):
			key = "ErrSessionClosed"
		default:
			key = "other: " + err.Error()
		}
		f.mu.Lock()
		f.results[key]++
		f.mu.Unlock()
		f.calls.Add(1)
	}
}

// sampleHeap records the live heap if it is the highest seen.
func (f *asyncFlood) sampleHeap() {
	if h := liveHeap(); h > f.heap.Load() {
		f.heap.Store(h)
	}
}

func (f *asyncFlood) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.results[key]
}

func (f *asyncFlood) summary() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprint(f.results)
}

// TestAsyncSendTimeout: Async sends of 64 KiB messages to a client that
// does not read, made without waiting: the bounded queue fails one with
// endpoint.ErrSendQueueFull (or the async timeout with ErrSendTimeout), every
// handler is called exactly once, the session closes and the live heap
// stays bounded.
func TestAsyncSendTimeout(t *testing.T) {
	const maxSends = 1024 // 64 MiB: far more than the kernel buffers and the bounds
	f := &asyncFlood{results: map[string]int{}, done: make(chan struct{})}
	closed := make(chan endpoint.CloseReason, 4)
	st := echoSettings()
	st.AsyncSendTimeout = 300 * time.Millisecond
	st.MaxPendingOutboundBytes = 64 << 10
	_, addr := startServer(t, st, echo.Config(), &endpoint.ServerConfig{
		Path: "/flood",
		New: func() endpoint.Endpoint {
			return &closeSignal{closed: closed, open: func(s endpoint.Session) {
				go func() {
					defer close(f.done)
					data := make([]byte, 64<<10)
					for i := 0; i < maxSends; i++ {
						f.sent.Add(1)
						s.Async().SendBinary(data, f.handler())
						if f.count("ErrSendTimeout")+f.count("ErrSendQueueFull") > 0 {
							break
						}
						if i%64 == 63 {
							f.sampleHeap()
						}
					}
					f.sampleHeap()
				}()
			}}
		},
	})
	before := liveHeap()
	dialNonReader(t, addr, "/t/flood")
	select {
	case <-f.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the sender did not finish")
	}
	// Every handler is called, once.
	if !waitFor(5*time.Second, func() bool { return f.calls.Load() >= f.sent.Load() }) {
		t.Fatalf("%d sends, %d handler calls after 5s: %s", f.sent.Load(), f.calls.Load(), f.summary())
	}
	time.Sleep(100 * time.Millisecond) // room for any extra call
	t.Logf("%d sends; handler results %s", f.sent.Load(), f.summary())
	if calls, sent := f.calls.Load(), f.sent.Load(); calls != sent || f.twice.Load() != 0 {
		t.Fatalf("%d sends, %d handler calls, %d handlers called twice", sent, calls, f.twice.Load())
	}
	if f.count("ErrSendTimeout")+f.count("ErrSendQueueFull") == 0 {
		t.Fatalf("no send failed with ErrSendTimeout or ErrSendQueueFull: %s", f.summary())
	}
	for key := range f.results {
		if strings.HasPrefix(key, "other") {
			t.Fatalf("unexpected handler error: %s", f.summary())
		}
	}
	select {
	case reason := <-closed:
		t.Logf("OnClose: %v %q", reason.Code, reason.Reason)
		if reason.Code != endpoint.CloseClosedAbnormally {
			t.Fatalf("OnClose reason %v, want 1006", reason)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose not called")
	}
	if growth := f.heap.Load() - before; growth > 32<<20 {
		t.Fatalf("live heap grew by %d MiB for one non-reading client", growth>>20)
	} else {
		t.Logf("peak live heap growth while sending: %d KiB", growth>>10)
	}
	checkEcho(t, addr, "/t/echo")
}

// TestAsyncSendTimeoutHandlerError: one Async send that waits for room
// longer than AsyncSendTimeout gets endpoint.ErrSendTimeout in its handler,
// as endpoint.SendHandler and endpoint.ErrSendTimeout document, and the
// session closes. The sender sends one message at a time and stops at the
// first one that does not complete at once, so the queue bound
// (endpoint.ErrSendQueueFull) is never reached.
func TestAsyncSendTimeoutHandlerError(t *testing.T) {
	const timeout = 300 * time.Millisecond
	type result struct {
		err     error
		elapsed time.Duration
		sent    int
	}
	results := make(chan result, 1)
	closed := make(chan endpoint.CloseReason, 4)
	st := echoSettings()
	st.AsyncSendTimeout = timeout
	st.MaxPendingOutboundBytes = 64 << 10
	_, addr := startServer(t, st, echo.Config(), &endpoint.ServerConfig{
		Path: "/one",
		New: func() endpoint.Endpoint {
			return &closeSignal{closed: closed, open: func(s endpoint.Session) {
				go func() {
					data := make([]byte, 64<<10)
					for i := 0; i < 1024; i++ {
						start := time.Now()
						ch := s.Async().SendBinaryFuture(data)
						select {
						case err := <-ch:
							if err != nil {
								results <- result{err, time.Since(start), i}
								return
							}
							continue
						case <-time.After(100 * time.Millisecond):
						}
						// This one waits for room: send nothing more.
						select {
						case err := <-ch:
							results <- result{err, time.Since(start), i}
						case <-time.After(10 * time.Second):
							results <- result{errors.New("handler not called in 10s"), time.Since(start), i}
						}
						return
					}
					results <- result{errors.New("every send completed at once"), 0, 1024}
				}()
			}}
		},
	})
	dialNonReader(t, addr, "/t/one")
	var r result
	select {
	case r = <-results:
	case <-time.After(15 * time.Second):
		t.Fatal("no result")
	}
	t.Logf("send %d: %v after %v", r.sent, r.err, r.elapsed.Round(time.Millisecond))
	if !errors.Is(r.err, endpoint.ErrSendTimeout) {
		t.Errorf("handler of the waiting Async send got %v, want endpoint.ErrSendTimeout", r.err)
	} else if r.elapsed < timeout-time.Millisecond || r.elapsed > 3*time.Second {
		t.Errorf("Async send timed out after %v, want about %v", r.elapsed, timeout)
	}
	select {
	case reason := <-closed:
		t.Logf("OnClose: %v %q", reason.Code, reason.Reason)
		if reason.Code != endpoint.CloseClosedAbnormally {
			t.Errorf("OnClose reason %v, want 1006", reason)
		}
	case <-time.After(5 * time.Second):
		t.Error("OnClose not called")
	}
}

// TestSendAfterClose: once a session is closed, Basic sends return
// ErrSessionClosed and Async handlers get it, in OnClose and after it,
// whether the client closed properly or dropped the connection.
func TestSendAfterClose(t *testing.T) {
	sessions := make(chan endpoint.Session, 4)
	closed := make(chan endpoint.CloseReason, 4)
	inClose := make(chan [2]error, 4) // Basic and Async results from inside OnClose
	_, addr := startServer(t, echoSettings(), &endpoint.ServerConfig{
		Path: "/x",
		New: func() endpoint.Endpoint {
			return &closeSignal{
				open:   func(s endpoint.Session) { sessions <- s },
				closed: closed,
			}
		},
	}, &endpoint.ServerConfig{
		Path: "/y",
		New: func() endpoint.Endpoint {
			return &sendInClose{results: inClose, closed: closed}
		},
	})

	checkClosed := func(t *testing.T, s endpoint.Session) {
		t.Helper()
		if s.IsOpen() {
			t.Error("IsOpen after OnClose")
		}
		if err := s.Basic().SendText("late"); !errors.Is(err, endpoint.ErrSessionClosed) {
			t.Errorf("Basic().SendText after close: %v, want ErrSessionClosed", err)
		}
		if err := s.Basic().SendBinary([]byte("late")); !errors.Is(err, endpoint.ErrSessionClosed) {
			t.Errorf("Basic().SendBinary after close: %v, want ErrSessionClosed", err)
		}
		got := make(chan error, 2)
		s.Async().SendText("late", func(err error) { got <- err })
		select {
		case err := <-got:
			if !errors.Is(err, endpoint.ErrSessionClosed) {
				t.Errorf("Async().SendText handler after close: %v, want ErrSessionClosed", err)
			}
		case <-time.After(2 * time.Second):
			t.Error("Async().SendText handler not called after close")
		}
		select {
		case err := <-got:
			t.Errorf("Async handler called twice (second: %v)", err)
		case <-time.After(50 * time.Millisecond):
		}
		select {
		case err, ok := <-s.Async().SendBinaryFuture([]byte("late")):
			if !ok || !errors.Is(err, endpoint.ErrSessionClosed) {
				t.Errorf("Async().SendBinaryFuture after close: %v (received %v), want ErrSessionClosed", err, ok)
			}
		case <-time.After(2 * time.Second):
			t.Error("Async().SendBinaryFuture gave no result after close")
		}
		if err := s.Close(endpoint.CloseReason{Code: endpoint.CloseNormalClosure}); !errors.Is(err, endpoint.ErrSessionClosed) {
			t.Errorf("Close after close: %v, want ErrSessionClosed", err)
		}
	}
	waitSession := func(t *testing.T) endpoint.Session {
		t.Helper()
		select {
		case s := <-sessions:
			return s
		case <-time.After(5 * time.Second):
			t.Fatal("OnOpen not called")
			return nil
		}
	}
	waitClosed := func(t *testing.T, want endpoint.CloseCode) {
		t.Helper()
		select {
		case r := <-closed:
			if r.Code != want {
				t.Fatalf("OnClose %v, want %v", r, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("OnClose not called")
		}
	}

	t.Run("close handshake", func(t *testing.T) {
		conn := dial(t, addr, "/t/x")
		s := waitSession(t)
		_ = ws.WriteFrame(conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye"))))
		if code := readClose(t, conn); code != ws.StatusNormalClosure {
			t.Fatalf("close echo %d, want 1000", code)
		}
		waitClosed(t, endpoint.CloseNormalClosure)
		checkClosed(t, s)
	})
	t.Run("connection dropped", func(t *testing.T) {
		conn := dial(t, addr, "/t/x")
		s := waitSession(t)
		_ = conn.Close()
		waitClosed(t, endpoint.CloseClosedAbnormally)
		checkClosed(t, s)
	})
	t.Run("server closed", func(t *testing.T) {
		conn := dial(t, addr, "/t/x")
		s := waitSession(t)
		if err := s.Close(endpoint.CloseReason{Code: 4001, Reason: "done"}); err != nil {
			t.Fatal(err)
		}
		// Closing: the close frame is sent, the peer has not answered yet.
		if err := s.Basic().SendText("late"); !errors.Is(err, endpoint.ErrSessionClosed) {
			t.Errorf("Basic().SendText while closing: %v, want ErrSessionClosed", err)
		}
		if code := readClose(t, conn); code != 4001 {
			t.Fatalf("close %d, want 4001", code)
		}
		_ = ws.WriteFrame(conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(4001, ""))))
		waitClosed(t, 4001)
		checkClosed(t, s)
	})
	t.Run("in OnClose", func(t *testing.T) {
		conn := dial(t, addr, "/t/y")
		_ = conn.Close()
		waitClosed(t, endpoint.CloseClosedAbnormally)
		select {
		case errs := <-inClose:
			if !errors.Is(errs[0], endpoint.ErrSessionClosed) {
				t.Errorf("Basic().SendText in OnClose: %v, want ErrSessionClosed", errs[0])
			}
			if !errors.Is(errs[1], endpoint.ErrSessionClosed) {
				t.Errorf("Async handler for a send in OnClose: %v, want ErrSessionClosed", errs[1])
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no results from OnClose")
		}
	})
}

// sendInClose sends from its OnClose and reports the results.
type sendInClose struct {
	results chan<- [2]error
	closed  chan<- endpoint.CloseReason
}

func (e *sendInClose) OnOpen(endpoint.Session, *endpoint.ServerConfig) {}
func (e *sendInClose) OnClose(s endpoint.Session, r endpoint.CloseReason) {
	basic := s.Basic().SendText("from OnClose")
	async := make(chan error, 1)
	s.Async().SendText("from OnClose", func(err error) { async <- err })
	var aerr error
	select {
	case aerr = <-async:
	case <-time.After(2 * time.Second):
		aerr = errors.New("handler not called in 2s")
	}
	e.results <- [2]error{basic, aerr}
	e.closed <- r
}
