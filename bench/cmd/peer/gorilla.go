package main

import (
	"context"
	"log"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// serveGorilla serves with github.com/gorilla/websocket under net/http: one
// goroutine per connection reading with NextReader into a reused buffer and
// echoing with WriteMessage (as lesismal/go-websocket-benchmark does). On
// /broadcast each message becomes one websocket.PreparedMessage, so the frame
// is encoded once, and every subscriber has a writer goroutine, gorilla's
// idiom for a connection with several writers, draining a bounded outbox.
func serveGorilla(ctx context.Context, ln net.Listener) error {
	s := &gorillaServer{
		upgrader: websocket.Upgrader{
			ReadBufferSize:  4096,
			WriteBufferSize: 4096,
			CheckOrigin:     func(*http.Request) bool { return true },
		},
		conns: newConnTracker(),
		subs:  newHub[*gorillaSub](),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", s.echo)
	mux.HandleFunc("/broadcast", s.broadcast)
	return runHTTP(ctx, ln, mux, s.conns)
}

// gorillaServer holds the state shared by the gorilla handlers.
type gorillaServer struct {
	upgrader websocket.Upgrader
	conns    *connTracker
	subs     *hub[*gorillaSub]
}

// upgrade upgrades the request and registers the connection for shutdown.
// It returns nil if that failed.
func (s *gorillaServer) upgrade(w http.ResponseWriter, r *http.Request) *websocket.Conn {
	c, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return nil // Upgrade has replied with an HTTP error
	}
	if !s.conns.add(c, func() { _ = c.Close() }) {
		_ = c.Close()
		return nil
	}
	c.SetReadLimit(maxMessageSize)
	return c
}

// echo serves /echo.
func (s *gorillaServer) echo(w http.ResponseWriter, r *http.Request) {
	c := s.upgrade(w, r)
	if c == nil {
		return
	}
	defer s.conns.remove(c)
	defer c.Close()
	var buf []byte
	for {
		mt, rd, err := c.NextReader()
		if err != nil {
			return
		}
		msg, err := readInto(&buf, rd)
		if err != nil {
			return
		}
		if err := c.WriteMessage(mt, msg); err != nil {
			return
		}
		keep(&buf)
	}
}

// gorillaSub is one /broadcast subscriber.
type gorillaSub struct {
	c      *websocket.Conn
	out    *outbox[*websocket.PreparedMessage]
	closed atomic.Bool
}

// closeSlow closes a subscriber whose outbox overflowed, with 1008.
func (sub *gorillaSub) closeSlow() {
	if !sub.closed.CompareAndSwap(false, true) {
		return
	}
	msg := websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "slow consumer")
	_ = sub.c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(100*time.Millisecond))
	_ = sub.c.Close()
}

// broadcast serves /broadcast.
func (s *gorillaServer) broadcast(w http.ResponseWriter, r *http.Request) {
	c := s.upgrade(w, r)
	if c == nil {
		return
	}
	defer s.conns.remove(c)
	sub := &gorillaSub{c: c, out: newOutbox[*websocket.PreparedMessage]()}
	stop := make(chan struct{})
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		if sub.out.run(stop, c.WritePreparedMessage) != nil {
			_ = c.Close() // unblocks the reader below
		}
	}()
	s.subs.add(sub)
	defer func() {
		s.subs.remove(sub)
		_ = c.Close()
		close(stop)
		<-wrote
	}()
	var buf []byte
	for {
		mt, rd, err := c.NextReader()
		if err != nil {
			return
		}
		data, err := readInto(&buf, rd)
		if err != nil {
			return
		}
		// NewPreparedMessage encodes the server frame now, from a copy of
		// data, so buf can be reused.
		pm, err := websocket.NewPreparedMessage(mt, data)
		if err != nil {
			log.Print("gorilla: prepare: ", err)
			return
		}
		n := cost(len(data))
		s.subs.each(func(o *gorillaSub) {
			if !o.out.push(pm, n) {
				go o.closeSlow()
			}
		})
		keep(&buf)
	}
}
