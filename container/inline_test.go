package container

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/samples/echo"
)

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

func inlineEcho(path string) *endpoint.ServerConfig {
	return &endpoint.ServerConfig{Path: path, New: func() endpoint.Endpoint { return echo.Endpoint{} }, Inline: true}
}

// TestInlineWithoutExecutor: an inline endpoint echoes in order while the
// context's only executor worker is blocked by another endpoint: its
// callbacks run on the event loop, not on the executor.
func TestInlineWithoutExecutor(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	blocked := make(chan struct{}, 1)
	blocker := &endpoint.ServerConfig{Path: "/block", New: func() endpoint.Endpoint {
		return openFunc(func(s endpoint.Session) {
			s.SetRawTextHandler(func([]byte) {
				blocked <- struct{}{}
				<-release
			})
		})
	}}
	settings := echoSettings()
	settings.Executor = ExecutorSettings{Min: 1, Max: 1, QueueSize: 16}
	_, addr := startServer(t, settings, blocker, inlineEcho("/inline"))
	b := dial(t, addr, "/t/block")
	if err := wsutil.WriteClientText(b, []byte("block")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-blocked:
	case <-time.After(5 * time.Second):
		t.Fatal("the blocking handler did not run")
	}

	const clients, msgs = 50, 100
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			conn := dial(t, addr, "/t/inline")
			_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
			for j := 0; j < msgs; j++ { // pipelined: all first, then read
				if err := wsutil.WriteClientText(conn, []byte(fmt.Sprintf("%d/%d", id, j))); err != nil {
					t.Error(err)
					return
				}
			}
			for j := 0; j < msgs; j++ {
				got, op, err := wsutil.ReadServerData(conn)
				if err != nil || op != ws.OpText || string(got) != fmt.Sprintf("%d/%d", id, j) {
					t.Errorf("client %d message %d: %q %v %v", id, j, got, op, err)
					return
				}
			}
		}(i)
	}
	wg.Wait()
}

// inlineProbe counts its callbacks and panics on "panic".
type inlineProbe struct {
	opens, closes *atomic.Int32
	codes         chan endpoint.CloseCode
}

func (p inlineProbe) OnOpen(s endpoint.Session, _ *endpoint.ServerConfig) {
	p.opens.Add(1)
	b := s.Basic()
	s.SetRawTextHandler(func(text []byte) {
		if string(text) == "panic" {
			panic("inline handler panics")
		}
		_ = b.SendTextBytes(text)
	})
}

func (p inlineProbe) OnClose(_ endpoint.Session, r endpoint.CloseReason) {
	p.closes.Add(1)
	p.codes <- r.Code
}

