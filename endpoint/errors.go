package endpoint

import (
	"errors"
	"fmt"
)

// Errors returned by sessions and remotes.
var (
	// ErrSessionClosed is returned by a send or a close on a session that is
	// closing or closed.
	ErrSessionClosed = errors.New("endpoint: session closed")
	// ErrSendTimeout is returned by a Basic send that could not be written
	// within the blocking send timeout, and given to the handler of an Async
	// send that was not written within the async send timeout. The session
	// is closed when it happens: a peer that does not read cannot be trusted
	// to read the rest.
	ErrSendTimeout = errors.New("endpoint: send timed out")
	// ErrSendQueueFull is given to an Async send when the session already
	// has MaxPendingOutboundBytes of messages waiting behind what the peer
	// has not read: the session is closed at once, as a peer that far
	// behind is not reading.
	ErrSendQueueFull = errors.New("endpoint: send queue full: the peer does not read")
	// ErrInvalidUTF8 is returned when text to send is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("endpoint: text is not valid UTF-8")
	// ErrControlTooLong is returned when a ping or pong payload is longer
	// than 125 bytes.
	ErrControlTooLong = errors.New("endpoint: control frame payload longer than 125 bytes")
	// ErrBadCloseCode is returned by Close with a code that may not be sent.
	ErrBadCloseCode = errors.New("endpoint: close code may not be sent")
	// ErrOverloaded is reported when the executor could not take a session's
	// work; the session is closed with [CloseTryAgainLater].
	ErrOverloaded = errors.New("endpoint: executor overloaded")
)

// PanicError is given to OnError when endpoint code panicked. The session
// is then closed with [CloseUnexpectedCondition].
type PanicError struct {
	// Value is what the code panicked with.
	Value any
	// Stack is the goroutine's stack at the panic.
	Stack []byte
}

// Error implements error.
func (e *PanicError) Error() string { return fmt.Sprintf("endpoint: panic: %v", e.Value) }

// CloseError reports that a session was closed, with the close code and the
// reason. It is given to OnError when the container closes a session because
// of a protocol error, and to the handlers of sends that could not complete.
type CloseError struct {
	CloseReason
}

// Error implements error.
func (e *CloseError) Error() string { return "endpoint: session closed: " + e.CloseReason.String() }

// Is makes errors.Is(err, ErrSessionClosed) true for a *CloseError.
func (e *CloseError) Is(target error) bool { return target == ErrSessionClosed }
