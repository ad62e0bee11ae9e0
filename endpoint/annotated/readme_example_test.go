package annotated_test

import (
	"fmt"

	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/endpoint/annotated"
	"github.com/wsc-dev/wsc/endpoint/endpointtest"
)

// Room is the README's annotated endpoint.
type Room struct {
	annotated.ServerEndpoint `path:"/rooms/{room}"`
	Room                     string `pathparam:"room"` // from the path, per connection
}

func (r *Room) OnOpen(s endpoint.Session) { _ = s.Basic().SendText("welcome to " + r.Room) }

func (r *Room) OnText(msg string) string { return r.Room + ": " + msg } // the result is sent back

// ExampleMustConfig is the README's annotated endpoint.
func ExampleMustConfig() {
	cfg := annotated.MustConfig(&Room{})
	s := endpointtest.NewSession(endpointtest.WithRequestURI("/rooms/lobby"))
	if _, err := s.Connect(cfg); err != nil {
		fmt.Println(err)
		return
	}
	_ = s.ReceiveText("hi")
	for _, m := range s.Sent() {
		fmt.Println(m.Text())
	}
	// Output:
	// welcome to lobby
	// lobby: hi
}
