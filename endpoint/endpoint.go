package endpoint

// Endpoint is a WebSocket endpoint: the container makes one instance per
// connection with [ServerConfig.New] and calls OnOpen when the handshake has
// completed.
//
// OnOpen is called on an executor goroutine, never on the network event
// loop. It typically registers message handlers on the session
// ([Session.SetTextHandler] and the like); messages that arrive before it
// returns wait for it. The config is the one the endpoint was deployed with
// and must not be modified.
type Endpoint interface {
	OnOpen(s Session, cfg *ServerConfig)
}

// OnCloser is implemented by endpoints that want to know when their session
// closes. OnClose is called exactly once per session, after OnOpen has
// returned and after every message handler call, on an executor goroutine.
// The reason is the close frame the peer sent, the one the server sent when
// it closed first, or [CloseClosedAbnormally] (1006) when the connection
// ended without a close handshake.
type OnCloser interface {
	OnClose(s Session, reason CloseReason)
}

// OnErrorer is implemented by endpoints that want to hear of errors: a panic
// in endpoint code (*[PanicError]), a protocol error that closes the session
// (*[CloseError]), or an executor overload ([ErrOverloaded]). It is called on
// an executor goroutine, never concurrently with the session's other
// callbacks.
type OnErrorer interface {
	OnError(s Session, err error)
}

// Base is an embeddable Endpoint with no-op callbacks.
type Base struct{}

// OnOpen does nothing.
func (Base) OnOpen(Session, *ServerConfig) {}

// OnClose does nothing.
func (Base) OnClose(Session, CloseReason) {}

// OnError does nothing.
func (Base) OnError(Session, error) {}

var (
	_ Endpoint  = Base{}
	_ OnCloser  = Base{}
	_ OnErrorer = Base{}
)

// ServerConfig describes an endpoint to deploy: where it is mapped and how
// its sessions are made. The zero value of every field but Path and New
// means "use the web context's setting".
type ServerConfig struct {
	// Path is the endpoint's path relative to its web context, starting
	// with "/", for example "/echo".
	Path string
	// New returns a new endpoint instance; it is called once per connection,
	// on an executor goroutine, just before OnOpen.
	New func() Endpoint
	// Subprotocols lists the subprotocols the endpoint speaks. The first
	// one the client offers that is in this list is chosen, unless the
	// Configurator negotiates.
	Subprotocols []string
	// MaxTextMessageBytes is the largest text message a session accepts; a
	// bigger one closes the session with [CloseTooBig]. Zero means the web
	// context's setting.
	MaxTextMessageBytes int
	// MaxBinaryMessageBytes is the largest binary message a session accepts;
	// a bigger one closes the session with [CloseTooBig]. Zero means the web
	// context's setting.
	MaxBinaryMessageBytes int
	// Configurator customizes the handshake (authentication, origin,
	// subprotocol, response headers, the endpoint instance). Nil means the
	// defaults.
	Configurator Configurator
	// Inline runs the endpoint's callbacks on the connection's event loop,
	// in the read path, instead of handing each message to the web
	// context's executor: no hand-off, no wake-up, the reply written by
	// the thread that read the request. It is the fastest path, for
	// endpoints whose callbacks never block: no I/O, no waiting on locks,
	// channels or other sessions. A callback that blocks stalls every
	// connection of its event loop. On the loop a Basic send to the
	// session being served never waits: when its send queue is full the
	// session is closed as too slow (as with Async); send to other
	// sessions with Async or [Broadcast]. A Configurator's hooks still
	// run on the executor. Default false.
	Inline bool
}
