package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// TestPeers runs every implementation in-process and checks /echo,
// /broadcast, the message limit, slow subscribers and shutdown with a gobwas
// client. It logs which implementations answer an over-limit message with a
// 1009 close frame.
func TestPeers(t *testing.T) {
	var mu sync.Mutex
	overLimit := map[string]string{}
	for _, name := range implNames() {
		t.Run(name, func(t *testing.T) {
			if name == "nbio" && raceEnabled {
				// nbio hands accepted connections to its pollers through
				// epoll, which the race detector does not see: it reports
				// races inside nbio (RemoteAddr in ServerProcessor.OnComplete).
				t.Skip("nbio is not race-detector clean")
			}
			addr, stop := startPeer(t, name)
			idle := dial(t, addr, "/echo") // must be closed by stop

			t.Run("echo", func(t *testing.T) { testEcho(t, addr) })
			t.Run("broadcast", func(t *testing.T) { testBroadcast(t, addr) })
			t.Run("slow_subscriber", func(t *testing.T) { testSlowSubscriber(t, addr) })
			t.Run("over_limit", func(t *testing.T) {
				how := testOverLimit(t, addr)
				mu.Lock()
				overLimit[name] = how
				mu.Unlock()
			})

			stop()
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Errorf("%s still accepts connections after stop", addr)
			}
			_ = idle.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := io.Copy(io.Discard, idle.r); isTimeout(err) {
				t.Errorf("an open connection was not closed by stop")
			}
		})
	}
	names := make([]string, 0, len(overLimit))
	for n := range overLimit {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "\n  %-8s %s", n, overLimit[n])
	}
	t.Logf("over-limit message (%d bytes):%s", maxMessageSize+1, b.String())
}

// startPeer serves impl name on a free 127.0.0.1 port. stop cancels it and
// fails the test unless it returns nil within 2 s.
func startPeer(t *testing.T, name string) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- impls[name](ctx, ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve returned %v", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatalf("serve did not return within 2 s of the cancel")
			}
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// client is a gobwas client connection.
type client struct {
	t    *testing.T
	conn net.Conn
	r    io.Reader // conn, or the buffer the handshake left data in
}

// dial opens a WebSocket connection to path on addr, closed at cleanup.
func dial(t *testing.T, addr, path string) *client {
	t.Helper()
	d := ws.Dialer{Timeout: 5 * time.Second}
	conn, br, _, err := d.Dial(context.Background(), "ws://"+addr+path)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &client{t: t, conn: conn, r: conn}
	if br != nil {
		c.r = br
	}
	return c
}

// send writes one masked message.
func (c *client) send(op ws.OpCode, p []byte) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := wsutil.WriteClientMessage(c.conn, op, p); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// next reads the next data message, which must be one unmasked frame, and
// returns its opcode and payload.
func (c *client) next(d time.Duration) (ws.OpCode, []byte, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	for {
		f, err := ws.ReadFrame(c.r)
		if err != nil {
			return 0, nil, err
		}
		switch {
		case f.Header.Masked:
			return 0, nil, errors.New("masked frame from the server")
		case f.Header.OpCode == ws.OpClose:
			code, reason := ws.ParseCloseFrameData(f.Payload)
			return 0, nil, fmt.Errorf("close frame %d %q", code, reason)
		case f.Header.OpCode.IsControl():
			continue
		case !f.Header.Fin || f.Header.OpCode == ws.OpContinuation:
			return 0, nil, fmt.Errorf("fragmented message (fin %v, opcode %v)", f.Header.Fin, f.Header.OpCode)
		}
		return f.Header.OpCode, f.Payload, nil
	}
}

