package endpointtest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/wsc-dev/wsc/endpoint"
)

// Errors returned by the methods that play the client.
var (
	// ErrNotOpen is returned when a message is delivered to a session that
	// has not been opened with [Session.Open] or [Session.Connect].
	ErrNotOpen = errors.New("endpointtest: session not opened")
	// ErrNoHandler is returned (wrapped) when the session has no handler for
	// a text or binary message. As in the container, the session has then
	// been closed with [endpoint.CloseCannotAccept] (1003).
	ErrNoHandler = errors.New("endpointtest: no handler for the message")
	// ErrTooBig is returned (wrapped) when a whole message is larger than
	// the session's limit and no partial handler is set. As in the
	// container, the session has then been closed with
	// [endpoint.CloseTooBig] (1009) and OnError has received a
	// *[endpoint.CloseError].
	ErrTooBig = errors.New("endpointtest: message too big")
	// ErrNotUTF8 is returned (wrapped) when delivered text is not valid
	// UTF-8. As in the container, the session has then been closed with
	// [endpoint.CloseNotConsistent] (1007) and OnError has received a
	// *[endpoint.CloseError].
	ErrNotUTF8 = errors.New("endpointtest: text is not valid UTF-8")
)

// Defaults of a new Session, the container's own defaults.
const (
	// DefaultMaxMessageBytes is the whole-message size limit of a new
	// session, text and binary, unless the ServerConfig given to Open sets
	// one: the container's default (8 KiB).
	DefaultMaxMessageBytes = 8192
	// DefaultBatchingBufferBytes is how many bytes of batched messages are
	// gathered before they are flushed: the container's default (64 KiB).
	DefaultBatchingBufferBytes = 64 << 10
	// DefaultRemoteAddr is the client address put in the user properties
	// (TEST-NET-1, RFC 5737).
	DefaultRemoteAddr = "192.0.2.1"
	// DefaultRemotePort is the client port put in the user properties.
	DefaultRemotePort = 50000
)

// Kind is the type of a frame the endpoint sent.
type Kind uint8

// Kinds of recorded frames.
const (
	// Text is a text message.
	Text Kind = iota + 1
	// Binary is a binary message.
	Binary
	// Ping is a ping frame.
	Ping
	// Pong is a pong frame, sent by the endpoint or as the automatic reply
	// to [Session.ReceivePing].
	Pong
	// Close is a close frame.
	Close
)

var kindNames = [...]string{Text: "text", Binary: "binary", Ping: "ping", Pong: "pong", Close: "close"}

// String returns "text", "binary", "ping", "pong" or "close".
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Message is a frame the endpoint sent, as recorded by a Session.
type Message struct {
	// Kind is the frame type.
	Kind Kind
	// Data is the payload of a text, binary, ping or pong frame: the
	// session's own copy. It is nil for a close frame.
	Data []byte
	// Reason is the code and reason of a close frame. A reply to a client
	// close frame that carried no code has the zero Reason (an empty
	// payload).
	Reason endpoint.CloseReason
	// Async reports whether the message was sent through Session.Async.
	Async bool
}

// Text returns the payload as a string.
func (m Message) Text() string { return string(m.Data) }

// String formats the message for test failures, as in `text "hi"`,
// `binary [1 2 3]` or `close 1000 (normal closure): bye`.
func (m Message) String() string {
	switch m.Kind {
	case Text:
		return fmt.Sprintf("text %q", m.Data)
	case Close:
		return "close " + m.Reason.String()
	default:
		return fmt.Sprintf("%v %v", m.Kind, m.Data)
	}
}

// An Option configures a Session made by [NewSession].
type Option func(*Session)

// WithID sets the session ID. By default each session gets a new
// "endpointtest-N".
func WithID(id string) Option { return func(s *Session) { s.id = id } }

// WithRequestURI sets the handshake request URI, such as
// "/chat/lobby?nick=ann"; its query is what QueryString and
// RequestParameters return. It panics if uri does not parse, as
// httptest.NewRequest does. By default the URI is the path of the
// ServerConfig given to Open when that path has no variables, else "/".
func WithRequestURI(uri string) Option {
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		panic("endpointtest: WithRequestURI: " + err.Error())
	}
	return func(s *Session) { s.uri, s.querySet = u, false }
}

// WithQuery sets the query of the request URI, replacing any query given
// with WithRequestURI (whichever option comes later wins).
func WithQuery(q url.Values) Option {
	return func(s *Session) { s.query = q.Encode(); s.querySet = true }
}

// WithPathParameters sets what PathParameters returns. Without it, Open
// matches the request URI's path against the ServerConfig's path template,
// as the container does, and uses the values of its variables.
func WithPathParameters(p map[string]string) Option {
	return func(s *Session) {
		s.pathParams = make(map[string]string, len(p))
		for k, v := range p {
			s.pathParams[k] = v
		}
		s.pathParamsSet = true
	}
}

