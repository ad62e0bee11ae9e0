package endpoint_test

import (
	"fmt"

	"github.com/wsc-dev/wsc/endpoint"
)

// Room is the README's example endpoint: made anew for every connection.
type Room struct{ endpoint.Base }

func (r *Room) OnOpen(s endpoint.Session, _ *endpoint.ServerConfig) {
	s.SetTextHandler(func(text string) { // on an executor goroutine, in order
		endpoint.Broadcast(s.OpenSessions(), endpoint.Text, []byte(text)) // encoded once
	})
}

func (r *Room) OnClose(s endpoint.Session, reason endpoint.CloseReason) {}

// Example shows an endpoint and its deployment config, as in the README.
func Example() {
	config := &endpoint.ServerConfig{
		Path: "/room",
		New:  func() endpoint.Endpoint { return &Room{} },
	}
	_, closes := config.New().(endpoint.OnCloser)
	fmt.Println(config.Path, closes)
	// Output: /room true
}
