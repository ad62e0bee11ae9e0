package main

import (
	"context"
	"log"
	"net"
	"net/http"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

// serveNbio serves with github.com/lesismal/nbio: an nbhttp.Engine in its
// default, non-blocking IO mode (epoll, no goroutine per connection), with
// websocket.NewUpgrader and an OnMessage callback that writes back with
// c.WriteMessage, as lesismal/go-websocket-benchmark's nbio_nonblocking does.
//
// Settings that differ from the library defaults, and why:
//   - MessageLengthLimit is 16 MiB (default 4 MiB); a bigger message gets 1009.
//   - KeepaliveTime is 0: by default nbio closes a WebSocket connection that
//     has received nothing for 120 s, which no other peer does.
//   - MaxWebsocketFramePayloadSize is 16 MiB: by default WriteMessage splits
//     a message into 32 KiB frames; the other peers send one frame.
//   - MaxWriteBufferSize bounds what nbio buffers for a connection whose
//     socket is full; a write past it closes the connection. It has to fit one
//     whole frame of the biggest message, hence maxMessageSize + queueLimit.
//
// nbio has no prepared or shared frame, so /broadcast calls WriteMessage for
// each subscriber. In this mode WriteMessage never blocks (nbio buffers what
// the socket does not take, and WriteMessage is safe for concurrent use), so
// it needs no writer goroutine; MaxWriteBufferSize bounds slow subscribers.
func serveNbio(ctx context.Context, ln net.Listener) error {
	logging.SetLevel(logging.LevelError) // no per-engine startup lines

	subs := newHub[*websocket.Conn]()

	echo := newNbioUpgrader()
	echo.OnMessage(func(c *websocket.Conn, mt websocket.MessageType, data []byte) {
		_ = c.WriteMessage(mt, data)
	})

	bcast := newNbioUpgrader()
	bcast.OnOpen(subs.add) // called in Upgrade, before any message is handled
	bcast.OnClose(func(c *websocket.Conn, _ error) { subs.remove(c) })
	bcast.OnMessage(func(_ *websocket.Conn, mt websocket.MessageType, data []byte) {
		subs.each(func(c *websocket.Conn) { _ = c.WriteMessage(mt, data) })
	})

	mux := http.NewServeMux()
	mux.HandleFunc("/echo", nbioHandler(echo))
	mux.HandleFunc("/broadcast", nbioHandler(bcast))

	engine := nbhttp.NewEngine(nbhttp.Config{
		Network: "tcp",
		Addrs:   []string{ln.Addr().String()},
		// The engine listens with this; it returns the listener main made.
		Listen:                       func(string, string) (net.Listener, error) { return ln, nil },
		Handler:                      mux,
		IOMod:                        nbhttp.IOModNonBlocking,
		ReleaseWebsocketPayload:      true,
		MaxWebsocketFramePayloadSize: maxMessageSize,
		MaxWriteBufferSize:           maxMessageSize + queueLimit,
	})
	echo.Engine = engine
	bcast.Engine = engine
	if err := engine.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
	defer cancel()
	if err := engine.Shutdown(sctx); err != nil {
		log.Print("nbio: shutdown: ", err)
	}
	return nil
}

// newNbioUpgrader returns an upgrader with the settings every nbio path
// shares.
func newNbioUpgrader() *websocket.Upgrader {
	u := websocket.NewUpgrader()
	u.CheckOrigin = func(*http.Request) bool { return true }
	u.EnableCompression(false)
	u.KeepaliveTime = 0
	u.MessageLengthLimit = maxMessageSize
	return u
}

// nbioHandler upgrades requests with u; the engine then reads the
// connection and calls u's callbacks.
func nbioHandler(u *websocket.Upgrader) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = u.Upgrade(w, r, nil) // on error, Upgrade has replied
	}
}