// WithUserProperty stores a user property before the endpoint opens, as a
// handshake configurator would.
func WithUserProperty(key string, value any) Option {
	return func(s *Session) { s.props.Set(key, value) }
}

// WithRemoteAddr sets the client address and port put in the user
// properties ([endpoint.PropRemoteAddr], [endpoint.PropRemoteHost] and
// [endpoint.PropRemotePort]); a port of zero or less leaves the port
// property unset, as the container does when it is unknown.
func WithRemoteAddr(addr string, port int) Option {
	return func(s *Session) { s.remoteAddr, s.remotePort = addr, port }
}

// WithHTTPSession sets what HTTPSession returns; by default it is nil, as
// for a handshake without a live HTTP session.
func WithHTTPSession(h endpoint.HTTPSession) Option {
	return func(s *Session) { s.httpSession = h }
}

// WithSubprotocol sets the negotiated subprotocol.
func WithSubprotocol(p string) Option { return func(s *Session) { s.subprotocol = p } }

// WithExtensions sets the negotiated extensions.
func WithExtensions(ext ...string) Option {
	return func(s *Session) { s.extensions = append([]string(nil), ext...) }
}

// WithHeader sets the headers of the handshake request, such as Origin,
// Authorization, Cookie or Sec-WebSocket-Protocol, as
// [Session.Connect]'s Configurator sees them.
func WithHeader(h http.Header) Option { return func(s *Session) { s.header = h.Clone() } }

// WithPrincipal sets what UserPrincipal returns, as if a Configurator had
// authenticated the user.
func WithPrincipal(p endpoint.Principal) Option { return func(s *Session) { s.principal = p } }

// WithSecure makes IsSecure report true, as for a connection over TLS.
func WithSecure() Option { return func(s *Session) { s.secure = true } }

// WithOpenSessions sets the function OpenSessions calls. By default
// OpenSessions returns the session itself while it is open, and nothing
// after.
func WithOpenSessions(f func() []endpoint.Session) Option {
	return func(s *Session) { s.openSessions = f }
}

// WithBatchingBufferBytes sets how many bytes of batched data messages are
// gathered before they are flushed; the default is
// [DefaultBatchingBufferBytes].
func WithBatchingBufferBytes(n int) Option { return func(s *Session) { s.batchLimit = n } }

// WithRecover makes the session recover panics in callbacks as the
// container does: OnError receives an *[endpoint.PanicError] (a panic in
// OnError itself is dropped), the session is closed with
// [endpoint.CloseUnexpectedCondition] (1011), and OnClose follows. Without
// it, a panic propagates to the test's call, and the session stays usable.
func WithRecover() Option { return func(s *Session) { s.recover = true } }

var sessionSeq atomic.Uint64

// Session is an in-memory [endpoint.Session] for tests: it records what the
// endpoint sends and delivers what the test receives. Make one with
// [NewSession]; it is safe for concurrent use.
type Session struct {
	// Set by options. Open completes uri and pathParams(Set) under mu;
	// the rest is read-only once NewSession returns.
	id            string
	uri           *url.URL
	query         string
	querySet      bool
	pathParams    map[string]string
	pathParamsSet bool
	httpSession   endpoint.HTTPSession
	extensions    []string
	secure        bool
	recover       bool
	openSessions  func() []endpoint.Session
	batchLimit    int
	remoteAddr    string
	remotePort    int
	header        http.Header

	props endpoint.Properties

	// cb serialises callbacks; it is held while one runs, so it is taken
	// before mu, never while mu is held.
	cb sync.Mutex

	mu          sync.Mutex // guards what follows
	ep          endpoint.Endpoint
	cfg         *endpoint.ServerConfig
	principal   endpoint.Principal
	subprotocol string
	respHeader  http.Header
	opened      bool                 // OnOpen has been called
	closing     bool                 // a close frame was sent or received, or the connection dropped
	closeSent   bool                 // the endpoint side sent its close frame
	peerClosed  bool                 // the client's close frame (or a drop) was delivered
	closeDone   bool                 // OnClose has been called (or is running)
	busy        bool                 // a callback is running; OnClose waits for it
	reason      endpoint.CloseReason // what OnClose receives
	hs          handlers
	maxText     int
	maxBinary   int
	idle        time.Duration
	batching    bool
	batch       []Message
	batchBytes  int
	sent        []Message
}

type handlers struct {
	text          endpoint.TextHandler
	rawText       endpoint.RawTextHandler
	partialText   endpoint.PartialTextHandler
	binary        endpoint.BinaryHandler
	partialBinary endpoint.PartialBinaryHandler
	pong          endpoint.PongHandler
}

var _ endpoint.Session = (*Session)(nil)

