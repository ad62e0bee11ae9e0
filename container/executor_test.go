package container

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/samples/echo"
)

// Tests of the web context's executor (executor.go): its size limits, the
// retirement of extra workers, overload (1013) and per-session order.

// execOf returns the executor of the context deployed at path (set by Start).
func execOf(tb testing.TB, c *Container, path string) *executor {
	tb.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, wc := range c.contexts {
		if wc.path == path {
			if wc.exec == nil {
				tb.Fatalf("context %q has no executor: not started?", path)
			}
			return wc.exec
		}
	}
	tb.Fatalf("no context %q", path)
	return nil
}

// startContexts runs a container on 127.0.0.1:0 with every web context in
// wcs and shuts it down when the test ends.
func startContexts(tb testing.TB, wcs ...WebContext) (*Container, string) {
	tb.Helper()
	c := New(Config{Addr: "127.0.0.1:0", CloseTimeout: time.Second})
	for _, wc := range wcs {
		if err := c.Deploy(wc); err != nil {
			tb.Fatal(err)
		}
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

// waitFor polls cond every millisecond until it holds or d has passed.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
}

// workerWatch samples the executor's worker count until stopped and keeps
// the lowest and highest values seen.
type workerWatch struct {
	lo, hi atomic.Int32
	stop   chan struct{}
	done   chan struct{}
}

func watchWorkers(e *executor) *workerWatch {
	w := &workerWatch{stop: make(chan struct{}), done: make(chan struct{})}
	n := e.workers.Load()
	w.lo.Store(n)
	w.hi.Store(n)
	go func() {
		defer close(w.done)
		for {
			n := e.workers.Load()
			if n < w.lo.Load() {
				w.lo.Store(n)
			}
			if n > w.hi.Load() {
				w.hi.Store(n)
			}
			select {
			case <-w.stop:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()
	return w
}

func (w *workerWatch) end() (lo, hi int32) {
	close(w.stop)
	<-w.done
	return w.lo.Load(), w.hi.Load()
}

// TestExecutorKeepsMin: an idle context keeps exactly Min workers, even
// with a short KeepAlive.
func TestExecutorKeepsMin(t *testing.T) {
	st := echoSettings()
	st.Executor = ExecutorSettings{Min: 3, Max: 8, KeepAlive: 200 * time.Millisecond}
	c, _ := startServer(t, st, echo.Config())
	e := execOf(t, c, "/t")
	if n := e.workers.Load(); n != 3 {
		t.Fatalf("after Start: %d workers, want Min = 3", n)
	}
	watch := watchWorkers(e)
	time.Sleep(time.Second) // five KeepAlives
	lo, hi := watch.end()
	if lo != 3 || hi != 3 {
		t.Fatalf("idle executor went between %d and %d workers in 1s, want 3 throughout", lo, hi)
	}
	if n, idle, busy := e.workers.Load(), e.idle.Load(), e.busy(); n != 3 || idle != 3 || busy != 0 {
		t.Fatalf("after 1s idle: workers %d, idle %d, busy %d; want 3, 3, 0", n, idle, busy)
	}
}

// TestExecutorRetiresExtraWorkers: six sessions blocked in their handlers
// hold six workers (Max); once they return, the workers above Min retire
// after KeepAlive, and the count never goes below Min.
func TestExecutorRetiresExtraWorkers(t *testing.T) {
	const sessions = 6
	release := make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	var opened, entered atomic.Int32
	st := echoSettings()
	st.Executor = ExecutorSettings{Min: 2, Max: sessions, KeepAlive: 200 * time.Millisecond}
	c, addr := startServer(t, st, &endpoint.ServerConfig{
		Path: "/block",
		New: func() endpoint.Endpoint {
			return openFunc(func(s endpoint.Session) {
				s.SetTextHandler(func(text string) {
					entered.Add(1)
					<-release
					_ = s.Basic().SendText(text)
				})
				opened.Add(1)
			})
		},
	})
	t.Cleanup(free) // runs before the shutdown registered by startServer
	e := execOf(t, c, "/t")
	watch := watchWorkers(e)

	conns := make([]net.Conn, sessions)
	for i := range conns {
		conns[i] = dial(t, addr, "/t/block")
	}
	if !waitFor(5*time.Second, func() bool { return opened.Load() == sessions }) {
		t.Fatalf("%d of %d sessions opened", opened.Load(), sessions)
	}
	// All six send at once.
	var wg sync.WaitGroup
	for i, conn := range conns {
		wg.Add(1)
		go func(i int, conn net.Conn) {
			defer wg.Done()
			_ = wsutil.WriteClientText(conn, []byte(fmt.Sprint("hold ", i)))
		}(i, conn)
	}
	wg.Wait()
	// A worker counts as busy from the moment it takes a session, a little
	// before its handler is entered: wait for both.
	if !waitFor(5*time.Second, func() bool {
		return e.busy() == sessions && e.workers.Load() == sessions && entered.Load() == sessions
	}) {
		state := fmt.Sprintf("workers %d, busy %d, idle %d, handlers entered %d, sessions queued %d",
			e.workers.Load(), e.busy(), e.idle.Load(), entered.Load(), len(e.tasks))
		free()
		t.Fatalf("5s after %d sessions sent a message to a handler that blocks, with Max %d: %s; want %d workers, all busy in the handler",
			sessions, sessions, state, sessions)
	}

	free()
	for i, conn := range conns {
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := wsutil.ReadServerText(conn)
		if want := fmt.Sprint("hold ", i); err != nil || string(got) != want {
			t.Fatalf("session %d after release: %q %v, want %q", i, got, err, want)
		}
	}
	released := time.Now()
	if !waitFor(2500*time.Millisecond, func() bool { return e.workers.Load() == 2 }) {
		t.Fatalf("%v after the handlers returned: %d workers (idle %d, busy %d), want Min = 2 (KeepAlive 200ms)",
			time.Since(released).Round(time.Millisecond), e.workers.Load(), e.idle.Load(), e.busy())
	}
	t.Logf("back to 2 workers %v after release", time.Since(released).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond) // more KeepAlives: no further retirement
	lo, hi := watch.end()
	if n := e.workers.Load(); n != 2 {
		t.Fatalf("%d workers 500ms after reaching Min, want 2", n)
	}
	if lo < 2 || hi > sessions {
		t.Fatalf("worker count ranged over [%d, %d], want within [Min 2, Max %d]", lo, hi, sessions)
	}
}

// TestExecutorNeverExceedsMax: twenty sessions sending at once to a slow
// handler never get more than Max callbacks running together.
func TestExecutorNeverExceedsMax(t *testing.T) {
	const sessions, msgs, maxWorkers = 20, 5, 3
	var running, peak atomic.Int32
	st := echoSettings()
	st.Executor = ExecutorSettings{Min: 1, Max: maxWorkers}
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
					time.Sleep(5 * time.Millisecond)
					running.Add(-1)
					_ = s.Basic().SendText(text)
				})
			})
		},
	})
	e := execOf(t, c, "/t")
	watch := watchWorkers(e)
	conns := make([]net.Conn, sessions)
	for i := range conns {
		conns[i] = dial(t, addr, "/t/slow")
	}
	start := make(chan struct{})
	errs := make(chan error, sessions)
	var wg sync.WaitGroup
	for i, conn := range conns {
		wg.Add(1)
		go func(i int, conn net.Conn) {
			defer wg.Done()
			<-start
			_ = conn.SetDeadline(time.Now().Add(8 * time.Second))
			for j := 0; j < msgs; j++ { // pipelined
				if err := wsutil.WriteClientText(conn, []byte(fmt.Sprint(i, "/", j))); err != nil {
					errs <- err
					return
				}
			}
			for j := 0; j < msgs; j++ {
				got, err := wsutil.ReadServerText(conn)
				if want := fmt.Sprint(i, "/", j); err != nil || string(got) != want {
					errs <- fmt.Errorf("session %d: got %q %v, want %q", i, got, err, want)
					return
				}
			}
		}(i, conn)
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	_, hi := watch.end()
	t.Logf("peak concurrent handlers %d, executor peak %d, most workers %d", peak.Load(), e.peak.Load(), hi)
	if p := peak.Load(); p > maxWorkers {
		t.Fatalf("%d handlers ran at once, Max is %d", p, maxWorkers)
	}
	if p := e.peak.Load(); p > maxWorkers {
		t.Fatalf("executor peak %d busy workers, Max is %d", p, maxWorkers)
	}
	if hi > maxWorkers {
		t.Fatalf("executor had %d workers, Max is %d", hi, maxWorkers)
	}
	if p := peak.Load(); p < 2 {
		t.Fatalf("only %d handler ran at a time with %d sessions: the test did not exercise the bound", p, sessions)
	}
}