// randomBytes returns n random bytes.
func randomBytes(t *testing.T, n int) []byte {
	p := make([]byte, n)
	if _, err := rand.Read(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// testEcho sends a 10 B text, a 64 KiB binary and a 1 MiB binary message to
// /echo, back to back, and wants each back whole, in order, same opcode.
func testEcho(t *testing.T, addr string) {
	c := dial(t, addr, "/echo")
	msgs := []struct {
		op ws.OpCode
		p  []byte
	}{
		{ws.OpText, []byte("hello, ws!")},
		{ws.OpBinary, randomBytes(t, 64<<10)},
		{ws.OpBinary, randomBytes(t, 1<<20)},
	}
	go func() {
		for _, m := range msgs {
			if wsutil.WriteClientMessage(c.conn, m.op, m.p) != nil {
				return
			}
		}
	}()
	for _, m := range msgs {
		op, p, err := c.next(10 * time.Second)
		if err != nil {
			t.Fatalf("echo of %d B: %v", len(m.p), err)
		}
		if op != m.op || !bytes.Equal(p, m.p) {
			t.Fatalf("echo of %d B opcode %v: got %d B opcode %v", len(m.p), m.op, len(p), op)
		}
	}
}

// testBroadcast opens 3 connections on /broadcast and wants a message sent
// by one to reach all 3.
func testBroadcast(t *testing.T, addr string) {
	var cs []*client
	for i := range 3 {
		c := dial(t, addr, "/broadcast")
		// Once a connection gets its own hello back, the server has it in
		// its subscriber set (a 101 may reach the client before that).
		hello := []byte(fmt.Sprintf("hello %d", i))
		c.send(ws.OpText, hello)
		for {
			_, p, err := c.next(5 * time.Second)
			if err != nil {
				t.Fatalf("conn %d waiting for its hello: %v", i, err)
			}
			if bytes.Equal(p, hello) {
				break
			}
		}
		cs = append(cs, c)
	}
	for _, tc := range []struct {
		op ws.OpCode
		p  []byte
	}{
		{ws.OpBinary, randomBytes(t, 1000)},
		{ws.OpText, []byte("broadcast text")},
	} {
		cs[1].send(tc.op, tc.p)
		for i, c := range cs {
			for {
				op, p, err := c.next(5 * time.Second)
				if err != nil {
					t.Fatalf("conn %d: %v", i, err)
				}
				if bytes.HasPrefix(p, []byte("hello ")) {
					continue // another connection's hello
				}
				if op != tc.op || !bytes.Equal(p, tc.p) {
					t.Fatalf("conn %d: got %d B opcode %v, want %d B opcode %v", i, len(p), op, len(tc.p), tc.op)
				}
				break
			}
		}
	}
}

// testSlowSubscriber broadcasts 96 MiB in 64 KiB messages while one
// /broadcast subscriber never reads. The sender and another subscriber read
// everything, in order (the sender keeps at most 8 messages ahead of both,
// well inside the per-subscriber budget); the one that does not read must be
// closed before it has received everything.
func testSlowSubscriber(t *testing.T, addr string) {
	const (
		size   = 64 << 10
		total  = 1536
		window = 8
	)
	a := dial(t, addr, "/broadcast")
	b := dial(t, addr, "/broadcast")
	slow := dial(t, addr, "/broadcast")
	// Make sure all three are subscribed: each sees its own hello.
	for i, c := range []*client{a, b, slow} {
		hello := []byte(fmt.Sprintf("hello %d", i))
		c.send(ws.OpText, hello)
		for {
			_, p, err := c.next(5 * time.Second)
			if err != nil {
				t.Fatalf("conn %d waiting for its hello: %v", i, err)
			}
			if bytes.Equal(p, hello) {
				break
			}
		}
	}

	read := func(name string, c *client, got chan<- error) {
		next := uint64(0)
		for next < total {
			op, p, err := c.next(10 * time.Second)
			if err != nil {
				got <- fmt.Errorf("%s after %d messages: %w", name, next, err)
				return
			}
			if op == ws.OpText {
				continue // a hello
			}
			if len(p) != size || binary.BigEndian.Uint64(p) != next {
				got <- fmt.Errorf("%s: message %d: got %d B seq %d", name, next, len(p), binary.BigEndian.Uint64(p))
				return
			}
			next++
			got <- nil
		}
	}
	gotA := make(chan error, total)
	gotB := make(chan error, total)
	go read("sender", a, gotA)
	go read("reader", b, gotB)

	na, nb := 0, 0 // messages a and b have received
	wait := func() {
		var err error
		select {
		case err = <-gotA:
			na++
		case err = <-gotB:
			nb++
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	payload := randomBytes(t, size)
	for k := range total {
		for k-min(na, nb) > window {
			wait()
		}
		binary.BigEndian.PutUint64(payload, uint64(k))
		a.send(ws.OpBinary, payload)
	}
	for na < total || nb < total {
		wait()
	}

	n := 0
	var err error
	for {
		var op ws.OpCode
		op, _, err = slow.next(10 * time.Second)
		if err != nil {
			break
		}
		if op == ws.OpBinary {
			n++
		}
	}
	if isTimeout(err) || n >= total {
		t.Fatalf("the subscriber that did not read was not closed: got %d of %d messages, then %v", n, total, err)
	}
	t.Logf("the subscriber that did not read got %d of %d messages, then: %v", n, total, err)
}

// testOverLimit sends a maxMessageSize+1 message to /echo and wants the
// server to end the connection. It returns how it did.
func testOverLimit(t *testing.T, addr string) string {
	c := dial(t, addr, "/echo")
	big := make([]byte, maxMessageSize+1)
	go func() {
		// Fails once the server closes; the result is in what we read.
		_ = c.conn.SetWriteDeadline(time.Now().Add(20 * time.Second))
		_ = wsutil.WriteClientMessage(c.conn, ws.OpBinary, big)
	}()
	_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	how := ""
	for {
		f, err := ws.ReadFrame(c.r)
		if err != nil {
			if isTimeout(err) {
				t.Fatalf("the connection did not end (%s)", how)
			}
			if how == "" {
				how = "no close frame"
			}
			return fmt.Sprintf("%s, then %v", how, err)
		}
		switch f.Header.OpCode {
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(f.Payload)
			how = fmt.Sprintf("close frame %d %q", code, reason)
			if code != ws.StatusMessageTooBig {
				t.Errorf("close code %d, want 1009 or none", code)
			}
			// Answer the close handshake, so a server waiting for it can end.
			if len(f.Payload) >= 2 {
				_ = ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewCloseFrame(f.Payload[:2])))
			}
		case ws.OpText, ws.OpBinary, ws.OpContinuation:
			t.Fatalf("the server answered an over-limit message with data (%d B)", len(f.Payload))
		}
	}
}

// isTimeout reports whether err is a deadline error.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
