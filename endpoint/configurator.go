package endpoint

import (
	"fmt"
	"net/http"
)

// Configurator customizes the opening handshake of an endpoint, as JSR
// 356's ServerEndpointConfig.Configurator does: authenticate the request
// once, pass what it found to the session, add response headers, or refuse.
//
// The container calls its methods on an executor goroutine, never on the
// network event loop, so they may block (a database, an identity
// provider); the connection's later bytes wait meanwhile. Calls for
// different connections may overlap: implementations must be safe for
// concurrent use.
//
// Optional capabilities are found by type assertion: [OriginChecker],
// [SubprotocolNegotiator], [ExtensionNegotiator] and [InstanceProvider].
type Configurator interface {
	// ModifyHandshake is called once the request is a valid handshake for
	// the endpoint. It may fill req.UserProperties and req.Principal (the
	// session gets them), add headers to resp, or return a
	// *[HandshakeError] to refuse with its status (401, 403, ...); any other
	// error refuses with 500.
	ModifyHandshake(req *HandshakeRequest, resp *HandshakeResponse) error
}

// OriginChecker replaces the web context's origin policy for an endpoint.
type OriginChecker interface {
	// CheckOrigin reports whether a handshake from origin ("" when the
	// request has no Origin header) is accepted; a refusal gets 403.
	CheckOrigin(origin string) bool
}

// SubprotocolNegotiator replaces the default choice of subprotocol (the
// first one the client offers that the endpoint supports).
type SubprotocolNegotiator interface {
	// NegotiateSubprotocol returns the chosen subprotocol, or "".
	NegotiateSubprotocol(supported, requested []string) string
}

// ExtensionNegotiator chooses the extensions of a handshake among those
// the container has installed for the context (such as
// "permessage-deflate") and those the client requested, by name.
type ExtensionNegotiator interface {
	// NegotiateExtensions returns the names to use; an installed extension
	// left out is not negotiated.
	NegotiateExtensions(installed, requested []string) []string
}

// InstanceProvider supplies the endpoint instance of a connection instead
// of ServerConfig.New, for example a singleton or one built from the
// request; it is called after ModifyHandshake.
type InstanceProvider interface {
	EndpointInstance(req *HandshakeRequest) (Endpoint, error)
}

// Principal is an authenticated user.
type Principal interface {
	// Name returns the user's name.
	Name() string
}

// HandshakeRequest is an opening handshake as a Configurator sees it.
type HandshakeRequest struct {
	// Request is the HTTP request: method, URL (the full path), header and
	// remote address. It has no body.
	Request *http.Request
	// PathParameters are the values of the path template's variables.
	PathParameters map[string]string
	// HTTPSession is the live HTTP session the request's cookie names, or
	// nil.
	HTTPSession HTTPSession
	// UserProperties become the session's user properties.
	UserProperties *Properties
	// Principal, when set, becomes the session's UserPrincipal. With an
	// HTTPSession too, the WebSocket session is authenticated in it, and
	// closes with 1008 (CloseViolatedPolicy) when that HTTP session is
	// invalidated or expires.
	Principal Principal
}

// HandshakeResponse is the successful response to come.
type HandshakeResponse struct {
	// Header is added to the 101 response.
	Header http.Header
}

// HandshakeError refuses a handshake with an HTTP status.
type HandshakeError struct {
	// Status is the HTTP status, such as 401 or 403.
	Status int
	// Reason is the response body.
	Reason string
	// Header is added to the response, e.g. WWW-Authenticate.
	Header http.Header
}

// Error implements error.
func (e *HandshakeError) Error() string {
	return fmt.Sprintf("endpoint: handshake refused: %d %s", e.Status, e.Reason)
}