// TestInlinePanicAndLifecycle: OnOpen and OnClose run once each; a panic in
// an inline handler closes that session with 1011 and the event loop goes
// on serving the others.
func TestInlinePanicAndLifecycle(t *testing.T) {
	var opens, closes atomic.Int32
	codes := make(chan endpoint.CloseCode, 4)
	cfg := &endpoint.ServerConfig{Path: "/probe", Inline: true,
		New: func() endpoint.Endpoint { return inlineProbe{&opens, &closes, codes} }}
	_, addr := startServer(t, echoSettings(), cfg)
	other := dial(t, addr, "/t/probe")
	victim := dial(t, addr, "/t/probe")
	if err := wsutil.WriteClientText(victim, []byte("panic")); err != nil {
		t.Fatal(err)
	}
	if code := readClose(t, victim); code != ws.StatusInternalServerError {
		t.Fatalf("close code %d, want 1011", code)
	}
	for i := 0; i < 10; i++ {
		if err := wsutil.WriteClientText(other, []byte("still here")); err != nil {
			t.Fatal(err)
		}
		_ = other.SetReadDeadline(time.Now().Add(5 * time.Second))
		if got, err := wsutil.ReadServerText(other); err != nil || string(got) != "still here" {
			t.Fatalf("other session: %q %v", got, err)
		}
	}
	select {
	case code := <-codes:
		if code != endpoint.CloseUnexpectedCondition {
			t.Fatalf("OnClose code %d, want 1011", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose did not run")
	}
	_ = other.Close()
	select {
	case <-codes:
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose did not run for the other session")
	}
	if o, c := opens.Load(), closes.Load(); o != 2 || c != 2 {
		t.Fatalf("%d OnOpen and %d OnClose, want 2 and 2", o, c)
	}
}

// TestInlineSlowReader: an inline endpoint flooding a client that does not
// read never blocks the event loop: a Basic send there does not wait, the
// session is closed when its send queue is full, and the other sessions
// keep being served.
func TestInlineSlowReader(t *testing.T) {
	type result struct {
		sent int
		err  error
	}
	results := make(chan result, 1)
	flood := &endpoint.ServerConfig{Path: "/flood", Inline: true, New: func() endpoint.Endpoint {
		return openFunc(func(s endpoint.Session) {
			b := s.Basic()
			chunk := make([]byte, 64<<10)
			s.SetRawTextHandler(func([]byte) {
				for i := 0; i < 1024; i++ { // 64 MiB: far beyond the send limit
					if err := b.SendBinary(chunk); err != nil {
						results <- result{i, err}
						return
					}
				}
				results <- result{1024, nil}
			})
		})
	}}
	settings := echoSettings()
	settings.Executor = ExecutorSettings{Min: 1, Max: 1}
	_, addr := startServer(t, settings, flood, inlineEcho("/inline"))
	slow := dial(t, addr, "/t/flood")
	fast := dial(t, addr, "/t/inline")
	if err := wsutil.WriteClientText(slow, []byte("go")); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-results:
		if r.err == nil || r.sent >= 1024 {
			t.Fatalf("the flood sent %d of 1024 chunks (%v) to a client that does not read", r.sent, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a Basic send on the event loop waited for a client that does not read")
	}
	for i := 0; i < 20; i++ {
		if err := wsutil.WriteClientText(fast, []byte("ping")); err != nil {
			t.Fatal(err)
		}
		_ = fast.SetReadDeadline(time.Now().Add(5 * time.Second))
		if got, err := wsutil.ReadServerText(fast); err != nil || string(got) != "ping" {
			t.Fatalf("echo after the flood: %q %v", got, err)
		}
	}
	// The slow session's stream ends: what the socket held, then EOF.
	_ = slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, slow)
	if err != nil && !isReset(err) {
		t.Fatalf("slow reader: %v after %d bytes, want its connection closed", err, n)
	}
	if n >= 64<<20 {
		t.Fatalf("the slow reader got all %d bytes: it was not closed", n)
	}
}

// TestInlineEchoAllocs holds an inline echo at zero allocations per
// message.
func TestInlineEchoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	_, addr := startServer(t, echoSettings(), inlineEcho("/inline"))
	conn := dial(t, addr, "/t/inline")
	payload := make([]byte, 1024)
	_, _ = rand.Read(payload)
	frame := maskedFrame(ws.OpBinary, payload)
	reply := make([]byte, headerLen(len(payload))+len(payload))
	echoOnce := func() {
		if _, err := conn.Write(frame); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(conn, reply); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2000; i++ {
		echoOnce()
	}
	if allocs := testing.AllocsPerRun(5000, echoOnce); allocs >= 0.05 {
		t.Errorf("%.3f allocations per message, want 0", allocs)
	}
	if string(reply[headerLen(len(payload)):]) != string(payload) {
		t.Fatal("payload differs")
	}
}

// nopConfigurator accepts every handshake; an endpoint with a
// Configurator has its handshake served on the executor.
type nopConfigurator struct{}

func (nopConfigurator) ModifyHandshake(*endpoint.HandshakeRequest, *endpoint.HandshakeResponse) error {
	return nil
}

// TestInlineSlowOpenAfterExecutorHandshake: an inline endpoint whose
// handshake ran on the executor (it has a Configurator) gets the message
// the client sent while OnOpen was still running, once OnOpen returns: the
// poller that saw the bytes during OnOpen must not drop the wake-up.
func TestInlineSlowOpenAfterExecutorHandshake(t *testing.T) {
	slow := &endpoint.ServerConfig{Path: "/slow", Inline: true, Configurator: nopConfigurator{},
		New: func() endpoint.Endpoint {
			return openFunc(func(s endpoint.Session) {
				time.Sleep(200 * time.Millisecond)
				s.SetRawTextHandler(func(b []byte) { _ = s.Basic().SendTextBytes(b) })
			})
		}}
	_, addr := startServer(t, echoSettings(), slow)
	for i := 0; i < 3; i++ {
		conn := dial(t, addr, "/t/slow")
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if err := wsutil.WriteClientText(conn, []byte("early")); err != nil {
			t.Fatal(err)
		}
		got, _, err := wsutil.ReadServerData(conn)
		if err != nil || string(got) != "early" {
			t.Fatalf("connection %d: echo of the message sent during OnOpen: %q %v", i, got, err)
		}
	}
}
