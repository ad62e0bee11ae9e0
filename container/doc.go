// Package container runs WebSocket endpoints on gnet event loops and the
// container's own pollers.
//
// It owns the runtime: accepting TCP connections (no goroutine per
// connection), the HTTP upgrade (gobwas/ws' Upgrader over the buffered
// request bytes), RFC 6455 framing and permessage-deflate, per-session
// ordered dispatch of endpoint callbacks to each web context's bounded
// executor, the send path with its per-session bounds, the idle monitor and
// graceful shutdown.
//
// Endpoint code never imports this package: it imports endpoint. Only the
// composition root (cmd/wsc) and tests do.
//
//	c := container.New(container.Config{Addr: "127.0.0.1:8080"})
//	err := c.Deploy(container.WebContext{
//		Path:      "/samples",
//		Settings:  container.DefaultSettings(),
//		Endpoints: samples.Endpoints(secret),
//	})
//	err = c.Start()        // returns once listening
//	...
//	err = c.Shutdown(ctx)  // 1001 to every session, every OnClose run
//
// Threading. gnet accepts connections and calls OnOpen, OnTraffic and
// OnClose on the connection's event loop, where plain HTTP and the
// handshake are read; they never block. Once a session opens, its socket
// is handed to one of the container's pollers (see poller.go): the web
// context's executor runs the session's turns, one at a time, and a turn
// reads the socket itself, decodes the frames, answers control frames and
// delivers the messages; events from elsewhere (open, errors, close) wait
// in the session's mailbox for the next turn. For an Inline endpoint
// (endpoint.ServerConfig.Inline) the poller's goroutine reads and delivers
// instead, and a Basic send made there never waits. Sends write straight
// to the socket from the sending goroutine while nothing is queued, and
// through the poller (or gnet's AsyncWrite, for a session kept on gnet)
// otherwise (see send.go). Lock order: Container.mu → mapping.mu; a
// session's mailbox and send mutexes are never held together.
package container
