package container

import (
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"

	"github.com/wsc-dev/wsc/endpoint"
)

// sessionState is the life cycle of a connection. Transitions only move
// forward:
//
//	stateHandshake → stateOpen      the 101 response was written (loop)
//	stateHandshake → stateClosed    handshake rejected, timed out or TCP closed
//	stateOpen      → stateClosing   a close frame was sent or received
//	stateOpen      → stateClosed    TCP closed without a close frame (1006)
//	stateClosing   → stateClosed    TCP closed (gnet OnClose, on the loop)
type sessionState uint32

const (
	// stateHandshake: TCP accepted, HTTP request not yet answered.
	stateHandshake sessionState = iota
	// stateOpen: WebSocket messages flow both ways.
	stateOpen
	// stateClosing: a close frame has been sent or received; no more data
	// messages are sent.
	stateClosing
	// stateClosed: the TCP connection is closed.
	stateClosed
)

// session is one connection, from TCP accept to close, and the
// endpoint.Session of its WebSocket.
//
// Field ownership. [loop] fields are touched only on the connection's gnet
// event loop. [exec] fields only by the session's executor task, which
// never runs twice at once. Everything else is atomic or guarded by a named
// mutex. Lock order: mbMu and out.mu are never held together.
//
// Layout. The fields are grouped by who writes them, in blocks of 32 bytes
// (the struct is 13 of them; a session starts on a 32-byte boundary): what
// the event loop writes per frame (in, the inbound counters), what senders
// write per message (out, the outbound counters), the mailbox both write,
// and between them fields that are read per message but seldom written.
// A cache line written by one CPU and read by the other costs a miss per
// message; perf showed the inbound counter sharing a line with the
// outbound one as the costliest instruction of the decoder.
type session struct {
	// Read by the loop: 0..64.
	c    gnet.Conn
	cont *Container
	id   uint64
	ctx  *webContext
	ep   *mapping
	// Limits, changeable from any goroutine, applied from the next message.
	maxText   atomic.Int64
	maxBinary atomic.Int64

	// Written by the loop per frame: 64..128.
	in      inbound // inbound frame decoding [loop]
	msgsIn  atomic.Uint64
	bytesIn atomic.Uint64

	// Seldom written: 128..256.
	// state is the sessionState; flags are the session's atomic bits
	// (see sessionFlag).
	state     atomic.Uint32
	flags     atomic.Uint32
	idleNanos atomic.Int64 // idle timeout; <= 0: never
	// Handshake, [loop] until upgraded, read-only afterwards.
	// hsTimer closes a connection whose handshake does not complete; it
	// is dropped once the session opens, so an open session holds none.
	hsTimer  atomic.Pointer[time.Timer]
	deflate  *deflateState // nil unless permessage-deflate was negotiated
	remote   net.Addr
	x        *sessionExtras // what few sessions have; nil if none
	httpSess *httpSession   // the HTTP session the handshake's cookie named, or nil
	uri      string
	// prev and next link the mapping's open sessions (guarded by ep.mu).
	prev, next *session

	// Read by senders: 224..256. The endpoint [exec]; the handlers are
	// replaced as a whole (copy on write, compare and swap), read with one
	// atomic load per message.
	endpoint endpoint.Endpoint
	handlers atomic.Pointer[handlers]
	batch    atomic.Pointer[batcher] // batching (batch.go); nil until first allowed

	// Written by senders per message: 256..352.
	out      outbound // guarded by out.mu (see send.go)
	msgsOut  atomic.Uint64
	bytesOut atomic.Uint64
	lastSeen atomic.Int64 // unix nanoseconds (coarse) of the last frame in or out
	// closeReason is the reason OnClose reports, set once by whoever starts
	// the closing handshake (guarded by out.mu); nil until then.
	closeReason *endpoint.CloseReason

	// Mailbox of events for the endpoint, guarded by mbMu (see
	// dispatch.go): 352..416.
	mbMu      sync.Mutex
	scheduled bool // queued on, or running in, the executor
	closeQd   bool // the final evClose has been queued
	// Endpoint side [exec].
	opened    bool
	closeDone bool
	inline    bool // the endpoint runs on the event loop (ServerConfig.Inline); set before OnOpen
	mb        []event
	mbHead    int
	mbBytes   int
	props     atomic.Pointer[endpoint.Properties] // allocated on first use
}

