package endpointtest_test

import (
	"fmt"
	"strings"

	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/endpoint/endpointtest"
)

// Shout is the endpoint under test: it answers text in upper case and
// closes the session on "bye".
type Shout struct{ endpoint.Base }

func (Shout) OnOpen(s endpoint.Session, _ *endpoint.ServerConfig) {
	s.SetTextHandler(func(text string) {
		if text == "bye" {
			_ = s.Close(endpoint.CloseReason{Code: endpoint.CloseNormalClosure, Reason: "see you"})
			return
		}
		_ = s.Basic().SendText(strings.ToUpper(text))
	})
}

func (Shout) OnClose(s endpoint.Session, r endpoint.CloseReason) {
	fmt.Println("OnClose:", r)
}

// Example tests an endpoint without a server: connect, play the client,
// and read what the endpoint sent. In a test, compare s.Sent() with the
// expected messages and call t.Error instead of printing.
func Example() {
	cfg := &endpoint.ServerConfig{Path: "/shout", New: func() endpoint.Endpoint { return Shout{} }}
	s := endpointtest.NewSession()
	if _, err := s.Connect(cfg); err != nil {
		fmt.Println(err)
		return
	}
	_ = s.ReceiveText("hello")
	_ = s.ReceiveText("bye") // OnClose runs as soon as the handler returns
	err := s.ReceiveBinary([]byte{1})
	for _, m := range s.Sent() {
		fmt.Println(m)
	}
	fmt.Println(err)
	// Output:
	// OnClose: 1000 (normal closure): see you
	// text "HELLO"
	// close 1000 (normal closure): see you
	// endpoint: session closed
}

// ExampleSession_ReceiveText shows the container's answer to a message the
// endpoint has no handler for.
func ExampleSession_ReceiveText() {
	s := endpointtest.NewSession()
	s.Open(endpoint.Base{}, nil)
	fmt.Println(s.ReceiveText("hi"))
	fmt.Println(s.Sent())
	// Output:
	// endpointtest: no handler for the message: text: closed with 1003 (cannot accept): text messages are not accepted
	// [close 1003 (cannot accept): text messages are not accepted]
}
