// Package broadcast is the fan-out sample: every message a session sends is
// delivered, with the same type, to every session open on the endpoint,
// the sender included. The frame is encoded once per message
// (endpoint.Broadcast), whatever the number of subscribers; a subscriber
// that does not read is closed by its send limits instead of holding
// memory or slowing the others. The benchmarks' broadcast workload talks
// to it.
package broadcast

import "github.com/wsc-dev/wsc/endpoint"

// Endpoint relays each message to every open session of the endpoint. It
// keeps no state: one value serves every connection.
type Endpoint struct{}

// OnOpen registers the relaying handlers. They run on the executor
// goroutine that delivered the message and return once the frame is
// queued on every subscriber.
func (Endpoint) OnOpen(s endpoint.Session, _ *endpoint.ServerConfig) {
	s.SetRawTextHandler(func(text []byte) { endpoint.Broadcast(s.OpenSessions(), endpoint.Text, text) })
	s.SetBinaryHandler(func(data []byte) { endpoint.Broadcast(s.OpenSessions(), endpoint.Binary, data) })
}

// Config returns the broadcast endpoint's deployment, at /broadcast.
func Config() *endpoint.ServerConfig {
	return &endpoint.ServerConfig{
		Path: "/broadcast",
		New:  func() endpoint.Endpoint { return Endpoint{} },
	}
}

var _ endpoint.Endpoint = Endpoint{}