// trafficTo adds the session's message counters to dst.
func (s *session) trafficTo(dst *trafficCounters) {
	dst.msgsIn.Add(s.msgsIn.Load())
	dst.msgsOut.Add(s.msgsOut.Load())
	dst.bytesIn.Add(s.bytesIn.Load())
	dst.bytesOut.Add(s.bytesOut.Load())
}

// sessionFlag is one bit of session.flags.
type sessionFlag uint32

const (
	// flagBusy: a plain HTTP request or a handed-off handshake is being
	// served on the executor (set on the loop, cleared by the executor);
	// the connection's later bytes wait.
	flagBusy sessionFlag = 1 << iota
	// flagPaused: decoding stopped for a full mailbox.
	flagPaused
	// flagOnLoop: the event loop is inside a callback for this session, so
	// an inline endpoint's events run here and a Basic send must not wait.
	flagOnLoop
	// flagOpening: OnOpen has not returned yet, so frames wait undecoded
	// (the handlers and limits OnOpen sets must govern the first message).
	flagOpening
	// flagHeld: the loop left bytes for after OnOpen and must be woken.
	flagHeld
	// flagPropsFilling, flagPropsFilled: the client's address is being, or
	// has been, put in the user properties (once per session).
	flagPropsFilling
	flagPropsFilled
)

func (s *session) has(f sessionFlag) bool { return s.flags.Load()&uint32(f) != 0 }
func (s *session) setFlag(f sessionFlag)  { s.flags.Or(uint32(f)) }
func (s *session) clearFlag(f sessionFlag) {
	s.flags.And(^uint32(f))
}

// sessionExtras holds the handshake's results that most sessions do not
// have, so that an idle session stays small. Set during the handshake,
// read-only afterwards.
type sessionExtras struct {
	// client is the client a trusted proxy named, when it is not the
	// direct peer.
	client    clientAddr
	hasClient bool
	// principal is the user the Configurator authenticated, or nil.
	principal endpoint.Principal
	subprot   string
	pathPar   map[string]string
}

// extras returns the session's extras, allocating them. Handshake only.
func (s *session) extras() *sessionExtras {
	if s.x == nil {
		s.x = new(sessionExtras)
	}
	return s.x
}

// client returns the client's address: the direct peer, or the client a
// trusted proxy named.
func (s *session) client() clientAddr {
	if s.x != nil && s.x.hasClient {
		return s.x.client
	}
	return peerAddr(s.remote)
}

var sessionIDs atomic.Uint64

func newSession(c gnet.Conn, cont *Container) *session {
	s := &session{c: c, cont: cont, id: sessionIDs.Add(1), remote: c.RemoteAddr()}
	s.out.direct = true
	return s
}

func (s *session) getState() sessionState { return sessionState(s.state.Load()) }

// ID implements endpoint.Session.
func (s *session) ID() string { return strconv.FormatUint(s.id, 16) }

// RequestURI implements endpoint.Session.
func (s *session) RequestURI() *url.URL {
	u, err := url.ParseRequestURI(s.uri)
	if err != nil {
		return &url.URL{Path: s.uri}
	}
	return u
}

// QueryString implements endpoint.Session.
func (s *session) QueryString() string { return s.RequestURI().RawQuery }

// RequestParameters implements endpoint.Session.
func (s *session) RequestParameters() url.Values { return s.RequestURI().Query() }

