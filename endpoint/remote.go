package endpoint

// Batching is shared by a session's Basic and Async senders: while it is
// allowed, data messages are gathered and written together when they reach
// the context's batching buffer size, on FlushBatch, when batching is turned
// off, and before the session's close frame. A batched message counts as
// sent once it is in the batch.
type Batching interface {
	// SetBatchingAllowed turns batching on or off; turning it off flushes.
	SetBatchingAllowed(allowed bool) error
	// BatchingAllowed reports whether batching is on.
	BatchingAllowed() bool
	// FlushBatch writes the gathered messages now, as a Basic send does.
	FlushBatch() error
}

// Basic sends messages and waits until each is written. A send that cannot
// be written within the blocking send timeout returns [ErrSendTimeout] and
// closes the session. Calls from several goroutines are safe: frames never
// interleave, and a message waits for the ones sent before it.
//
// Two kinds of send return once the message is queued rather than written,
// as a batched one does: a send from a callback that has more events of its
// session waiting behind it (the replies of that executor turn leave
// together, in one system call, when it ends), and a send that finds
// broadcast frames queued for the session's event loop to write. Should the
// write then fail, the connection is closed and OnClose reports
// [CloseClosedAbnormally].
type Basic interface {
	Batching
	// SendText sends a text message; text must be valid UTF-8.
	SendText(text string) error
	// SendTextBytes sends a text message from bytes that must be valid
	// UTF-8. The slice may be reused once the call returns.
	SendTextBytes(text []byte) error
	// SendBinary sends a binary message. The slice may be reused once the
	// call returns.
	SendBinary(data []byte) error
	// SendPing sends a ping with up to 125 bytes of payload.
	SendPing(data []byte) error
	// SendPong sends an unsolicited pong with up to 125 bytes of payload.
	SendPong(data []byte) error
}

// SendHandler is called once when an Async send completes: err is nil when
// the message was written (or batched), [ErrSendTimeout] when it could not be
// written within the async send timeout, [ErrSendQueueFull] when too much
// was already waiting for the peer, [ErrInvalidUTF8] for bad text, or
// [ErrSessionClosed] (possibly wrapped in a *[CloseError]) when the session
// closed first. It runs on the network event
// loop or on the goroutine that found the failure: it must not block.
type SendHandler func(err error)

// Async sends messages without waiting for them to be written. The data is
// copied before the call returns, so the caller may reuse its slice.
// Messages go out in call order, after any sent before them by any method.
type Async interface {
	Batching
	// SendText queues a text message and calls h (which may be nil) when it
	// has been written or has failed.
	SendText(text string, h SendHandler)
	// SendBinary queues a binary message and calls h (which may be nil)
	// when it has been written or has failed.
	SendBinary(data []byte, h SendHandler)
	// SendTextFuture queues a text message; the channel receives its result
	// once and is then closed.
	SendTextFuture(text string) <-chan error
	// SendBinaryFuture queues a binary message; the channel receives its
	// result once and is then closed.
	SendBinaryFuture(data []byte) <-chan error
}

// MessageType is the type of a data message.
type MessageType uint8

// Message types.
const (
	// Text is a UTF-8 text message.
	Text MessageType = 1
	// Binary is a binary message.
	Binary MessageType = 2
)

// Broadcaster is implemented by sessions whose container can encode a
// message once and queue the same bytes for many sessions.
type Broadcaster interface {
	// Broadcast queues the message on every open session in to and
	// returns how many took it. Sessions that cannot keep up are closed by
	// their send limits, not waited for.
	Broadcast(to []Session, typ MessageType, data []byte) int
}

// Broadcast queues one message on every session in to, encoding it once
// when the container supports it, and returns how many sessions took it. It
// never blocks on a slow session.
func Broadcast(to []Session, typ MessageType, data []byte) int {
	if len(to) == 0 {
		return 0
	}
	if b, ok := to[0].(Broadcaster); ok {
		return b.Broadcast(to, typ, data)
	}
	n := 0
	for _, s := range to {
		if !s.IsOpen() {
			continue
		}
		if typ == Text {
			s.Async().SendText(string(data), nil)
		} else {
			s.Async().SendBinary(data, nil)
		}
		n++
	}
	return n
}