// NewSession returns an open-able session configured by opts.
func NewSession(opts ...Option) *Session {
	s := &Session{
		id:         "endpointtest-" + strconv.FormatUint(sessionSeq.Add(1), 10),
		maxText:    DefaultMaxMessageBytes,
		maxBinary:  DefaultMaxMessageBytes,
		batchLimit: DefaultBatchingBufferBytes,
		remoteAddr: DefaultRemoteAddr,
		remotePort: DefaultRemotePort,
	}
	for _, o := range opts {
		o(s)
	}
	if s.header == nil {
		s.header = http.Header{}
	}
	if s.remoteAddr != "" {
		s.props.Set(endpoint.PropRemoteAddr, s.remoteAddr)
		s.props.Set(endpoint.PropRemoteHost, s.remoteAddr)
		if s.remotePort > 0 {
			s.props.Set(endpoint.PropRemotePort, s.remotePort)
		}
	}
	return s
}

// Open opens the session with ep, as the container does after the
// handshake: it applies cfg's message size limits, fills the path
// parameters from the request URI and cfg.Path (unless
// [WithPathParameters] was given), then calls ep.OnOpen(s, cfg) on the
// caller's goroutine and returns when it has returned (and OnClose, if
// OnOpen closed the session). It does not run cfg.Configurator: use
// [Session.Connect] for that. cfg may be nil. It panics if the session was
// already opened.
func (s *Session) Open(ep endpoint.Endpoint, cfg *endpoint.ServerConfig) {
	if ep == nil {
		panic("endpointtest: Open with a nil endpoint")
	}
	if cfg == nil {
		cfg = &endpoint.ServerConfig{}
	}
	s.prepare(cfg)
	s.mu.Lock()
	if s.ep != nil {
		s.mu.Unlock()
		panic("endpointtest: session opened twice")
	}
	s.ep, s.cfg = ep, cfg
	if cfg.MaxTextMessageBytes > 0 {
		s.maxText = cfg.MaxTextMessageBytes
	}
	if cfg.MaxBinaryMessageBytes > 0 {
		s.maxBinary = cfg.MaxBinaryMessageBytes
	}
	s.mu.Unlock()
	s.dispatch(func() {
		s.mu.Lock()
		s.opened = true
		s.mu.Unlock()
		ep.OnOpen(s, cfg)
	})
}

// prepare sets the request URI and path parameters the options left unset
// from cfg.Path.
func (s *Session) prepare(cfg *endpoint.ServerConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := endpoint.ParseTemplate(cfg.Path)
	if s.uri == nil {
		s.uri = &url.URL{Path: "/"}
		if err == nil && t.IsExact() {
			s.uri.Path = cfg.Path
		}
	}
	if !s.pathParamsSet {
		s.pathParams = map[string]string{}
		if err == nil {
			if p, ok := t.Match(s.uri.Path); ok {
				s.pathParams = p
			}
		}
		s.pathParamsSet = true
	}
}

// Connect runs the opening handshake and opens the session, as the
// container does for a request to cfg's endpoint: if cfg.Configurator is
// set, its [endpoint.OriginChecker] sees the Origin header given with
// [WithHeader], its ModifyHandshake runs (its user properties and principal
// become the session's; its response headers are kept for
// [Session.HandshakeHeader]), its [endpoint.SubprotocolNegotiator] picks the
// subprotocol from the Sec-WebSocket-Protocol header, and its
// [endpoint.InstanceProvider] supplies the endpoint; otherwise cfg.New
// does. Then Open runs. All of it runs on the caller's goroutine.
//
// A refused handshake returns the Configurator's error (a
// *[endpoint.HandshakeError] for a refusal with a status, one with status
// 403 for a refused origin) and leaves the session unopened. A panic in the
// Configurator propagates, or with [WithRecover] is returned as an
// *[endpoint.PanicError], where the container would answer 500.
func (s *Session) Connect(cfg *endpoint.ServerConfig) (ep endpoint.Endpoint, err error) {
	if cfg == nil || (cfg.New == nil && cfg.Configurator == nil) {
		panic("endpointtest: Connect needs a ServerConfig with New")
	}
	s.prepare(cfg)
	if cf := cfg.Configurator; cf != nil {
		if ep, err = s.handshake(cf, cfg); err != nil {
			return nil, err
		}
	} else if requested := s.requestedSubprotocols(); len(requested) > 0 {
		s.setSubprotocol(func() string { return negotiate(cfg.Subprotocols, requested) })
	}
	if ep == nil {
		if cfg.New == nil {
			panic("endpointtest: Connect: no InstanceProvider and no New")
		}
		ep = cfg.New()
	}
	s.Open(ep, cfg)
	return ep, nil
}

