package container

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"golang.org/x/sys/unix"

	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/samples/echo"
)

// readFrames reads server frames from conn until a close frame or an
// error, calling f for each data frame; it returns the close code (0 when
// the connection ended without one).
func readFrames(conn net.Conn, deadline time.Time, f func(op ws.OpCode, p []byte) error) (ws.StatusCode, error) {
	_ = conn.SetReadDeadline(deadline)
	for {
		h, err := ws.ReadHeader(conn)
		if err != nil {
			return 0, err
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(conn, p); err != nil {
			return 0, err
		}
		if h.OpCode == ws.OpClose {
			if len(p) < 2 {
				return ws.StatusNoStatusRcvd, nil
			}
			return ws.StatusCode(binary.BigEndian.Uint16(p)), nil
		}
		if err := f(h.OpCode, p); err != nil {
			return 0, err
		}
	}
}

// acks paces a broadcaster: it runs at most two windows of messages ahead
// of the slowest reader, so that readers that read never lag by more than
// the send limits, however the machine schedules them.
type acks struct {
	ch      chan struct{}
	readers int
	every   int
	got     int // used by the broadcaster only
}

func newAcks(readers, every, msgs int) *acks {
	return &acks{ch: make(chan struct{}, readers*(msgs/every+1)), readers: readers, every: every}
}

// before waits, before message i, until every reader acknowledged all but
// the last window.
func (a *acks) before(i int) {
	if i%a.every != 0 || i < 2*a.every {
		return
	}
	for need := (i/a.every - 1) * a.readers; a.got < need; a.got++ {
		<-a.ch
	}
}

// received is called by a reader after its n-th message; it acknowledges
// each window.
func (a *acks) received(c net.Conn, n int) error {
	if n%a.every != 0 {
		return nil
	}
	return wsutil.WriteClientText(c, []byte("ack"))
}

// fanoutRecorder announces its session, runs run in a goroutine of its own
// on the message "go", passes "ack" on and records OnClose.
type fanoutRecorder struct {
	ready  chan<- endpoint.Session
	closed chan<- endpoint.CloseReason
	acks   *acks
	run    func(endpoint.Session)
}

func (r *fanoutRecorder) OnOpen(s endpoint.Session, _ *endpoint.ServerConfig) {
	s.SetTextHandler(func(text string) {
		switch text {
		case "go":
			go r.run(s)
		case "ack":
			r.acks.ch <- struct{}{}
		}
	})
	r.ready <- s
}

func (r *fanoutRecorder) OnClose(_ endpoint.Session, why endpoint.CloseReason) {
	if r.closed != nil {
		r.closed <- why
	}
}

// TestFanoutOrder: a broadcast to fanoutMin sessions or more is written by
// the subscribers' loops, yet every session gets its frames in the order
// they were sent: the broadcasts in order, and on the sender's own session
// each Basic and Async send right after the broadcast before it, then the
// close frame last. The pending bound is small, so the broadcaster runs
// ahead of the loops and writes staged frames itself too.
func TestFanoutOrder(t *testing.T) {
	const conns, msgs = 16, 3000
	st := echoSettings()
	st.MaxPendingOutboundBytes = 8 << 10
	ready := make(chan endpoint.Session, conns)
	pad := strings.Repeat(".", 90)
	a := newAcks(conns, 50, msgs)
	_, addr := startServer(t, st, &endpoint.ServerConfig{
		Path: "/room",
		New: func() endpoint.Endpoint {
			return &fanoutRecorder{ready: ready, acks: a, run: func(s endpoint.Session) {
				for i := range msgs {
					a.before(i)
					if n := endpoint.Broadcast(s.OpenSessions(), endpoint.Text, fmt.Appendf(nil, "b%d%s", i, pad)); n != conns {
						t.Errorf("broadcast %d reached %d sessions", i, n)
						return
					}
					if i%2 == 0 {
						if err := s.Basic().SendText(fmt.Sprintf("d%d", i)); err != nil {
							t.Errorf("send %d: %v", i, err)
							return
						}
					} else {
						s.Async().SendText(fmt.Sprintf("d%d", i), func(err error) {
							if err != nil {
								t.Errorf("async send: %v", err)
							}
						})
					}
				}
				_ = s.Close(endpoint.CloseReason{Code: endpoint.CloseNormalClosure, Reason: "done"})
			}}
		},
	})
	cs := make([]net.Conn, conns)
	for i := range cs {
		cs[i] = dial(t, addr, "/t/room")
		<-ready
	}
	_ = wsutil.WriteClientText(cs[0], []byte("go"))
	deadline := time.Now().Add(60 * time.Second)
	var wg sync.WaitGroup
	for k, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var want []string
			for i := range msgs {
				want = append(want, fmt.Sprintf("b%d%s", i, pad))
				if k == 0 {
					want = append(want, fmt.Sprintf("d%d", i))
				}
			}
			got, bs := 0, 0
			code, err := readFrames(c, deadline, func(_ ws.OpCode, p []byte) error {
				if got >= len(want) || string(p) != want[got] {
					return fmt.Errorf("frame %d is %.12q, want %.12q", got, p, want[min(got, len(want)-1)])
				}
				got++
				if p[0] == 'b' {
					bs++
					if err := a.received(c, bs); err != nil {
						return err
					}
				}
				if k > 0 && got == len(want) {
					return io.EOF // subscribers get no close frame
				}
				return nil
			})
			switch {
			case k == 0 && (err != nil || code != ws.StatusNormalClosure || got != len(want)):
				t.Errorf("sender: %d of %d frames, close %d, %v", got, len(want), code, err)
			case k > 0 && got != len(want):
				t.Errorf("subscriber %d: %d of %d frames: %v", k, got, len(want), err)
			}
		}()
	}
	wg.Wait()
}

