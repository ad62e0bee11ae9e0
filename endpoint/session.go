package endpoint

import (
	"net/url"
	"time"
)

// TextHandler receives whole text messages. The string is the caller's to
// keep.
type TextHandler func(text string)

// RawTextHandler receives whole text messages as bytes that are valid UTF-8.
// The slice is valid only until the handler returns: copy it to keep it. It
// costs no allocation per message, unlike [TextHandler].
type RawTextHandler func(text []byte)

// BinaryHandler receives whole binary messages. The slice is valid only until
// the handler returns: copy it to keep it.
type BinaryHandler func(data []byte)

// PartialTextHandler receives text messages in parts, as their frames
// arrive: each part is valid UTF-8 (a code point is never split between
// parts) and last is true on the message's final part. A session with one
// accepts text messages of any size: the message limit does not apply
// (JSR 356). Compressed messages arrive whole, as one last part.
type PartialTextHandler func(part string, last bool)

// PartialBinaryHandler receives binary messages in parts, as their frames
// arrive; the slice is valid only until the handler returns. The message
// limit does not apply.
type PartialBinaryHandler func(part []byte, last bool)

// PongHandler receives the payload of pong frames. The slice is valid only
// until the handler returns.
type PongHandler func(data []byte)

// Session is one WebSocket connection as its endpoint sees it.
//
// All methods are safe to call from any goroutine. Handlers registered with
// the Set*Handler methods are called on an executor goroutine, one at a time
// and in frame order, never concurrently with the session's other callbacks.
type Session interface {
	// ID returns an identifier unique within the container.
	ID() string
	// RequestURI returns the URI of the handshake request.
	RequestURI() *url.URL
	// QueryString returns the raw query of the handshake request, without "?".
	QueryString() string
	// RequestParameters returns the query parameters of the handshake request.
	RequestParameters() url.Values
	// PathParameters returns the values of the path template's variables;
	// it is empty for an endpoint mapped to an exact path.
	PathParameters() map[string]string
	// UserProperties returns the session's user properties. The container
	// puts the client's address there under [PropRemoteAddr],
	// [PropRemoteHost] and [PropRemotePort].
	UserProperties() *Properties
	// NegotiatedSubprotocol returns the subprotocol chosen at the handshake,
	// or "".
	NegotiatedSubprotocol() string
	// NegotiatedExtensions returns the extensions in force, such as
	// "permessage-deflate".
	NegotiatedExtensions() []string
	// IsOpen reports whether the session is open: the handshake completed
	// and no close frame has been sent or received.
	IsOpen() bool
	// IsSecure reports whether the connection is over TLS.
	IsSecure() bool
	// OpenSessions returns the open sessions of the same endpoint in the
	// same web context, this one included.
	OpenSessions() []Session
	// UserPrincipal returns the user the handshake's Configurator
	// authenticated, or nil.
	UserPrincipal() Principal
	// HTTPSession returns the HTTP session whose JSESSIONID cookie the
	// handshake carried, if it was live in the same web context; nil
	// otherwise.
	HTTPSession() HTTPSession

	// MaxTextMessageBufferSize returns the largest text message the session
	// accepts, in bytes.
	MaxTextMessageBufferSize() int
	// SetMaxTextMessageBufferSize changes that limit from the next message.
	SetMaxTextMessageBufferSize(n int)
	// MaxBinaryMessageBufferSize returns the largest binary message the
	// session accepts, in bytes.
	MaxBinaryMessageBufferSize() int
	// SetMaxBinaryMessageBufferSize changes that limit from the next message.
	SetMaxBinaryMessageBufferSize(n int)
	// MaxIdleTimeout returns how long the session may be idle before the
	// container closes it; zero or less means never.
	MaxIdleTimeout() time.Duration
	// SetMaxIdleTimeout changes the idle timeout; zero or less disables it.
	SetMaxIdleTimeout(d time.Duration)

	// SetTextHandler sets the handler of text messages, replacing the
	// [RawTextHandler] if one was set. With neither, a text message closes
	// the session with [CloseCannotAccept].
	SetTextHandler(h TextHandler)
	// SetRawTextHandler sets the handler of text messages as bytes,
	// replacing the [TextHandler] if one was set.
	SetRawTextHandler(h RawTextHandler)
	// SetPartialTextHandler sets a handler of text messages in parts,
	// replacing the whole-message text handlers.
	SetPartialTextHandler(h PartialTextHandler)
	// SetBinaryHandler sets the handler of binary messages. Without one, a
	// binary message closes the session with [CloseCannotAccept].
	SetBinaryHandler(h BinaryHandler)
	// SetPartialBinaryHandler sets a handler of binary messages in parts,
	// replacing the whole-message binary handler.
	SetPartialBinaryHandler(h PartialBinaryHandler)
	// SetPongHandler sets the handler of pong frames; without one they are
	// ignored.
	SetPongHandler(h PongHandler)

	// Basic returns the blocking sender of the session.
	Basic() Basic
	// Async returns the non-blocking sender of the session.
	Async() Async

	// Close starts the closing handshake with the given reason. It returns
	// at once; OnClose follows when the peer has answered or the close
	// timeout has passed. Closing a closed session returns [ErrSessionClosed].
	Close(reason CloseReason) error
}

// Keys of the user properties the container sets on every session (the
// names JEUS uses).
const (
	// PropRemoteAddr is the client's IP address: the direct peer, or the
	// client a trusted proxy named in Forwarded or X-Forwarded-For.
	PropRemoteAddr = "jeus.websocket.remoteAddr"
	// PropRemoteHost is the client's host: the address, as no reverse
	// lookup is made.
	PropRemoteHost = "jeus.websocket.remoteHost"
	// PropRemotePort is the client's port, when it is known.
	PropRemotePort = "jeus.websocket.remotePort"
)