func (s *Session) handshake(cf endpoint.Configurator, cfg *endpoint.ServerConfig) (ep endpoint.Endpoint, err error) {
	if s.recover {
		defer func() {
			if p := recover(); p != nil {
				ep, err = nil, &endpoint.PanicError{Value: p, Stack: debug.Stack()}
			}
		}()
	}
	if oc, ok := cf.(endpoint.OriginChecker); ok && !oc.CheckOrigin(s.header.Get("Origin")) {
		return nil, &endpoint.HandshakeError{Status: http.StatusForbidden, Reason: "origin not allowed"}
	}
	s.mu.Lock()
	u := s.requestURILocked()
	params := make(map[string]string, len(s.pathParams))
	for k, v := range s.pathParams {
		params[k] = v
	}
	s.mu.Unlock()
	req := &http.Request{
		Method:     http.MethodGet,
		URL:        u,
		RequestURI: u.RequestURI(),
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     s.header.Clone(),
		Host:       "example.com",
		RemoteAddr: net.JoinHostPort(s.remoteAddr, strconv.Itoa(max(s.remotePort, 0))),
	}
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Version", "13")
	hreq := &endpoint.HandshakeRequest{
		Request:        req,
		PathParameters: params,
		HTTPSession:    s.httpSession,
		UserProperties: &s.props,
		Principal:      s.principal,
	}
	resp := &endpoint.HandshakeResponse{Header: http.Header{}}
	if err := cf.ModifyHandshake(hreq, resp); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.respHeader = resp.Header
	s.principal = hreq.Principal
	s.mu.Unlock()
	if requested := s.requestedSubprotocols(); len(requested) > 0 {
		if n, ok := cf.(endpoint.SubprotocolNegotiator); ok {
			s.setSubprotocol(func() string { return n.NegotiateSubprotocol(cfg.Subprotocols, requested) })
		} else {
			s.setSubprotocol(func() string { return negotiate(cfg.Subprotocols, requested) })
		}
	}
	if ip, ok := cf.(endpoint.InstanceProvider); ok {
		ep, err := ip.EndpointInstance(hreq)
		if err != nil {
			return nil, err
		}
		if ep == nil {
			return nil, errors.New("endpointtest: InstanceProvider returned no endpoint")
		}
		return ep, nil
	}
	return nil, nil
}

// setSubprotocol sets the negotiated subprotocol to choose(), unless
// WithSubprotocol set one. choose runs without the lock held.
func (s *Session) setSubprotocol(choose func() string) {
	s.mu.Lock()
	set := s.subprotocol != ""
	s.mu.Unlock()
	if set {
		return
	}
	p := choose()
	s.mu.Lock()
	s.subprotocol = p
	s.mu.Unlock()
}

// requestedSubprotocols returns the Sec-WebSocket-Protocol header's list.
func (s *Session) requestedSubprotocols() []string {
	var out []string
	for _, v := range s.header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// negotiate is the container's default: the first subprotocol the client
// offers that the endpoint supports.
func negotiate(supported, requested []string) string {
	for _, r := range requested {
		for _, p := range supported {
			if r == p {
				return r
			}
		}
	}
	return ""
}

// HandshakeHeader returns the headers the Configurator added to the
// handshake response in [Session.Connect], or nil.
func (s *Session) HandshakeHeader() http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.respHeader
}

// Endpoint returns the endpoint the session was opened with, or nil.
func (s *Session) Endpoint() endpoint.Endpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ep
}

// dispatch runs f as a callback: serialised with the session's other
// callbacks, recovering panics if the session was made WithRecover, and
// followed by OnClose if the session closed meanwhile.
func (s *Session) dispatch(f func()) {
	s.cb.Lock()
	defer s.cb.Unlock()
	s.mu.Lock()
	s.busy = true
	s.mu.Unlock()
	done := false
	defer func() {
		if !done { // f panicked and the panic goes to the test
			s.mu.Lock()
			s.busy = false
			s.mu.Unlock()
		}
	}()
	s.invoke(f)
	for {
		s.mu.Lock()
		if !s.closing || !s.opened || s.closeDone {
			s.busy = false
			s.mu.Unlock()
			done = true
			return
		}
		s.closeDone = true
		r, ep := s.reason, s.ep
		s.mu.Unlock()
		if c, ok := ep.(endpoint.OnCloser); ok {
			s.invoke(func() { c.OnClose(s, r) })
		}
	}
}

// invoke calls f, recovering a panic as the container does if the session
// was made WithRecover.
func (s *Session) invoke(f func()) {
	if s.recover {
		defer func() {
			if p := recover(); p != nil {
				s.panicked(p)
			}
		}()
	}
	f()
}

// panicked reports a recovered panic to OnError and closes with 1011.
func (s *Session) panicked(p any) {
	perr := &endpoint.PanicError{Value: p, Stack: debug.Stack()}
	func() {
		defer func() { _ = recover() }() // a panic in OnError is dropped
		s.onError(perr)
	}()
	s.closeLocal(endpoint.CloseReason{Code: endpoint.CloseUnexpectedCondition, Reason: "endpoint error"})
}

// onError calls the endpoint's OnError, if it has one.
func (s *Session) onError(err error) {
	s.mu.Lock()
	ep, opened := s.ep, s.opened
	s.mu.Unlock()
	if !opened {
		return
	}
	if h, ok := ep.(endpoint.OnErrorer); ok {
		h.OnError(s, err)
	}
}

