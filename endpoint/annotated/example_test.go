package annotated_test

import (
	"fmt"
	"strings"

	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/endpoint/annotated"
	"github.com/wsc-dev/wsc/endpoint/endpointtest"
)

// Join is what a chat client sends, as JSON.
type Join struct {
	Nick string `json:"nick"`
}

// Welcome is the answer, as JSON.
type Welcome struct {
	Room string `json:"room"`
	Text string `json:"text"`
}

// Chat is an annotated endpoint: one instance per connection.
type Chat struct {
	annotated.ServerEndpoint `path:"/chat/{room}" subprotocols:"chat.v1"`
	Room                     string `pathparam:"room"` // set before OnOpen
	nick                     string // per-connection state
}

func (c *Chat) OnText(s endpoint.Session, j Join) (*Welcome, error) {
	if j.Nick == "" {
		return nil, fmt.Errorf("no nick")
	}
	c.nick = j.Nick
	return &Welcome{Room: c.Room, Text: "hello " + strings.ToUpper(j.Nick)}, nil
}

func (c *Chat) OnError(s endpoint.Session, err error) {
	fmt.Println("OnError:", err) // a returned error or a *DecodeError; the session stays open
}

// Example deploys an annotated endpoint and exercises it with
// endpointtest.
func Example() {
	cfg, err := annotated.Config(&Chat{}, annotated.WithCodecs(annotated.JSON[Join](), annotated.JSON[*Welcome]()))
	if err != nil {
		fmt.Println(err)
		return
	}
	s := endpointtest.NewSession(endpointtest.WithRequestURI("/chat/lobby"))
	if _, err := s.Connect(cfg); err != nil {
		fmt.Println(err)
		return
	}
	_ = s.ReceiveText(`{"nick":"ann"}`)
	_ = s.ReceiveText(`{}`)
	_ = s.ReceiveText(`not json`)
	for _, m := range s.Sent() {
		fmt.Println(m.Text())
	}
	// Output:
	// OnError: no nick
	// OnError: annotated: cannot decode a 8-byte message: invalid character 'o' in literal null (expecting 'u')
	// {"room":"lobby","text":"hello ANN"}
}

// ExampleEndpoints shows one error listing every problem of every type:
// here Chat lacks its codecs, Broken breaks three rules, and a struct value
// was given instead of a pointer.
func ExampleEndpoints() {
	type Broken struct {
		annotated.ServerEndpoint `path:"/chat/{room}" maxText:"64k"`
		Room                     string `pathparam:"rooms"`
	}
	_, err := annotated.Endpoints(&Chat{}, &Broken{}, Chat{})
	fmt.Println(err)
	// Output:
	// annotated: 6 problems:
	// 	annotated_test.Chat: method OnText: parameter 2: no text decoder for annotated_test.Join (register one with WithDecoders or WithCodecs)
	// 	annotated_test.Chat: method OnText: no encoder for result type *annotated_test.Welcome (register one with WithEncoders or WithCodecs)
	// 	annotated_test.Broken: marker tag: maxText "64k" is not a non-negative decimal integer (bytes)
	// 	annotated_test.Broken: field Room: pathparam "rooms" is not a variable of path "/chat/{room}"
	// 	annotated_test.Broken: path "/chat/{room}": added twice, by annotated_test.Chat
	// 	annotated_test.Chat: prototype must be a pointer to a struct (pass &annotated_test.Chat{})
}