// TestFanoutSlowSubscriber: subscribers that do not read are closed by
// their send limits while a fan-out goes on, and the ones that read get
// every message, in order.
func TestFanoutSlowSubscriber(t *testing.T) {
	const conns, slow, msgs, size = 10, 2, 6000, 1 << 10
	st := echoSettings()
	st.MaxPendingOutboundBytes = 64 << 10
	st.AsyncSendTimeout = 300 * time.Millisecond
	ready := make(chan endpoint.Session, conns)
	closed := make(chan endpoint.CloseReason, conns)
	finished := make(chan struct{})
	a := newAcks(conns-slow, 20, msgs)
	_, addr := startServer(t, st, &endpoint.ServerConfig{
		Path: "/room",
		New: func() endpoint.Endpoint {
			return &fanoutRecorder{ready: ready, closed: closed, acks: a, run: func(s endpoint.Session) {
				defer close(finished)
				msg := make([]byte, size)
				for i := range msgs {
					a.before(i)
					binary.BigEndian.PutUint32(msg, uint32(i))
					endpoint.Broadcast(s.OpenSessions(), endpoint.Binary, msg)
				}
			}}
		},
	})
	cs := make([]net.Conn, conns)
	for i := range cs {
		cs[i] = dial(t, addr, "/t/room")
		<-ready
		if i >= conns-slow {
			if tc, ok := cs[i].(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(4096)
			}
		}
	}
	_ = wsutil.WriteClientText(cs[0], []byte("go"))
	deadline := time.Now().Add(60 * time.Second)
	var wg sync.WaitGroup
	for k, c := range cs[:conns-slow] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := 0
			_, err := readFrames(c, deadline, func(_ ws.OpCode, p []byte) error {
				if len(p) != size || binary.BigEndian.Uint32(p) != uint32(got) {
					return fmt.Errorf("message %d: %d bytes, number %d", got, len(p), binary.BigEndian.Uint32(p))
				}
				got++
				if got == msgs {
					return io.EOF
				}
				return a.received(c, got)
			})
			if got != msgs {
				t.Errorf("subscriber %d: %d of %d messages: %v", k, got, msgs, err)
			}
		}()
	}
	wg.Wait()
	select {
	case <-finished:
	case <-time.After(10 * time.Second):
		t.Fatal("the broadcaster did not finish")
	}
	for range slow {
		select {
		case r := <-closed:
			if r.Code != endpoint.CloseClosedAbnormally {
				t.Errorf("slow subscriber closed with %v, want 1006", r)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a slow subscriber was not closed")
		}
	}
	select {
	case r := <-closed:
		t.Errorf("a reading subscriber was closed: %v", r)
	default:
	}
}