// closeLocal sends the endpoint side's close frame, after flushing the
// batch, and records r for OnClose. It reports false if a close frame was
// already sent. It does not run OnClose: the caller is in a callback, or
// dispatches.
func (s *Session) closeLocal(r endpoint.CloseReason) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeLocalLocked(r)
}

// closeLocalLocked is closeLocal; s.mu must be held.
func (s *Session) closeLocalLocked(r endpoint.CloseReason) bool {
	if s.closeSent || s.peerClosed {
		return false
	}
	s.flushLocked()
	s.sent = append(s.sent, Message{Kind: Close, Reason: r})
	s.closeSent = true
	if !s.closing {
		s.closing = true
		s.reason = r
	}
	return true
}

// fail closes the session for a bad message as the container does: close
// frame, then OnError with a *CloseError. It runs inside a callback.
func (s *Session) fail(code endpoint.CloseCode, why string) endpoint.CloseReason {
	r := endpoint.CloseReason{Code: code, Reason: why}
	if s.closeLocal(r) {
		s.onError(&endpoint.CloseError{CloseReason: r})
	}
	return r
}

// receiving checks that a message may be delivered now; s.mu must be held.
func (s *Session) receivingLocked() error {
	switch {
	case !s.opened:
		return ErrNotOpen
	case s.closing:
		return endpoint.ErrSessionClosed
	}
	return nil
}

func (s *Session) handlers() (handlers, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hs, s.receivingLocked()
}

// poison overwrites a slice a handler was given, once it has returned.
func poison(b []byte) {
	for i := range b {
		b[i] = 0xEE
	}
}

// ReceiveText delivers a text message from the client, as one frame, and
// returns when the handler has returned. With a partial text handler it is
// delivered as one last part; with a raw text handler, as bytes that are
// overwritten once the handler returns. It returns an error wrapping
// [ErrNoHandler], [ErrTooBig] or [ErrNotUTF8] when the container would
// have closed the session instead (and this session is then closed the
// same way), [ErrNotOpen] before Open, and [endpoint.ErrSessionClosed]
// once the session is closing.
func (s *Session) ReceiveText(text string) error {
	return s.ReceiveTextParts(text)
}

