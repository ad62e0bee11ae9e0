package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// Close frames the gobwas server sends, compiled once.
var (
	gobwasCloseTooBig = ws.MustCompileFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusMessageTooBig, "")))
	gobwasCloseSlow   = ws.MustCompileFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusPolicyViolation, "slow consumer")))
)

// serveGobwas serves with github.com/gobwas/ws under net/http: ws.UpgradeHTTP,
// one goroutine per connection, wsutil.ReadClientData and
// wsutil.WriteServerMessage, the common gobwas idiom (as in
// lesismal/go-websocket-benchmark). The message limit is the wsutil helpers'
// package-level setting; a bigger message gets a 1009 close frame.
//
// Reads go through the bufio.Reader the hijack returned (it may hold bytes
// already), while writes, including the control-frame replies ReadClientData
// makes, go straight to the connection: the hijacked bufio.Writer is not
// used, because wsutil does not flush it after an empty pong.
//
// /broadcast compiles the server frame once per message with ws.WriteFrame
// and hands those bytes to every subscriber's writer goroutine through a
// bounded outbox; a subscriber that falls behind is closed with 1008. Writes
// on a /broadcast connection (frames from its writer, control replies from
// its reader) are serialized by a mutex, one Write call per frame.
func serveGobwas(ctx context.Context, ln net.Listener) error {
	wsutil.SetMaxMessageSize(maxMessageSize)
	s := &gobwasServer{conns: newConnTracker(), subs: newHub[*gobwasSub]()}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", s.echo)
	mux.HandleFunc("/broadcast", s.broadcast)
	return runHTTP(ctx, ln, mux, s.conns)
}

// gobwasServer holds the state shared by the gobwas handlers.
type gobwasServer struct {
	conns *connTracker
	subs  *hub[*gobwasSub]
}

// upgrade upgrades the request and registers the connection for shutdown.
// It returns a nil conn if that failed.
func (s *gobwasServer) upgrade(w http.ResponseWriter, r *http.Request) (net.Conn, *bufio.Reader) {
	conn, rw, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		if conn != nil {
			_ = conn.Close() // UpgradeHTTP has written the HTTP error
		}
		return nil, nil
	}
	if !s.conns.add(conn, func() { _ = conn.Close() }) {
		_ = conn.Close()
		return nil, nil
	}
	return conn, rw.Reader
}

// gobwasReadError closes conn after a read error, with 1009 if the message was too
// big.
func gobwasReadError(w io.Writer, conn net.Conn, err error) {
	if errors.Is(err, wsutil.ErrMessageTooLarge) || errors.Is(err, wsutil.ErrFrameTooLarge) {
		_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = w.Write(gobwasCloseTooBig)
	}
	_ = conn.Close()
}

// echo serves /echo.
func (s *gobwasServer) echo(w http.ResponseWriter, r *http.Request) {
	conn, br := s.upgrade(w, r)
	if conn == nil {
		return
	}
	defer s.conns.remove(conn)
	rw := struct {
		io.Reader
		io.Writer
	}{br, conn}
	for {
		msg, op, err := wsutil.ReadClientData(rw)
		if err != nil {
			gobwasReadError(conn, conn, err)
			return
		}
		if err := wsutil.WriteServerMessage(conn, op, msg); err != nil {
			_ = conn.Close()
			return
		}
	}
}

// gobwasSub is one /broadcast subscriber. Its Write serializes writes to the
// connection.
type gobwasSub struct {
	conn   net.Conn
	wmu    sync.Mutex
	out    *outbox[[]byte]
	closed atomic.Bool
}

// Write writes p to the connection under the write lock.
func (sub *gobwasSub) Write(p []byte) (int, error) {
	sub.wmu.Lock()
	defer sub.wmu.Unlock()
	return sub.conn.Write(p)
}

// closeSlow closes a subscriber whose outbox overflowed, with a 1008 close
// frame if no write is in progress.
func (sub *gobwasSub) closeSlow() {
	if !sub.closed.CompareAndSwap(false, true) {
		return
	}
	if sub.wmu.TryLock() {
		_ = sub.conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		_, _ = sub.conn.Write(gobwasCloseSlow)
		sub.wmu.Unlock()
	}
	_ = sub.conn.Close()
}

// writeFrame writes one compiled frame.
func (sub *gobwasSub) writeFrame(frame []byte) error {
	_, err := sub.Write(frame)
	return err
}

// broadcast serves /broadcast.
func (s *gobwasServer) broadcast(w http.ResponseWriter, r *http.Request) {
	conn, br := s.upgrade(w, r)
	if conn == nil {
		return
	}
	defer s.conns.remove(conn)
	sub := &gobwasSub{conn: conn, out: newOutbox[[]byte]()}
	stop := make(chan struct{})
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		if sub.out.run(stop, sub.writeFrame) != nil {
			_ = conn.Close() // unblocks the reader below
		}
	}()
	s.subs.add(sub)
	defer func() {
		s.subs.remove(sub)
		_ = conn.Close()
		close(stop)
		<-wrote
	}()
	rw := struct {
		io.Reader
		io.Writer
	}{br, sub}
	for {
		msg, op, err := wsutil.ReadClientData(rw)
		if err != nil {
			gobwasReadError(sub, conn, err)
			return
		}
		var fb bytes.Buffer
		fb.Grow(len(msg) + ws.MaxHeaderSize)
		if err := ws.WriteFrame(&fb, ws.NewFrame(op, true, msg)); err != nil {
			return
		}
		frame := fb.Bytes()
		n := cost(len(msg))
		s.subs.each(func(o *gobwasSub) {
			if !o.out.push(frame, n) {
				go o.closeSlow()
			}
		})
	}
}
