package main

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/coder/websocket"
)

// serveCoder serves with github.com/coder/websocket (formerly
// nhooyr.io/websocket) under net/http: websocket.Accept with origin checks
// off and compression disabled, one goroutine per connection. /echo reads
// each message with Reader into a reused buffer and writes it back with
// Write, one frame. coder has no prepared or shared frame, so /broadcast
// writes the message once per subscriber, from a writer goroutine per
// subscriber (the library's chat example idiom) draining a bounded outbox; a
// subscriber that falls behind is closed with 1008.
//
// Contexts are context.Background(): coder arms a timer per call for a
// cancellable context, and shutdown closes connections with CloseNow anyway.
func serveCoder(ctx context.Context, ln net.Listener) error {
	s := &coderServer{
		opts: &websocket.AcceptOptions{
			InsecureSkipVerify: true, // any Origin
			CompressionMode:    websocket.CompressionDisabled,
		},
		conns: newConnTracker(),
		subs:  newHub[*coderSub](),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", s.echo)
	mux.HandleFunc("/broadcast", s.broadcast)
	return runHTTP(ctx, ln, mux, s.conns)
}

// coderServer holds the state shared by the coder handlers.
type coderServer struct {
	opts  *websocket.AcceptOptions
	conns *connTracker
	subs  *hub[*coderSub]
}

// accept upgrades the request and registers the connection for shutdown.
// It returns nil if that failed.
func (s *coderServer) accept(w http.ResponseWriter, r *http.Request) *websocket.Conn {
	c, err := websocket.Accept(w, r, s.opts)
	if err != nil {
		return nil // Accept has replied with an HTTP error
	}
	if !s.conns.add(c, func() { _ = c.CloseNow() }) {
		_ = c.CloseNow()
		return nil
	}
	c.SetReadLimit(maxMessageSize)
	return c
}

// echo serves /echo.
func (s *coderServer) echo(w http.ResponseWriter, r *http.Request) {
	c := s.accept(w, r)
	if c == nil {
		return
	}
	defer s.conns.remove(c)
	defer c.CloseNow()
	ctx := context.Background()
	var buf []byte
	for {
		typ, rd, err := c.Reader(ctx)
		if err != nil {
			return
		}
		msg, err := readInto(&buf, rd)
		if err != nil {
			return
		}
		if err := c.Write(ctx, typ, msg); err != nil {
			return
		}
		keep(&buf)
	}
}

// coderMsg is one broadcast message, shared by every subscriber's outbox.
type coderMsg struct {
	typ  websocket.MessageType
	data []byte
}

// coderSub is one /broadcast subscriber.
type coderSub struct {
	c      *websocket.Conn
	out    *outbox[*coderMsg]
	closed atomic.Bool
}

// closeSlow closes a subscriber whose outbox overflowed, with 1008, as the
// library's chat example does. Close does the close handshake, which takes a
// while with a peer that does not read: it runs in its own goroutine.
func (sub *coderSub) closeSlow() {
	if sub.closed.CompareAndSwap(false, true) {
		_ = sub.c.Close(websocket.StatusPolicyViolation, "slow consumer")
	}
}

// broadcast serves /broadcast.
func (s *coderServer) broadcast(w http.ResponseWriter, r *http.Request) {
	c := s.accept(w, r)
	if c == nil {
		return
	}
	defer s.conns.remove(c)
	ctx := context.Background()
	sub := &coderSub{c: c, out: newOutbox[*coderMsg]()}
	stop := make(chan struct{})
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		err := sub.out.run(stop, func(m *coderMsg) error { return c.Write(ctx, m.typ, m.data) })
		if err != nil {
			_ = c.CloseNow() // unblocks the reader below
		}
	}()
	s.subs.add(sub)
	defer func() {
		s.subs.remove(sub)
		_ = c.CloseNow()
		close(stop)
		<-wrote
	}()
	for {
		typ, data, err := c.Read(ctx) // a fresh slice: subscribers share it
		if err != nil {
			return
		}
		m := &coderMsg{typ: typ, data: data}
		n := cost(len(data))
		s.subs.each(func(o *coderSub) {
			if !o.out.push(m, n) {
				go o.closeSlow()
			}
		})
	}
}