// ReceiveTextParts delivers a text message sent in several frames. A
// partial text handler receives each part in its own callback, last set on
// the final one; a whole-message handler receives them joined, subject to
// the size limit. Each part must be valid UTF-8, as the container never
// splits a code point between parts. No parts is an empty message. Errors
// are as for ReceiveText.
func (s *Session) ReceiveTextParts(parts ...string) error {
	if len(parts) == 0 {
		parts = []string{""}
	}
	whole := ""
	for _, p := range parts {
		whole += p
	}
	var err error
	if !utf8.ValidString(whole) {
		s.dispatch(func() {
			if _, err = s.handlers(); err != nil {
				return
			}
			err = fmt.Errorf("%w: closed with %v", ErrNotUTF8, s.fail(endpoint.CloseNotConsistent, "invalid UTF-8 in text message"))
		})
		return err
	}
	for i, p := range parts {
		if !utf8.ValidString(p) {
			return fmt.Errorf("endpointtest: text part %d splits a code point; the container never does", i)
		}
	}
	s.dispatch(func() {
		var hs handlers
		if hs, err = s.handlers(); err != nil {
			return
		}
		switch {
		case hs.partialText != nil:
			hs.partialText(parts[0], len(parts) == 1)
		case len(whole) > s.MaxTextMessageBufferSize():
			err = fmt.Errorf("%w: closed with %v", ErrTooBig, s.fail(endpoint.CloseTooBig, "message too big"))
		case hs.rawText != nil:
			b := []byte(whole)
			hs.rawText(b)
			poison(b)
		case hs.text != nil:
			hs.text(whole)
		default:
			r := endpoint.CloseReason{Code: endpoint.CloseCannotAccept, Reason: "text messages are not accepted"}
			s.closeLocal(r)
			err = fmt.Errorf("%w: text: closed with %v", ErrNoHandler, r)
		}
	})
	if err != nil || len(parts) == 1 {
		return err
	}
	for i, p := range parts[1:] {
		last := i == len(parts)-2
		s.dispatch(func() {
			var hs handlers
			if hs, err = s.handlers(); err != nil {
				return
			}
			if hs.partialText != nil {
				hs.partialText(p, last)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ReceiveBinary delivers a binary message from the client, as one frame,
// and returns when the handler has returned. The handler gets the
// session's copy of data, overwritten once it returns. With a partial
// binary handler it is delivered as one last part. Errors are as for
// ReceiveText, without ErrNotUTF8.
func (s *Session) ReceiveBinary(data []byte) error {
	return s.ReceiveBinaryParts(data)
}

// ReceiveBinaryParts delivers a binary message sent in several frames. A
// partial binary handler receives each part in its own callback, last set
// on the final one; a whole-message handler receives them joined, subject
// to the size limit. No parts is an empty message. Errors are as for
// ReceiveBinary.
func (s *Session) ReceiveBinaryParts(parts ...[]byte) error {
	if len(parts) == 0 {
		parts = [][]byte{nil}
	}
	var err error
	s.dispatch(func() {
		var hs handlers
		if hs, err = s.handlers(); err != nil {
			return
		}
		n := 0
		for _, p := range parts {
			n += len(p)
		}
		switch {
		case hs.partialBinary != nil:
			b := append([]byte{}, parts[0]...)
			hs.partialBinary(b, len(parts) == 1)
			poison(b)
		case n > s.MaxBinaryMessageBufferSize():
			err = fmt.Errorf("%w: closed with %v", ErrTooBig, s.fail(endpoint.CloseTooBig, "message too big"))
		case hs.binary != nil:
			b := make([]byte, 0, n)
			for _, p := range parts {
				b = append(b, p...)
			}
			hs.binary(b)
			poison(b)
		default:
			r := endpoint.CloseReason{Code: endpoint.CloseCannotAccept, Reason: "binary messages are not accepted"}
			s.closeLocal(r)
			err = fmt.Errorf("%w: binary: closed with %v", ErrNoHandler, r)
		}
	})
	if err != nil || len(parts) == 1 {
		return err
	}
	for i, p := range parts[1:] {
		last := i == len(parts)-2
		s.dispatch(func() {
			var hs handlers
			if hs, err = s.handlers(); err != nil {
				return
			}
			if hs.partialBinary != nil {
				b := append([]byte{}, p...)
				hs.partialBinary(b, last)
				poison(b)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ReceivePong delivers a pong frame from the client to the pong handler;
// without one it is ignored, as in the container. It returns
// [endpoint.ErrControlTooLong] for a payload over 125 bytes, which a
// client cannot send.
func (s *Session) ReceivePong(data []byte) error {
	if len(data) > 125 {
		return endpoint.ErrControlTooLong
	}
	var err error
	s.dispatch(func() {
		var hs handlers
		if hs, err = s.handlers(); err != nil || hs.pong == nil {
			return
		}
		b := append([]byte{}, data...)
		hs.pong(b)
		poison(b)
	})
	return err
}

// ReceivePing delivers a ping frame from the client. No callback runs: the
// container answers pings itself, so a pong with the same payload is
// recorded, ahead of any batched messages.
func (s *Session) ReceivePing(data []byte) error {
	if len(data) > 125 {
		return endpoint.ErrControlTooLong
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.receivingLocked(); err != nil {
		return err
	}
	s.sent = append(s.sent, Message{Kind: Pong, Data: append([]byte{}, data...)})
	return nil
}

// ReceiveClose delivers the client's close frame, or with
// [endpoint.CloseClosedAbnormally] (1006) the loss of the connection. As
// the container does, the session answers a close frame with one carrying
// the same code (and none for 1006), unless it had sent its own first, and
// OnClose runs once, with r, or with the endpoint's own reason if it closed
// first. Batched messages not yet flushed are dropped, as in the
// container. It returns [ErrNotOpen] before Open and
// [endpoint.ErrSessionClosed] if the client had already closed.
func (s *Session) ReceiveClose(r endpoint.CloseReason) error {
	s.mu.Lock()
	switch {
	case !s.opened:
		s.mu.Unlock()
		return ErrNotOpen
	case s.peerClosed:
		s.mu.Unlock()
		return endpoint.ErrSessionClosed
	}
	s.peerClosed = true
	if !s.closeSent && r.Code != endpoint.CloseClosedAbnormally {
		reply := endpoint.CloseReason{}
		if r.Code.Sendable() {
			reply.Code = r.Code
		}
		s.sent = append(s.sent, Message{Kind: Close, Reason: reply})
		s.closeSent = true
	}
	s.batch, s.batchBytes = nil, 0
	if !s.closing {
		s.closing = true
		s.reason = r
	}
	s.mu.Unlock()
	s.dispatch(func() {})
	return nil
}

// Sent returns the frames the endpoint has sent so far (flushed batches
// included, pending ones not), oldest first.
func (s *Session) Sent() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.sent...)
}

// TakeSent returns the frames sent so far, as Sent does, and forgets them,
// so that the next call returns only newer ones.
func (s *Session) TakeSent() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.sent
	s.sent = nil
	return m
}

// Batched returns the data messages gathered in the batch and not yet
// flushed.
func (s *Session) Batched() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.batch...)
}

// Closed returns the reason OnClose receives (or received) and true once
// the session is closing: the endpoint or the client sent a close frame,
// or the connection dropped.
func (s *Session) Closed() (endpoint.CloseReason, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason, s.closing
}

// The endpoint.Session methods.

// ID implements endpoint.Session.
func (s *Session) ID() string { return s.id }

// RequestURI implements endpoint.Session. Before Open, and without
// WithRequestURI, it is nil.
func (s *Session) RequestURI() *url.URL {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requestURILocked()
}

func (s *Session) requestURILocked() *url.URL {
	if s.uri == nil {
		return nil
	}
	u := *s.uri
	if s.querySet {
		u.RawQuery = s.query
	}
	return &u
}

// QueryString implements endpoint.Session.
func (s *Session) QueryString() string {
	if u := s.RequestURI(); u != nil {
		return u.RawQuery
	}
	return ""
}

// RequestParameters implements endpoint.Session.
func (s *Session) RequestParameters() url.Values {
	if u := s.RequestURI(); u != nil {
		return u.Query()
	}
	return url.Values{}
}

// PathParameters implements endpoint.Session. The map is the session's:
// do not modify it.
func (s *Session) PathParameters() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pathParams == nil {
		return map[string]string{}
	}
	return s.pathParams
}

// UserProperties implements endpoint.Session.
func (s *Session) UserProperties() *endpoint.Properties { return &s.props }

// NegotiatedSubprotocol implements endpoint.Session; see [WithSubprotocol]
// and [Session.Connect].
func (s *Session) NegotiatedSubprotocol() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subprotocol
}

// NegotiatedExtensions implements endpoint.Session.
func (s *Session) NegotiatedExtensions() []string { return append([]string(nil), s.extensions...) }

// IsOpen implements endpoint.Session: true from Open until a close frame is
// sent or received.
func (s *Session) IsOpen() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opened && !s.closing
}

// IsSecure implements endpoint.Session.
func (s *Session) IsSecure() bool { return s.secure }

// OpenSessions implements endpoint.Session; see [WithOpenSessions].
func (s *Session) OpenSessions() []endpoint.Session {
	if s.openSessions != nil {
		return s.openSessions()
	}
	if s.IsOpen() {
		return []endpoint.Session{s}
	}
	return nil
}

// UserPrincipal implements endpoint.Session; see [WithPrincipal] and
// [Session.Connect].
func (s *Session) UserPrincipal() endpoint.Principal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.principal
}

// HTTPSession implements endpoint.Session; see [WithHTTPSession].
func (s *Session) HTTPSession() endpoint.HTTPSession { return s.httpSession }

// MaxTextMessageBufferSize implements endpoint.Session.
func (s *Session) MaxTextMessageBufferSize() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxText
}

// SetMaxTextMessageBufferSize implements endpoint.Session.
func (s *Session) SetMaxTextMessageBufferSize(n int) {
	s.mu.Lock()
	s.maxText = n
	s.mu.Unlock()
}

// MaxBinaryMessageBufferSize implements endpoint.Session.
func (s *Session) MaxBinaryMessageBufferSize() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxBinary
}