// TestFanoutStagedHelp: while the subscribers' loops are busy (held), a
// broadcaster that has staged MaxPendingOutboundBytes on a session writes
// the staged frames itself instead of queueing more or closing the
// session; once the loops run, they write the rest. A close frame sent
// meanwhile goes last, and one that closes the connection after it
// (closeAfter) does so once everything before it is written.
func TestFanoutStagedHelp(t *testing.T) {
	const msgs, size = 200, 100
	env := newHotEnv(t, false)
	env.ctx.settings.MaxPendingOutboundBytes = 4 << 10
	peers := make([]*sendPeer, fanoutMin)
	to := make([]endpoint.Session, len(peers))
	for i := range peers {
		peers[i] = newSendPeer(t, env, false)
		peers[i].conn.hold()
		to[i] = peers[i].s
	}
	data := make([]byte, size)
	for i := range msgs {
		data[0] = byte(i)
		if n := peers[0].s.Broadcast(to, endpoint.Binary, data); n != len(to) {
			t.Fatalf("broadcast %d reached %d sessions", i, n)
		}
	}
	if err := peers[0].s.Close(endpoint.CloseReason{Code: endpoint.CloseGoingAway}); err != nil {
		t.Fatal(err)
	}
	peers[1].s.sendClose(ws.NewCloseFrameBody(ws.StatusPolicyViolation, ""), endpoint.CloseReason{Code: endpoint.CloseViolatedPolicy}, true)

	// What the broadcaster wrote itself is readable before the loops run.
	frame := headerLen(size) + size
	early := make([]byte, 8*frame)
	_ = peers[2].client.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(peers[2].client, early); err != nil {
		t.Fatalf("nothing was written while the loop was held: %v", err)
	}
	if peers[1].conn.closed.Load() {
		t.Fatal("closed before the staged frames were written")
	}
	for _, p := range peers {
		p.conn.release()
	}
	for k, p := range peers {
		r := io.Reader(p.client)
		if k == 2 {
			r = io.MultiReader(bytes.NewReader(early), p.client)
		}
		_ = p.client.SetReadDeadline(time.Now().Add(5 * time.Second))
		for i := range msgs {
			h, err := ws.ReadHeader(r)
			if err != nil {
				t.Fatalf("peer %d, message %d: %v", k, i, err)
			}
			b := make([]byte, h.Length)
			if _, err := io.ReadFull(r, b); err != nil || h.OpCode != ws.OpBinary || len(b) != size || b[0] != byte(i) {
				t.Fatalf("peer %d, message %d: %v %d bytes, first %d, %v", k, i, h.OpCode, len(b), b[0], err)
			}
		}
		if k > 1 {
			continue
		}
		h, err := ws.ReadHeader(r)
		if err != nil || h.OpCode != ws.OpClose {
			t.Fatalf("peer %d: %v %v after the messages, want the close frame", k, h.OpCode, err)
		}
	}
	if !waitFor(5*time.Second, peers[1].conn.closed.Load) {
		t.Fatal("closeAfter did not close the connection")
	}
	if peers[0].conn.closed.Load() {
		t.Fatal("a close frame without closeAfter closed the connection")
	}
}

