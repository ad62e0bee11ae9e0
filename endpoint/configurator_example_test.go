package endpoint_test

import (
	"fmt"
	"net/http"

	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/endpoint/endpointtest"
)

// bearer authenticates handshakes with a fixed token (a real one would
// verify a signed token, as samples/secure does).
type bearer struct{ token string }

func (b bearer) ModifyHandshake(req *endpoint.HandshakeRequest, resp *endpoint.HandshakeResponse) error {
	if req.Request.Header.Get("Authorization") != "Bearer "+b.token {
		return &endpoint.HandshakeError{Status: http.StatusUnauthorized, Reason: "token required"}
	}
	req.UserProperties.Set("user", "kim") // the session gets it
	resp.Header.Set("X-Authenticated", "yes")
	return nil
}

// greeter greets the user the Configurator found.
type greeter struct{ endpoint.Base }

func (greeter) OnOpen(s endpoint.Session, _ *endpoint.ServerConfig) {
	_ = s.Basic().SendText("hello " + s.UserProperties().String("user"))
}

// ExampleConfigurator authenticates a handshake once and hands the result
// to the session, as the seed's handshake interceptor does.
func ExampleConfigurator() {
	cfg := &endpoint.ServerConfig{
		Path:         "/secure",
		New:          func() endpoint.Endpoint { return greeter{} },
		Configurator: bearer{token: "s3cret"},
	}
	refused := endpointtest.NewSession(endpointtest.WithHeader(http.Header{"Authorization": {"Bearer wrong"}}))
	_, err := refused.Connect(cfg)
	fmt.Println(err)

	s := endpointtest.NewSession(endpointtest.WithHeader(http.Header{"Authorization": {"Bearer s3cret"}}))
	if _, err := s.Connect(cfg); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Sent()[0].Text())
	// Output:
	// endpoint: handshake refused: 401 token required
	// hello kim
}