// SetMaxBinaryMessageBufferSize implements endpoint.Session.
func (s *Session) SetMaxBinaryMessageBufferSize(n int) {
	s.mu.Lock()
	s.maxBinary = n
	s.mu.Unlock()
}

// MaxIdleTimeout implements endpoint.Session. The session never times out
// by itself; the value is only recorded.
func (s *Session) MaxIdleTimeout() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idle
}

// SetMaxIdleTimeout implements endpoint.Session.
func (s *Session) SetMaxIdleTimeout(d time.Duration) {
	s.mu.Lock()
	s.idle = d
	s.mu.Unlock()
}

func (s *Session) setHandlers(f func(h *handlers)) {
	s.mu.Lock()
	f(&s.hs)
	s.mu.Unlock()
}

// SetTextHandler implements endpoint.Session.
func (s *Session) SetTextHandler(h endpoint.TextHandler) {
	s.setHandlers(func(hs *handlers) { hs.text, hs.rawText, hs.partialText = h, nil, nil })
}

// SetRawTextHandler implements endpoint.Session.
func (s *Session) SetRawTextHandler(h endpoint.RawTextHandler) {
	s.setHandlers(func(hs *handlers) { hs.text, hs.rawText, hs.partialText = nil, h, nil })
}

// SetPartialTextHandler implements endpoint.Session.
func (s *Session) SetPartialTextHandler(h endpoint.PartialTextHandler) {
	s.setHandlers(func(hs *handlers) { hs.text, hs.rawText, hs.partialText = nil, nil, h })
}

// SetBinaryHandler implements endpoint.Session.
func (s *Session) SetBinaryHandler(h endpoint.BinaryHandler) {
	s.setHandlers(func(hs *handlers) { hs.binary, hs.partialBinary = h, nil })
}

// SetPartialBinaryHandler implements endpoint.Session.
func (s *Session) SetPartialBinaryHandler(h endpoint.PartialBinaryHandler) {
	s.setHandlers(func(hs *handlers) { hs.binary, hs.partialBinary = nil, h })
}

