// Package container runs WebSocket endpoints on gnet event loops.
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
// Threading. gnet calls OnOpen, OnTraffic and OnClose on the connection's
// event loop; they never block. Frames are decoded there, control frames
// are answered there, and whole messages go to the session's mailbox, which
// the web context's executor drains one session at a time; for an Inline
// endpoint (endpoint.ServerConfig.Inline) the event loop drains it itself,
// right after posting, and a Basic send made there never waits. Sends write
// straight to the socket from the sending goroutine while the session has
// nothing queued in gnet, and through gnet's AsyncWrite otherwise (see
// send.go). Lock order: Container.mu → mapping.mu; a session's mailbox and
// send mutexes are never held together.
package container
