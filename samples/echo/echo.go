// Package echo is the echo sample: every text and binary message comes back
// whole, with the same type. It is the endpoint the conformance tests,
// the client interoperability tests and the benchmarks talk to.
package echo

import "github.com/wsc-dev/wsc/endpoint"

// MaxMessageBytes is the largest message the samples' descriptor lets the
// echo endpoint accept (its max-incoming-*-message-buffer-size).
const MaxMessageBytes = 16 << 20

// Endpoint echoes messages. It keeps no state: one value serves every
// connection.
type Endpoint struct{}

// OnOpen registers the echo handlers. The handlers send from the executor
// goroutine that delivered the message; the raw text handler avoids
// converting each message to a string.
func (Endpoint) OnOpen(s endpoint.Session, _ *endpoint.ServerConfig) {
	b := s.Basic()
	s.SetRawTextHandler(func(text []byte) { _ = b.SendTextBytes(text) })
	s.SetBinaryHandler(func(data []byte) { _ = b.SendBinary(data) })
}

// Config returns the echo endpoint's deployment, at /echo. Its message
// limits are the web context's (the descriptor's).
func Config() *endpoint.ServerConfig {
	return &endpoint.ServerConfig{
		Path: "/echo",
		New:  func() endpoint.Endpoint { return Endpoint{} },
	}
}

// InlineConfig returns the same echo at /echo-inline, run on the event
// loop (endpoint.ServerConfig.Inline): its handlers never block, so they
// need no executor. The benchmarks compare it with /echo.
func InlineConfig() *endpoint.ServerConfig {
	c := Config()
	c.Path = "/echo-inline"
	c.Inline = true
	return c
}

var _ endpoint.Endpoint = Endpoint{}
