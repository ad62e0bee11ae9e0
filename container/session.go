package container

import (
	"math"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

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
// Layout. With 1000s of sessions served in turn, each cache line a message
// touches is a miss, and a line one CPU writes while the other reads it
// costs a transfer. The struct is 384 bytes, a size class whose objects
// start on 64-byte boundaries, so its six lines are exactly the groups
// below (TestSessionLayout holds the offsets): what both sides read per
// message, what the loop writes per frame, the mailbox both write, what
// senders write, and two lines seldom touched per message.
type session struct {
	// Line 0, read per message by the loop and the senders, written
	// rarely: lastSeen at most once per clock tick, the handlers when the
	// endpoint sets them.
	c        transport // gnet's connection; after the hand-off, the sock (poller.go)
	cont     *Container
	ctx      *webContext
	handlers atomic.Pointer[handlers] // copy on write
	lastSeen atomic.Int64             // unix nanoseconds (coarse) of the last frame in or out
	// The binary and raw text handlers of handlers, mirrored here so that
	// a message reaches its handler's closure without first loading the
	// handlers (one cache miss fewer per message); nil: see handlers.
	fastBinary, fastText bytesFunc

	// Line 1, written by the loop per frame.
	in      inbound // inbound frame decoding [loop]
	msgsIn  atomic.Uint64
	bytesIn atomic.Uint64

	// Line 2: the mailbox of events for the endpoint, written by the loop
	// and the executor per message (guarded by mbMu, see dispatch.go), and
	// beside it what the loop reads per frame.
	mbMu sync.Mutex
	// state is the sessionState; flags are the session's atomic bits
	// (see sessionFlag).
	state atomic.Uint32
	flags atomic.Uint32
	// Limits, changeable from any goroutine, applied from the next message
	// (at most 2³¹-1, like the descriptor's).
	maxText   atomic.Int32
	maxBinary atomic.Int32
	mbQueued  int32 // events waiting in mbq, counted here so an empty test needs no load of mbq
	// mbBytes is the mailbox's size: the messages' bytes plus eventCost
	// per event. It stays under MaxPendingInboundBytes (at most 1 GiB) plus
	// one message (under 2 GiB), so it fits 32 bits unsigned.
	mbBytes uint32
	// The mailbox's first event, when it is compact (a message, the open,
	// the close): here, on the line the loop and the worker hold anyway,
	// it costs the hand-off no other line. The events behind it wait in
	// mbq, allocated when a second one comes (see dispatch.go).
	oneBuf    *[]byte
	mbq       *mailQueue
	oneKind   eventKind
	hasOne    bool
	scheduled bool // queued on, or running in, the executor
	closeQd   bool // the final evClose has been queued
	// Endpoint side [exec].
	opened    bool
	closeDone bool
	// fd is the connection's descriptor, which the senders write to: here,
	// on a line a worker holds already, rather than in gnet's connection,
	// which the loop writes per read.
	fd int32

	// Line 3, written by senders per message.
	out outbound // guarded by out.mu (see send.go)

	// Line 4: fields used once per session, or only with an extension.
	deflate *deflateState           // nil unless permessage-deflate was negotiated (flagDeflate)
	batch   atomic.Pointer[batcher] // batching (batch.go); nil until first allowed
	// closeReason is the reason OnClose reports, set once by whoever starts
	// the closing handshake (guarded by out.mu); nil until then.
	closeReason *endpoint.CloseReason
	props       atomic.Pointer[endpoint.Properties] // allocated on first use
	endpoint    endpoint.Endpoint                   // [exec]
	ep          *mapping
	id          uint64

	// Line 5, seldom touched.
	idleNanos atomic.Int64 // idle timeout; <= 0: never
	// hsTimer closes a connection whose handshake does not complete; it
	// is dropped once the session opens, so an open session holds none.
	hsTimer  atomic.Pointer[time.Timer]
	remote   net.Addr
	x        *sessionExtras // what few sessions have (handshake, read-only after); nil if none
	httpSess *httpSession   // the HTTP session the handshake's cookie named, or nil
	// prev and next link the mapping's open sessions (guarded by ep.mu).
	prev, next *session
}

// trafficTo adds the session's message counters to dst.
func (s *session) trafficTo(dst *trafficCounters) {
	dst.msgsIn.Add(s.msgsIn.Load())
	dst.msgsOut.Add(s.out.msgs.Load())
	dst.bytesIn.Add(s.bytesIn.Load())
	dst.bytesOut.Add(s.out.bytes.Load())
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
	// flagPartialText, flagPartialBinary: the handlers take text (binary)
	// messages in parts; the decoder reads these instead of the handlers.
	flagPartialText
	flagPartialBinary
	// flagCorked: the executor is delivering an event with more behind it,
	// so sends are staged and leave together at the end of the turn (see
	// fanout.go).
	flagCorked
	// flagInline: the endpoint runs on the event loop
	// (ServerConfig.Inline); set before OnOpen, never cleared.
	flagInline
	// flagDeflate: permessage-deflate was negotiated (deflate is set); set
	// before the session opens, never cleared. Senders and the decoder test
	// it on a line they hold already, not deflate on a line of its own.
	flagDeflate
	// flagBatching mirrors batcher.allowed: sends go through the batch.
	flagBatching
	// flagHandedOff: the connection has left gnet for a sock (detach, set
	// under out.mu); gnet's later bytes wait for adopt.
	flagHandedOff
	// flagReading: the session's executor turn is decoding what it read
	// from its sock, so a message finds the endpoint's worker already here
	// and is delivered at once when nothing waits before it.
	flagReading
)

func (s *session) has(f sessionFlag) bool { return s.flags.Load()&uint32(f) != 0 }
func (s *session) setFlag(f sessionFlag)  { s.flags.Or(uint32(f)) }
func (s *session) clearFlag(f sessionFlag) {
	s.flags.And(^uint32(f))
}

// inlineOnLoop reports whether the session's inline endpoint is being
// called by the event loop right now.
func (s *session) inlineOnLoop() bool {
	const both = uint32(flagInline | flagOnLoop)
	return s.flags.Load()&both == both
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
	// uri is the request URI, when it is not the endpoint's path.
	uri string
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
	s := &session{c: c, cont: cont, id: sessionIDs.Add(1), remote: c.RemoteAddr(), fd: int32(c.Fd())}
	s.out.direct = true
	return s
}

func (s *session) getState() sessionState { return sessionState(s.state.Load()) }

// ID implements endpoint.Session.
func (s *session) ID() string { return strconv.FormatUint(s.id, 16) }

// RequestURI implements endpoint.Session.
func (s *session) RequestURI() *url.URL {
	uri := s.requestURI()
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return &url.URL{Path: uri}
	}
	return u
}