// PathParameters implements endpoint.Session.
func (s *session) PathParameters() map[string]string {
	if s.x == nil {
		return map[string]string{}
	}
	m := make(map[string]string, len(s.x.pathPar))
	for k, v := range s.x.pathPar {
		m[k] = v
	}
	return m
}

// UserProperties implements endpoint.Session. The client's address goes in
// on first use, so an idle session that never asks holds no map. With
// DistributedUserProperties and an HTTP session, they are the HTTP
// session's.
func (s *session) UserProperties() *endpoint.Properties {
	if !s.has(flagPropsFilled) {
		s.fillProps()
	}
	return s.userProps()
}

// userProps returns the session's property store, without the address.
func (s *session) userProps() *endpoint.Properties {
	if s.httpSess != nil && s.ctx != nil && s.ctx.settings.DistributedUserProperties {
		return &s.httpSess.wsProps
	}
	if p := s.props.Load(); p != nil {
		return p
	}
	s.props.CompareAndSwap(nil, new(endpoint.Properties))
	return s.props.Load()
}

// NegotiatedSubprotocol implements endpoint.Session.
func (s *session) NegotiatedSubprotocol() string {
	if s.x == nil {
		return ""
	}
	return s.x.subprot
}

// NegotiatedExtensions implements endpoint.Session.
func (s *session) NegotiatedExtensions() []string {
	if s.deflate == nil {
		return nil
	}
	return []string{"permessage-deflate"}
}

// IsOpen implements endpoint.Session.
func (s *session) IsOpen() bool { return s.getState() == stateOpen }

// IsSecure implements endpoint.Session. The container serves plain TCP; TLS
// is terminated by a proxy in front of it.
func (s *session) IsSecure() bool { return false }

// UserPrincipal implements endpoint.Session.
func (s *session) UserPrincipal() endpoint.Principal {
	if s.x == nil {
		return nil
	}
	return s.x.principal
}

// HTTPSession implements endpoint.Session.
func (s *session) HTTPSession() endpoint.HTTPSession {
	if s.httpSess == nil {
		return nil
	}
	return s.httpSess
}

// OpenSessions implements endpoint.Session.
func (s *session) OpenSessions() []endpoint.Session { return s.ep.openSessions() }

// MaxTextMessageBufferSize implements endpoint.Session.
func (s *session) MaxTextMessageBufferSize() int { return int(s.maxText.Load()) }

// SetMaxTextMessageBufferSize implements endpoint.Session.
func (s *session) SetMaxTextMessageBufferSize(n int) { s.maxText.Store(int64(n)) }

// MaxBinaryMessageBufferSize implements endpoint.Session.
func (s *session) MaxBinaryMessageBufferSize() int { return int(s.maxBinary.Load()) }

// SetMaxBinaryMessageBufferSize implements endpoint.Session.
func (s *session) SetMaxBinaryMessageBufferSize(n int) { s.maxBinary.Store(int64(n)) }

// MaxIdleTimeout implements endpoint.Session.
func (s *session) MaxIdleTimeout() time.Duration { return time.Duration(s.idleNanos.Load()) }

// SetMaxIdleTimeout implements endpoint.Session. Values under 1s count as
// 1s; zero or less disables the timeout.
func (s *session) SetMaxIdleTimeout(d time.Duration) {
	if d > 0 {
		d = max(d, time.Second)
	}
	s.idleNanos.Store(int64(d))
}

// touch records traffic for the idle monitor, with the container's coarse
// clock (idle timeouts are at least a second).
func (s *session) touch() {
	// Loop and senders both touch: store only when the coarse clock moved,
	// so that the line is not written per message.
	if now := s.cont.now.Load(); s.lastSeen.Load() != now {
		s.lastSeen.Store(now)
	}
}

// handlers are a session's message handlers.
type handlers struct {
	text          endpoint.TextHandler
	rawText       endpoint.RawTextHandler
	partialText   endpoint.PartialTextHandler
	binary        endpoint.BinaryHandler
	partialBinary endpoint.PartialBinaryHandler
	pong          endpoint.PongHandler
}