// overloadEndpoint blocks its handler until release is closed, then echoes;
// it records OnClose.
type overloadEndpoint struct {
	opened  *atomic.Int32
	entered chan<- struct{}
	release <-chan struct{}
	closed  chan<- endpoint.CloseReason
}

func (o *overloadEndpoint) OnOpen(s endpoint.Session, _ *endpoint.ServerConfig) {
	s.SetTextHandler(func(text string) {
		o.entered <- struct{}{}
		<-o.release
		_ = s.Basic().SendText(text)
	})
	o.opened.Add(1)
}

func (o *overloadEndpoint) OnClose(_ endpoint.Session, r endpoint.CloseReason) { o.closed <- r }

// TestExecutorOverloadCloses1013: with its only worker blocked and its
// queue (2) full, context /a closes the sessions that bring more work with
// 1013; the queued ones are served once the worker is free; meanwhile
// context /b on the same container, with its own executor, keeps echoing.
func TestExecutorOverloadCloses1013(t *testing.T) {
	const sessions = 8 // 1 blocks the worker, 2 fill the queue, 5 are refused
	const queue = 2
	release := make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	entered := make(chan struct{}, sessions)
	closed := make(chan endpoint.CloseReason, 2*sessions)
	var opened atomic.Int32
	small := echoSettings()
	small.Executor = ExecutorSettings{Min: 1, Max: 1, QueueSize: queue}
	c, addr := startContexts(t,
		WebContext{Path: "/a", Settings: small, Endpoints: []*endpoint.ServerConfig{{
			Path: "/block",
			New: func() endpoint.Endpoint {
				return &overloadEndpoint{opened: &opened, entered: entered, release: release, closed: closed}
			},
		}}},
		WebContext{Path: "/b", Settings: small, Endpoints: []*endpoint.ServerConfig{echo.Config()}},
	)
	t.Cleanup(free) // before the shutdown
	ea, eb := execOf(t, c, "/a"), execOf(t, c, "/b")
	if ea == eb {
		t.Fatal("contexts /a and /b share an executor")
	}

	conns := make([]net.Conn, sessions)
	for i := range conns {
		conns[i] = dial(t, addr, "/a/block")
	}
	// Every OnOpen has run and the worker is idle again.
	if !waitFor(5*time.Second, func() bool {
		return opened.Load() == sessions && ea.busy() == 0 && len(ea.tasks) == 0
	}) {
		t.Fatalf("opened %d of %d, busy %d, queued %d", opened.Load(), sessions, ea.busy(), len(ea.tasks))
	}

	// Session 0 takes the only worker.
	if err := wsutil.WriteClientText(conns[0], []byte("m0")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler of session 0 did not start")
	}
	// Sessions 1 and 2 fill the queue.
	for i := 1; i <= queue; i++ {
		if err := wsutil.WriteClientText(conns[i], []byte(fmt.Sprint("m", i))); err != nil {
			t.Fatal(err)
		}
		if !waitFor(5*time.Second, func() bool { return len(ea.tasks) == i }) {
			t.Fatalf("after session %d sent: %d sessions queued, want %d", i, len(ea.tasks), i)
		}
	}
	// The others cannot be queued: 1013.
	for i := queue + 1; i < sessions; i++ {
		if err := wsutil.WriteClientText(conns[i], []byte(fmt.Sprint("m", i))); err != nil {
			t.Fatal(err)
		}
		if code := readClose(t, conns[i]); code != ws.StatusCode(endpoint.CloseTryAgainLater) {
			t.Fatalf("session %d, sent while the queue was full: close %d, want 1013", i, code)
		}
	}

	// Context /b is not affected: a new session echoes.
	b := dial(t, addr, "/b/echo")
	_ = b.SetDeadline(time.Now().Add(5 * time.Second))
	for j := 0; j < 20; j++ {
		msg := fmt.Sprint("b", j)
		if err := wsutil.WriteClientText(b, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if got, err := wsutil.ReadServerText(b); err != nil || string(got) != msg {
			t.Fatalf("/b while /a is overloaded: %q %v, want %q", got, err, msg)
		}
	}
	if n := len(ea.tasks); n != queue {
		t.Fatalf("/a: %d sessions queued while blocked, want %d", n, queue)
	}

	// Release: sessions 0..2 get their echo, in turn.
	free()
	for i := 0; i <= queue; i++ {
		_ = conns[i].SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := wsutil.ReadServerText(conns[i])
		if want := fmt.Sprint("m", i); err != nil || string(got) != want {
			t.Fatalf("session %d after release: %q %v, want %q", i, got, err, want)
		}
	}
	// Each refused session still gets its OnClose, with 1013.
	for i := queue + 1; i < sessions; i++ {
		select {
		case r := <-closed:
			if r.Code != endpoint.CloseTryAgainLater {
				t.Fatalf("OnClose of a refused session: %v, want 1013", r)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of %d refused sessions got OnClose", i-queue-1, sessions-queue-1)
		}
	}
	// /a serves new work again.
	d := dial(t, addr, "/a/block")
	_ = d.SetDeadline(time.Now().Add(5 * time.Second))
	if err := wsutil.WriteClientText(d, []byte("again")); err != nil {
		t.Fatal(err)
	}
	if got, err := wsutil.ReadServerText(d); err != nil || string(got) != "again" {
		t.Fatalf("/a after the overload: %q %v", got, err)
	}
}

// orderChecker checks that one session's binary messages carry increasing
// sequence numbers and that its callbacks never overlap; the text "end"
// asks for the verdict.
type orderChecker struct {
	inside atomic.Int32
	next   uint32
	count  int
	bad    string
}

func (o *orderChecker) OnOpen(s endpoint.Session, _ *endpoint.ServerConfig) {
	s.SetBinaryHandler(func(data []byte) {
		if o.inside.Add(1) != 1 && o.bad == "" {
			o.bad = "callbacks overlapped"
		}
		seq := binary.BigEndian.Uint32(data)
		if seq != o.next && o.bad == "" {
			o.bad = fmt.Sprintf("message %d after %d", seq, int64(o.next)-1)
		}
		o.next = seq + 1
		o.count++
		o.inside.Add(-1)
	})
	s.SetTextHandler(func(string) {
		verdict := o.bad
		if verdict == "" {
			verdict = "ok"
		}
		_ = s.Basic().SendText(fmt.Sprintf("%d %s", o.count, verdict))
	})
}

// sendSequence pipelines n numbered messages on conn, then asks for the
// endpoint's verdict.
func sendSequence(conn net.Conn, n int) error {
	_ = conn.SetDeadline(time.Now().Add(8 * time.Second))
	payload := make([]byte, 16)
	for i := 0; i < n; i++ {
		binary.BigEndian.PutUint32(payload, uint32(i))
		if _, err := conn.Write(maskedFrame(ws.OpBinary, payload)); err != nil {
			return err
		}
	}
	if err := wsutil.WriteClientText(conn, []byte("end")); err != nil {
		return err
	}
	got, err := wsutil.ReadServerText(conn)
	if err != nil {
		return err
	}
	if want := fmt.Sprintf("%d ok", n); string(got) != want {
		return fmt.Errorf("endpoint saw %q, want %q", got, want)
	}
	return nil
}

// TestExecutorOrderPerSession: a session's messages reach its handler in
// order, one callback at a time, alone and among concurrent sessions.
func TestExecutorOrderPerSession(t *testing.T) {
	st := echoSettings()
	st.Executor = ExecutorSettings{Min: 1, Max: 8}
	_, addr := startServer(t, st, &endpoint.ServerConfig{
		Path: "/order",
		New:  func() endpoint.Endpoint { return &orderChecker{} },
	})
	t.Run("one session", func(t *testing.T) {
		if err := sendSequence(dial(t, addr, "/t/order"), 1000); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("concurrent sessions", func(t *testing.T) {
		const sessions = 12
		conns := make([]net.Conn, sessions)
		for i := range conns {
			conns[i] = dial(t, addr, "/t/order")
		}
		errs := make(chan error, sessions)
		var wg sync.WaitGroup
		for i, conn := range conns {
			wg.Add(1)
			go func(i int, conn net.Conn) {
				defer wg.Done()
				if err := sendSequence(conn, 500); err != nil {
					errs <- fmt.Errorf("session %d: %w", i, err)
				}
			}(i, conn)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}