// requestURI returns the handshake's request URI.
func (s *session) requestURI() string {
	if s.x != nil && s.x.uri != "" {
		return s.x.uri
	}
	if s.ep == nil {
		return ""
	}
	return s.ep.fullPath
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
// session's (except for an Inline endpoint when they are replicated
// write-through: see webContext.localInline).
func (s *session) UserProperties() *endpoint.Properties {
	if !s.has(flagPropsFilled) {
		s.fillProps()
	}
	return s.userProps()
}

// userProps returns the session's property store, without the address.
func (s *session) userProps() *endpoint.Properties {
	if s.httpSess != nil && s.ctx != nil && s.ctx.settings.DistributedUserProperties && !(s.ep != nil && s.ep.cfg.Inline && s.ctx.localInline()) {
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
	if !s.has(flagDeflate) {
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

// authenticatedIn returns the HTTP session s was opened in with a
// Principal (its Configurator authenticated the user): s closes with 1008
// when that session ends. It returns nil for any other session.
func (s *session) authenticatedIn() *httpSession {
	if s.httpSess == nil || s.x == nil || s.x.principal == nil {
		return nil
	}
	return s.httpSess
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
func (s *session) SetMaxTextMessageBufferSize(n int) { s.maxText.Store(clampLimit(n)) }

// MaxBinaryMessageBufferSize implements endpoint.Session.
func (s *session) MaxBinaryMessageBufferSize() int { return int(s.maxBinary.Load()) }

// SetMaxBinaryMessageBufferSize implements endpoint.Session.
func (s *session) SetMaxBinaryMessageBufferSize(n int) { s.maxBinary.Store(clampLimit(n)) }

// clampLimit fits a message size limit into 32 bits: 2³¹-1 bytes is the
// largest message a session accepts, as in the descriptor.
func clampLimit(n int) int32 {
	return int32(min(max(n, math.MinInt32), math.MaxInt32))
}

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
			break
		}
	}
	// Mirror the partial handlers in the flags, and the binary and raw
	// text handlers in the fast fields, from whatever handlers are current
	// when done, so that racing setters end on the last one.
	for {
		h := s.handlers.Load()
		s.setFlagTo(flagPartialText, h.partialText != nil)
		s.setFlagTo(flagPartialBinary, h.partialBinary != nil)
		s.fastBinary.store(h.binary)
		s.fastText.store(h.rawText)
		if s.handlers.Load() == h {
			return
		}
	}
}

// bytesFunc holds a func([]byte) handler (a BinaryHandler or a
// RawTextHandler) as the one pointer a func value is, so that it can be
// loaded atomically from the session's first line without a holder of
// its own to load first. The zero value holds nil.
type bytesFunc struct{ p unsafe.Pointer }

func (f *bytesFunc) store(h func([]byte)) {
	atomic.StorePointer(&f.p, *(*unsafe.Pointer)(unsafe.Pointer(&h)))
}

func (f *bytesFunc) load() func([]byte) {
	p := atomic.LoadPointer(&f.p)
	return *(*func([]byte))(unsafe.Pointer(&p))
}

func (s *session) setFlagTo(f sessionFlag, on bool) {
	if on {
		s.setFlag(f)
	} else {
		s.clearFlag(f)
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