// getHandlers returns the current handlers (never nil).
func (s *session) getHandlers() *handlers {
	if h := s.handlers.Load(); h != nil {
		return h
	}
	return &noHandlers
}

var noHandlers handlers

// setHandler replaces the handlers with a copy changed by f.
func (s *session) setHandler(f func(h *handlers)) {
	for {
		old := s.handlers.Load()
		h := new(handlers)
		if old != nil {
			*h = *old
		}
		f(h)
		if s.handlers.CompareAndSwap(old, h) {
			return
		}
	}
}

// SetTextHandler implements endpoint.Session.
func (s *session) SetTextHandler(h endpoint.TextHandler) {
	s.setHandler(func(hs *handlers) { hs.text, hs.rawText, hs.partialText = h, nil, nil })
}

// SetRawTextHandler implements endpoint.Session.
func (s *session) SetRawTextHandler(h endpoint.RawTextHandler) {
	s.setHandler(func(hs *handlers) { hs.text, hs.rawText, hs.partialText = nil, h, nil })
}

// SetBinaryHandler implements endpoint.Session.
func (s *session) SetBinaryHandler(h endpoint.BinaryHandler) {
	s.setHandler(func(hs *handlers) { hs.binary, hs.partialBinary = h, nil })
}

// SetPartialTextHandler implements endpoint.Session.
func (s *session) SetPartialTextHandler(h endpoint.PartialTextHandler) {
	s.setHandler(func(hs *handlers) { hs.text, hs.rawText, hs.partialText = nil, nil, h })
}

// SetPartialBinaryHandler implements endpoint.Session.
func (s *session) SetPartialBinaryHandler(h endpoint.PartialBinaryHandler) {
	s.setHandler(func(hs *handlers) { hs.binary, hs.partialBinary = nil, h })
}

// SetPongHandler implements endpoint.Session.
func (s *session) SetPongHandler(h endpoint.PongHandler) {
	s.setHandler(func(hs *handlers) { hs.pong = h })
}

// Basic implements endpoint.Session.
func (s *session) Basic() endpoint.Basic { return basicRemote{s} }

// Async implements endpoint.Session.
func (s *session) Async() endpoint.Async { return asyncRemote{s} }

// Close implements endpoint.Session.
func (s *session) Close(r endpoint.CloseReason) error {
	if !r.Code.Sendable() {
		return endpoint.ErrBadCloseCode
	}
	if len(r.Reason) > endpoint.MaxCloseReasonBytes {
		r.Reason = truncateUTF8(r.Reason, endpoint.MaxCloseReasonBytes)
	}
	s.flushBeforeClose()
	if !s.startClose(r, false) {
		return endpoint.ErrSessionClosed
	}
	return nil
}

// truncateUTF8 cuts s to at most n bytes without splitting a code point.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// startClose sends a close frame with r unless one was already sent, and
// records r as the reason OnClose will report. With fail set (a protocol
// error), the TCP connection is closed as soon as the frame is written;
// otherwise the server waits for the peer's close frame. Either way the TCP
// connection is closed at the latest CloseTimeout later, even when the frame
// cannot be written to a peer that does not read. It returns false when a
// close frame had already been sent.
func (s *session) startClose(r endpoint.CloseReason, fail bool) bool {
	payload := make([]byte, 2, 2+len(r.Reason))
	payload[0], payload[1] = byte(r.Code>>8), byte(r.Code)
	payload = append(payload, r.Reason...)
	return s.sendClose(payload, r, fail)
}

// closeCode builds the close payload for an echo of the peer's code.
func closePayload(code uint16) []byte {
	if code == 0 {
		return nil
	}
	return []byte{byte(code >> 8), byte(code)}
}

// opFor returns the opcode of a message type.
func opFor(t endpoint.MessageType) ws.OpCode {
	if t == endpoint.Text {
		return ws.OpText
	}
	return ws.OpBinary
}