// SetPongHandler implements endpoint.Session.
func (s *Session) SetPongHandler(h endpoint.PongHandler) {
	s.setHandlers(func(hs *handlers) { hs.pong = h })
}

// Basic implements endpoint.Session: its sends are recorded at once and
// return nil, or the error the container would return.
func (s *Session) Basic() endpoint.Basic { return basic{batching{s}} }

// Async implements endpoint.Session: its sends are recorded at once and
// their handlers called with nil (or the container's error) before the
// send returns, on the caller's goroutine.
func (s *Session) Async() endpoint.Async { return async{batching{s}} }

// Close implements endpoint.Session: the endpoint closes its session. The
// batch is flushed and the close frame recorded; OnClose follows when the
// current callback returns, or before Close returns when it is called
// outside a callback, as if the client had answered at once. It returns
// [endpoint.ErrBadCloseCode] for a code that may not be sent and
// [endpoint.ErrSessionClosed] if a close frame was already sent or
// received. A reason longer than 123 bytes is cut, as the container does.
func (s *Session) Close(r endpoint.CloseReason) error {
	if !r.Code.Sendable() {
		return endpoint.ErrBadCloseCode
	}
	if len(r.Reason) > endpoint.MaxCloseReasonBytes {
		n := endpoint.MaxCloseReasonBytes
		for n > 0 && r.Reason[n]&0xC0 == 0x80 {
			n--
		}
		r.Reason = r.Reason[:n]
	}
	s.mu.Lock()
	if !s.closeLocalLocked(r) {
		s.mu.Unlock()
		return endpoint.ErrSessionClosed
	}
	run := s.opened && !s.busy
	s.mu.Unlock()
	if run {
		s.dispatch(func() {})
	}
	return nil
}

// Batching.

func (s *Session) sendData(k Kind, data []byte, isAsync bool) error {
	if k == Text && !utf8.Valid(data) {
		return endpoint.ErrInvalidUTF8
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return endpoint.ErrSessionClosed
	}
	m := Message{Kind: k, Data: append([]byte{}, data...), Async: isAsync}
	if !s.batching {
		s.sent = append(s.sent, m)
		return nil
	}
	s.batch = append(s.batch, m)
	s.batchBytes += len(data)
	if s.batchBytes >= s.batchLimit {
		s.flushLocked()
	}
	return nil
}

func (s *Session) sendControl(k Kind, data []byte) error {
	if len(data) > 125 {
		return endpoint.ErrControlTooLong
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return endpoint.ErrSessionClosed
	}
	s.sent = append(s.sent, Message{Kind: k, Data: append([]byte{}, data...)})
	return nil
}

// flushLocked moves the batch to the sent frames; s.mu must be held.
func (s *Session) flushLocked() {
	s.sent = append(s.sent, s.batch...)
	s.batch, s.batchBytes = nil, 0
}

// batching is the endpoint.Batching shared by Basic and Async.
type batching struct{ s *Session }

// SetBatchingAllowed implements endpoint.Batching for both senders.
func (b batching) SetBatchingAllowed(allowed bool) error {
	s := b.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batching = allowed
	if !allowed {
		s.flushLocked()
	}
	return nil
}

// BatchingAllowed implements endpoint.Batching for both senders.
func (b batching) BatchingAllowed() bool {
	s := b.s
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.batching
}

// FlushBatch implements endpoint.Batching for both senders.
func (b batching) FlushBatch() error {
	s := b.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked()
	return nil
}

// basic is the endpoint.Basic of a Session.
type basic struct{ batching }

var _ endpoint.Basic = basic{}

func (b basic) SendText(text string) error      { return b.s.sendData(Text, []byte(text), false) }
func (b basic) SendTextBytes(text []byte) error { return b.s.sendData(Text, text, false) }
func (b basic) SendBinary(data []byte) error    { return b.s.sendData(Binary, data, false) }
func (b basic) SendPing(data []byte) error      { return b.s.sendControl(Ping, data) }
func (b basic) SendPong(data []byte) error      { return b.s.sendControl(Pong, data) }

// async is the endpoint.Async of a Session.
type async struct{ batching }

var _ endpoint.Async = async{}

func (a async) SendText(text string, h endpoint.SendHandler) {
	done(h, a.s.sendData(Text, []byte(text), true))
}

func (a async) SendBinary(data []byte, h endpoint.SendHandler) {
	done(h, a.s.sendData(Binary, data, true))
}

func (a async) SendTextFuture(text string) <-chan error {
	return future(a.s.sendData(Text, []byte(text), true))
}

func (a async) SendBinaryFuture(data []byte) <-chan error {
	return future(a.s.sendData(Binary, data, true))
}

func done(h endpoint.SendHandler, err error) {
	if h != nil {
		h(err)
	}
}

func future(err error) <-chan error {
	ch := make(chan error, 1)
	ch <- err
	close(ch)
	return ch
}