// tcpInfo returns the TCP_INFO of c's socket (the test is skipped where
// there is none). Its segment counts count this socket's traffic only,
// unlike the process's write count, which also counts what other
// goroutines (a log line, the end of an earlier test) write meanwhile.
func tcpInfo(tb testing.TB, c net.Conn) *unix.TCPInfo {
	tb.Helper()
	if b, ok := c.(*bufferedConn); ok {
		c = b.Conn
	}
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		tb.Fatal(err)
	}
	var info *unix.TCPInfo
	var infoErr error
	if err := rc.Control(func(fd uintptr) { info, infoErr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil {
		tb.Fatal(err)
	}
	if infoErr != nil {
		tb.Skip("no TCP_INFO:", infoErr)
	}
	return info
}

// segsOut returns how many TCP segments c's socket has sent. With
// TCP_NODELAY (Go's default) and nothing to acknowledge, each write of less
// than a segment sends one.
func segsOut(tb testing.TB, c net.Conn) uint32 { return tcpInfo(tb, c).Segs_out }

// dataSegsIn returns how many TCP segments carrying data c's socket has
// received: as many as the peer's writes, when each is less than a segment
// and the peer has TCP_NODELAY (gnet sets it).
func dataSegsIn(tb testing.TB, c net.Conn) uint32 { return tcpInfo(tb, c).Data_segs_in }

// TestCorkedTurn: when an executor turn delivers several messages, the
// replies they send leave together, in order, in one system call, instead
// of one write each.
func TestCorkedTurn(t *testing.T) {
	const msgs, size = 16, 100
	env := newHotEnv(t, false)
	p := newSendPeer(t, env, false)
	p.s.SetBinaryHandler(func(b []byte) {
		if err := p.s.Basic().SendBinary(b); err != nil {
			t.Error(err)
		}
	})
	for i := range msgs {
		b := getBuf(size)
		*b = append(*b, make([]byte, size)...)
		(*b)[0] = byte(i)
		if !p.s.post(event{kind: evBinary, buf: b}) {
			t.Fatal("post failed")
		}
	}
	// The loop's flusher, the safety net for a turn that blocks, would
	// write what a slow turn (the race detector, a loaded machine) has
	// staged so far: hold it until the turn is over.
	p.conn.hold()
	before := segsOut(t, p.server)
	env.runTasks()
	writes := segsOut(t, p.server) - before
	p.conn.release()
	_ = p.client.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range msgs {
		h, err := ws.ReadHeader(p.client)
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		b := make([]byte, h.Length)
		if _, err := io.ReadFull(p.client, b); err != nil || len(b) != size || b[0] != byte(i) {
			t.Fatalf("reply %d: %d bytes, first %d, %v", i, len(b), b[0], err)
		}
	}
	if writes != 1 {
		t.Errorf("%d replies took %d writes (TCP segments), want 1", msgs, writes)
	}
}

// TestCorkedInlineRead: an inline endpoint answers the messages of one read
// with one system call, in order.
func TestCorkedInlineRead(t *testing.T) {
	const msgs = 16
	_, addr := startServer(t, echoSettings(), echo.InlineConfig())
	conn := dial(t, addr, "/t/echo-inline")
	var burst []byte
	for i := range msgs {
		burst = append(burst, maskedFrame(ws.OpBinary, []byte{byte(i), 1, 2, 3})...)
	}
	// One round first, so that the session is settled.
	if _, err := conn.Write(maskedFrame(ws.OpBinary, []byte{0})); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := wsutil.ReadServerBinary(conn); err != nil {
		t.Fatal(err)
	}
	before := dataSegsIn(t, conn)
	if _, err := conn.Write(burst); err != nil {
		t.Fatal(err)
	}
	for i := range msgs {
		b, err := wsutil.ReadServerBinary(conn)
		if err != nil || len(b) != 4 || b[0] != byte(i) {
			t.Fatalf("reply %d: %v %v", i, b, err)
		}
	}
	// One write for the replies; a burst split over two reads by TCP may
	// take one more.
	if writes := dataSegsIn(t, conn) - before; writes > 2 {
		t.Errorf("%d replies came in %d writes (TCP segments), want 1", msgs, writes)
	}
}

// TestFlushStagedCloseRace runs a flush of staged frames that writes
// without the lock (as on the loop) against closeOutbound from another
// goroutine, which gnet never does but a caller off the loop could: every
// frame must be completed exactly once, with nil if the flush wrote it
// before the close took the FIFO, else with ErrSessionClosed.
func TestFlushStagedCloseRace(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	peer := fds[1]
	defer unix.Close(fds[0])
	defer unix.Close(peer)
	stop := make(chan struct{})
	drained := make(chan struct{})
	go func() { // keep the socket writable
		defer close(drained)
		buf := make([]byte, 64<<10)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = unix.SetNonblock(peer, true)
			if _, err := unix.Read(peer, buf); err != nil {
				time.Sleep(10 * time.Microsecond)
			}
		}
	}()
	defer func() { close(stop); <-drained }()

	const rounds, frames = 2000, maxIOV + 8 // more than one writev per flush
	var wrote, failed int
	for r := 0; r < rounds; r++ {
		s := &session{fd: int32(fds[0])}
		calls := make([]int, frames)
		var mu sync.Mutex
		var results [frames]error
		s.out.mu.Lock()
		for i := 0; i < frames; i++ {
			s.stageLocked(newSendOp(s, wframe{b: []byte("frame")}, func(err error) {
				mu.Lock()
				calls[i]++
				results[i] = err
				mu.Unlock()
			}))
		}
		s.out.mu.Unlock()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); s.flushStaged(new(flushScratch), true) }()
		go func() { defer wg.Done(); s.closeOutbound() }()
		wg.Wait()
		for i, n := range calls {
			if n != 1 {
				t.Fatalf("round %d: frame %d completed %d times", r, i, n)
			}
			switch results[i] {
			case nil:
				wrote++
			case endpoint.ErrSessionClosed:
				failed++
			default:
				t.Fatalf("round %d: frame %d completed with %v", r, i, results[i])
			}
		}
	}
	t.Logf("%d frames written, %d failed by the close", wrote, failed)
}
