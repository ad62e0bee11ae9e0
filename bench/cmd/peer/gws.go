package main

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
)

// serveGws serves with github.com/lxzan/gws upgraded from net/http, with
// `go socket.ReadLoop()` per connection (gws' documented idiom), messages
// handled in order on the read goroutine (ParallelEnabled false) and no
// permessage-deflate. /echo writes back with WriteMessage. /broadcast hands
// each message to a gws.Broadcaster, which encodes the frame once and queues
// it on every subscriber's own write queue (concurrency 1); since that queue
// is unbounded, each subscriber counts what it has queued and is closed,
// with 1008, when that passes queueLimit.
func serveGws(ctx context.Context, ln net.Listener) error {
	option := func() *gws.ServerOption {
		return &gws.ServerOption{
			ParallelEnabled:     false,
			ReadMaxPayloadSize:  maxMessageSize,
			WriteMaxPayloadSize: maxMessageSize,
			PermessageDeflate:   gws.PermessageDeflate{Enabled: false},
		}
	}
	conns := newConnTracker()
	b := &gwsBroadcast{subs: newHub[*gwsSub]()}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", gwsHandler(gws.NewUpgrader(gwsEcho{}, option()), conns))
	mux.HandleFunc("/broadcast", gwsHandler(gws.NewUpgrader(b, option()), conns))
	return runHTTP(ctx, ln, mux, conns)
}

// gwsHandler upgrades requests with up and runs each connection's read loop
// in its own goroutine.
func gwsHandler(up *gws.Upgrader, conns *connTracker) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		socket, err := up.Upgrade(w, r)
		if err != nil {
			return // Upgrade has replied with an HTTP error
		}
		if !conns.add(socket, func() { _ = socket.NetConn().Close() }) {
			_ = socket.NetConn().Close()
			return
		}
		go func() {
			defer conns.remove(socket)
			socket.ReadLoop()
		}()
	}
}

// gwsEcho is the /echo event handler.
type gwsEcho struct {
	gws.BuiltinEventHandler
}

// OnPing replies with the ping's payload, as RFC 6455 asks (the built-in
// handler sends an empty pong).
func (gwsEcho) OnPing(socket *gws.Conn, payload []byte) { _ = socket.WritePong(payload) }

// OnMessage echoes the message.
func (gwsEcho) OnMessage(socket *gws.Conn, message *gws.Message) {
	defer message.Close()
	_ = socket.WriteMessage(message.Opcode, message.Bytes())
}

// gwsSub is one /broadcast subscriber.
type gwsSub struct {
	c       *gws.Conn
	pending atomic.Int64 // cost of frames queued on c and not yet written
	dead    atomic.Bool
}

// gwsSubKey is the session key of a connection's *gwsSub.
const gwsSubKey = "sub"

// closeSlow closes a subscriber whose queue overflowed, with 1008. The
// deadline unblocks a write stuck on a reader that does not read.
func (sub *gwsSub) closeSlow() {
	_ = sub.c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_ = sub.c.WriteClose(1008, []byte("slow consumer"))
}

// gwsBroadcast is the /broadcast event handler.
type gwsBroadcast struct {
	gws.BuiltinEventHandler
	subs *hub[*gwsSub]
}

// OnOpen subscribes the connection; gws calls it from ReadLoop, before the
// first read.
func (b *gwsBroadcast) OnOpen(socket *gws.Conn) {
	sub := &gwsSub{c: socket}
	socket.Session().Store(gwsSubKey, sub)
	b.subs.add(sub)
}

// OnClose unsubscribes the connection.
func (b *gwsBroadcast) OnClose(socket *gws.Conn, _ error) {
	if v, ok := socket.Session().Load(gwsSubKey); ok {
		b.subs.remove(v.(*gwsSub))
	}
}

// OnPing replies with the ping's payload.
func (b *gwsBroadcast) OnPing(socket *gws.Conn, payload []byte) { _ = socket.WritePong(payload) }

// OnMessage sends the message to every subscriber. The Broadcaster encodes
// the frame on its first Broadcast call, from a copy of the payload, so the
// message can be released when the loop is done.
func (b *gwsBroadcast) OnMessage(_ *gws.Conn, message *gws.Message) {
	defer message.Close()
	bc := gws.NewBroadcaster(message.Opcode, message.Bytes())
	defer bc.Close()
	n := cost(message.Data.Len())
	b.subs.each(func(sub *gwsSub) {
		if sub.dead.Load() {
			return
		}
		if p := sub.pending.Add(n); p > n && p > queueLimit {
			sub.pending.Add(-n)
			if sub.dead.CompareAndSwap(false, true) {
				go sub.closeSlow()
			}
			return
		}
		if bc.Broadcast(sub.c) != nil {
			sub.pending.Add(-n)
			return
		}
		// The write queue runs jobs in order, one at a time: this one runs
		// once the frame queued just above is written.
		sub.c.Async(func() { sub.pending.Add(-n) })
	})
}
