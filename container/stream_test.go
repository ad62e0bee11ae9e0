package container

import (
	"bytes"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/samples/echo"
)

// Tests of large Basic sends written from the caller's buffer (stream.go).

// pattern returns n bytes that differ from one offset to the next, so that
// a lost, repeated or interleaved chunk shows.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i/7) + seed
	}
	return b
}

// TestStreamEchoSlowReader: 4 MiB messages echo whole to a client that
// reads in small slow bites (the server waits for the socket many times
// per message), and a ping sent meanwhile is answered after the message,
// never inside it.
func TestStreamEchoSlowReader(t *testing.T) {
	st := echoSettings()
	st.MaxBinaryMessageBytes = 8 << 20
	_, addr := startServer(t, st, echo.Config())
	conn := dial(t, addr, "/t/echo")
	if tc := tcpConnOf(conn); tc != nil {
		_ = tc.SetReadBuffer(16 << 10)
	}
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	for i := 0; i < 3; i++ {
		msg := pattern(4<<20, byte(i))
		if err := wsutil.WriteClientBinary(conn, msg); err != nil {
			t.Fatal(err)
		}
		if err := wsutil.WriteClientMessage(conn, ws.OpPing, []byte("p")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // let the reply start and fill the socket
		r := &slowReader{Conn: conn, bite: 32 << 10, pause: time.Millisecond}
		got, op, err := wsutil.ReadServerData(r)
		if err != nil || op != ws.OpBinary || !bytes.Equal(got, msg) {
			t.Fatalf("message %d: %d bytes, %v, %v; want %d bytes back unchanged", i, len(got), op, err, len(msg))
		}
		h, err := ws.ReadHeader(conn)
		if err != nil || h.OpCode != ws.OpPong {
			t.Fatalf("after message %d: %v %v, want the pong", i, h.OpCode, err)
		}
		if _, err := conn.Read(make([]byte, h.Length)); err != nil {
			t.Fatal(err)
		}
	}
}

// slowReader reads at most bite bytes at a time, pausing before each read.
type slowReader struct {
	net.Conn
	bite  int
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	if len(p) > s.bite {
		p = p[:s.bite]
	}
	return s.Conn.Read(p)
}

// TestStreamOrder: sends made while a large message streams wait behind it,
// Basic and Async alike, and go out whole and in order.
func TestStreamOrder(t *testing.T) {
	big := pattern(2<<20, 3)
	errs := make(chan error, 3)
	_, addr := startServer(t, echoSettings(), &endpoint.ServerConfig{
		Path: "/order",
		New: func() endpoint.Endpoint {
			return &closeSignal{closed: make(chan endpoint.CloseReason, 1), open: func(s endpoint.Session) {
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- s.Basic().SendBinary(big)
				}()
				go func() {
					time.Sleep(100 * time.Millisecond) // the client is not reading yet: the big one is streaming
					errs <- s.Basic().SendText("after, basic")
					s.Async().SendText("after, async", func(err error) { errs <- err })
				}()
			}}
		},
	})
	conn := dial(t, addr, "/t/order")
	if tc := tcpConnOf(conn); tc != nil {
		_ = tc.SetReadBuffer(16 << 10)
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	time.Sleep(300 * time.Millisecond)
	got, op, err := wsutil.ReadServerData(conn)
	if err != nil || op != ws.OpBinary || !bytes.Equal(got, big) {
		t.Fatalf("first message: %d bytes, %v, %v; want the %d-byte binary", len(got), op, err, len(big))
	}
	for _, want := range []string{"after, basic", "after, async"} {
		got, op, err := wsutil.ReadServerData(conn)
		if err != nil || op != ws.OpText || string(got) != want {
			t.Fatalf("got %q %v %v, want %q", got, op, err, want)
		}
	}
	for i := 0; i < 3; i++ {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatalf("send: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a send did not complete")
		}
	}
}

// TestStreamCloseWhileWaiting: when the client goes away while a large
// send waits for its socket, the send returns ErrSessionClosed promptly and
// OnClose runs.
func TestStreamCloseWhileWaiting(t *testing.T) {
	res := make(chan error, 1)
	closed := make(chan endpoint.CloseReason, 1)
	st := echoSettings()
	st.BlockingSendTimeout = time.Minute
	_, addr := startServer(t, st, echo.Config(), &endpoint.ServerConfig{
		Path: "/big",
		New: func() endpoint.Endpoint {
			return &closeSignal{closed: closed, open: func(s endpoint.Session) {
				go func() { res <- s.Basic().SendBinary(make([]byte, 16<<20)) }()
			}}
		},
	})
	conn := dialNonReader(t, addr, "/t/big")
	time.Sleep(200 * time.Millisecond)
	_ = conn.Close()
	wantSendClosed(t, res)
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose not called")
	}
	checkEcho(t, addr, "/t/echo")
}

// TestStreamWaitHoldsNoThread: large Basic sends waiting for sockets that
// are full park their goroutines in the runtime's network poller. Were each
// to wait in poll(2), every waiting sender would hold an OS thread, and
// enough of them would exhaust the process's threads.
func TestStreamWaitHoldsNoThread(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("reads amd64 system call numbers from /proc/self/task")
	}
	const senders = 32
	res := make(chan error, senders)
	started := make(chan struct{}, senders)
	st := echoSettings()
	st.BlockingSendTimeout = time.Minute
	_, addr := startServer(t, st, &endpoint.ServerConfig{
		Path: "/big",
		New: func() endpoint.Endpoint {
			return &closeSignal{closed: make(chan endpoint.CloseReason, 1), open: func(s endpoint.Session) {
				go func() {
					started <- struct{}{}
					res <- s.Basic().SendBinary(make([]byte, 8<<20))
				}()
			}}
		},
	})
	conns := make([]net.Conn, senders)
	for i := range conns {
		conns[i] = dialNonReader(t, addr, "/t/big")
	}
	for range senders {
		<-started
	}
	// The sockets fill within milliseconds; give the senders time to wait.
	time.Sleep(500 * time.Millisecond)
	if n := threadsInPoll(t); n >= senders/2 {
		t.Errorf("%d threads wait in poll(2) for %d large sends: a waiting sender holds a thread", n, senders)
	}
	for _, c := range conns {
		_ = c.Close()
	}
	for range senders {
		wantSendClosed(t, res)
	}
}

// wantSendClosed waits for a send's result on res: ErrSessionClosed, within
// 5 s of its client leaving.
func wantSendClosed(t *testing.T, res <-chan error) {
	t.Helper()
	select {
	case err := <-res:
		if err != endpoint.ErrSessionClosed {
			t.Fatalf("send returned %v, want ErrSessionClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a send still waits 5s after its client left")
	}
}

// threadsInPoll counts the process's threads now in poll(2) or ppoll(2).
func threadsInPoll(t *testing.T) int {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/syscall")
		if err != nil {
			continue // the thread exited
		}
		nr, _, _ := strings.Cut(string(b), " ")
		if nr == "7" || nr == "271" { // SYS_POLL, SYS_PPOLL on amd64
			n++
		}
	}
	return n
}
