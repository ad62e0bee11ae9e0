// Package counter is the failover demo: each text message "incr" adds one
// to "count" in the session's user properties and answers the new count.
// The samples context enables distributed user properties, so the count
// belongs to the HTTP session (the JSESSIONID cookie that GET /samples/
// sets): it survives reconnects, and, in a cluster, the loss of a node.
package counter

import (
	"strconv"

	"github.com/wsc-dev/wsc/endpoint"
)

// CountProperty is the user property that holds the count.
const CountProperty = "count"

// Endpoint counts.
type Endpoint struct{}

// OnOpen registers the handler: "incr" increments, "get" reads; anything
// else is answered with an error message.
func (Endpoint) OnOpen(s endpoint.Session, _ *endpoint.ServerConfig) {
	s.SetTextHandler(func(cmd string) {
		props := s.UserProperties()
		n, _ := props.Get(CountProperty)
		count, _ := n.(int)
		switch cmd {
		case "incr":
			count++
			props.Set(CountProperty, count)
		case "get":
		default:
			_ = s.Basic().SendText("unknown command: send incr or get")
			return
		}
		_ = s.Basic().SendText(strconv.Itoa(count))
	})
}

// Config returns the counter endpoint's deployment, at /counter.
func Config() *endpoint.ServerConfig {
	return &endpoint.ServerConfig{
		Path: "/counter",
		New:  func() endpoint.Endpoint { return Endpoint{} },
	}
}

var _ endpoint.Endpoint = Endpoint{}
