// Package endpoint is the API that WebSocket endpoint authors write against.
//
// It is modelled on JSR 356 / Jakarta WebSocket, in idiomatic Go. An endpoint
// is a type with an OnOpen method; the container makes a new instance for every
// connection (through [ServerConfig.New]), calls OnOpen on an executor
// goroutine, and then delivers the session's messages to the handlers that
// OnOpen registered:
//
//	type Echo struct{}
//
//	func (Echo) OnOpen(s endpoint.Session, _ *endpoint.ServerConfig) {
//		s.SetBinaryHandler(func(data []byte) { _ = s.Basic().SendBinary(data) })
//	}
//
//	var Config = &endpoint.ServerConfig{
//		Path: "/echo",
//		New:  func() endpoint.Endpoint { return Echo{} },
//	}
//
// What the container guarantees:
//   - Callbacks (OnOpen, message handlers, OnError, OnClose) never run on the
//     network event loop, and the callbacks of one session never overlap: they
//     run one at a time, in the order the frames arrived. OnClose runs exactly
//     once, after OnOpen has returned.
//   - Sends are safe from any goroutine. Frames of concurrent senders never
//     interleave; a second whole message waits its turn.
//   - A panic in endpoint code is recovered: OnError receives it and the
//     session is closed with [CloseUnexpectedCondition] (1011).
//
// This package imports nothing outside the standard library, so that endpoint
// code never pulls the network runtime, the cluster library or the descriptor
// parser into its build; a test enforces that rule.
package endpoint
