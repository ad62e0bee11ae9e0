package endpoint

import "strconv"

// CloseCode is a WebSocket close status code (RFC 6455 §7.4).
type CloseCode uint16

// Close codes defined by RFC 6455 §7.4.1 and the IANA registry.
const (
	// CloseNormalClosure means the purpose of the connection was fulfilled.
	CloseNormalClosure CloseCode = 1000
	// CloseGoingAway means an endpoint is going away: a server shutting down,
	// a browser leaving the page, or a session that was idle too long.
	CloseGoingAway CloseCode = 1001
	// CloseProtocolError means the peer broke the WebSocket protocol.
	CloseProtocolError CloseCode = 1002
	// CloseCannotAccept means a message of a type the endpoint does not
	// accept was received (for example text with no text handler).
	CloseCannotAccept CloseCode = 1003
	// CloseNoStatusCode is never sent; it is reported when a close frame
	// carried no status code.
	CloseNoStatusCode CloseCode = 1005
	// CloseClosedAbnormally is never sent; it is reported when the
	// connection ended without a close frame.
	CloseClosedAbnormally CloseCode = 1006
	// CloseNotConsistent means message data was not consistent with its
	// type, such as invalid UTF-8 in a text message.
	CloseNotConsistent CloseCode = 1007
	// CloseViolatedPolicy means a message violated a policy of the endpoint.
	CloseViolatedPolicy CloseCode = 1008
	// CloseTooBig means a message was larger than the endpoint accepts.
	CloseTooBig CloseCode = 1009
	// CloseNoExtension is sent by a client that expected an extension the
	// server did not negotiate.
	CloseNoExtension CloseCode = 1010
	// CloseUnexpectedCondition means the server met an unexpected condition,
	// such as a panic in endpoint code.
	CloseUnexpectedCondition CloseCode = 1011
	// CloseServiceRestart means the service is restarting.
	CloseServiceRestart CloseCode = 1012
	// CloseTryAgainLater means the server is overloaded.
	CloseTryAgainLater CloseCode = 1013
	// CloseBadGateway means a gateway received an invalid response.
	CloseBadGateway CloseCode = 1014
	// CloseTLSHandshakeFailure is never sent; it reports a failed TLS handshake.
	CloseTLSHandshakeFailure CloseCode = 1015
)

var closeCodeNames = map[CloseCode]string{
	CloseNormalClosure:       "normal closure",
	CloseGoingAway:           "going away",
	CloseProtocolError:       "protocol error",
	CloseCannotAccept:        "cannot accept",
	CloseNoStatusCode:        "no status code",
	CloseClosedAbnormally:    "closed abnormally",
	CloseNotConsistent:       "not consistent",
	CloseViolatedPolicy:      "violated policy",
	CloseTooBig:              "too big",
	CloseNoExtension:         "no extension",
	CloseUnexpectedCondition: "unexpected condition",
	CloseServiceRestart:      "service restart",
	CloseTryAgainLater:       "try again later",
	CloseBadGateway:          "bad gateway",
	CloseTLSHandshakeFailure: "TLS handshake failure",
}

// String returns the code's number and, for codes RFC 6455 names, its name.
func (c CloseCode) String() string {
	if name, ok := closeCodeNames[c]; ok {
		return strconv.Itoa(int(c)) + " (" + name + ")"
	}
	return strconv.Itoa(int(c))
}

// Sendable reports whether c may be sent in a close frame: the codes RFC 6455
// and the IANA registry define for use on the wire (1000–1003, 1007–1014) and
// the ranges for libraries (3000–3999) and applications (4000–4999).
func (c CloseCode) Sendable() bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// CloseReason is the code and the text of a close frame.
type CloseReason struct {
	// Code is the status code.
	Code CloseCode
	// Reason is a short UTF-8 explanation of at most 123 bytes (the rest of
	// a 125-byte control frame).
	Reason string
}

// String formats the reason for logs.
func (r CloseReason) String() string {
	if r.Reason == "" {
		return r.Code.String()
	}
	return r.Code.String() + ": " + r.Reason
}

// MaxCloseReasonBytes is the longest close reason a close frame can carry.
const MaxCloseReasonBytes = 123
