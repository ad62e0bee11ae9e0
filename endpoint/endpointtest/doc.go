// Package endpointtest runs WebSocket endpoints in unit tests without a
// server, as net/http/httptest does for HTTP handlers.
//
// A [Session] implements [endpoint.Session] in memory. The test opens an
// endpoint on it, plays the client by delivering messages, and reads back
// what the endpoint sent:
//
//	s := endpointtest.NewSession(endpointtest.WithRequestURI("/chat/lobby?nick=ann"))
//	if _, err := s.Connect(chat.Config); err != nil { // Configurator, cfg.New(), path parameters, OnOpen
//		t.Fatal(err)                   // the handshake was refused
//	}
//	if err := s.ReceiveText("hello"); err != nil {
//		t.Fatal(err)                   // no text handler: the session closed with 1003
//	}
//	for _, m := range s.Sent() {       // text, binary, ping, pong and close frames
//		t.Log(m)
//	}
//	s.ReceiveClose(endpoint.CloseReason{Code: endpoint.CloseGoingAway}) // OnClose, once
//
// # Goroutines
//
// Every endpoint callback (OnOpen, the message handlers, OnError, OnClose)
// runs on the goroutine of the test call that caused it, before that call
// returns: ReceiveText returns after the text handler has returned. Calls
// from several goroutines are serialised, as the container serialises a
// session's callbacks, so a session's callbacks never overlap. A callback
// must not call the Receive methods, Open or Connect of its own session:
// that would wait for itself.
//
// When the endpoint closes its session (Session.Close), the close frame is
// recorded and OnClose follows as soon as the current callback returns, as
// if the client had answered at once; called outside any callback, Close
// runs OnClose before it returns.
//
// # Fidelity
//
// The session behaves as the container does where a unit test can tell:
// whole-message size limits (8 KiB by default, or the ServerConfig's) close
// with 1009, a message with no handler closes with 1003, invalid UTF-8
// closes with 1007, handler slices are valid only until the handler returns
// (they are overwritten afterwards, so an endpoint that keeps one without
// copying fails here too), batching defers data messages until a flush,
// and pings and pongs are never batched. Unlike the container, a panic in a
// callback is not recovered unless the session was made [WithRecover]: the
// test sees it where it happened.
//
// This package imports only the standard library and endpoint, so tests of
// deployable modules stay free of the network runtime.
package endpointtest
