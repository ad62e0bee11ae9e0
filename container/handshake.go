package container

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"

	"github.com/wsc-dev/wsc/endpoint"
)

var crlfcrlf = []byte("\r\n\r\n")

// HTTPError is a handshake rejection: the status and the reason sent in the
// response body.
type HTTPError struct {
	// Status is the HTTP status code.
	Status int
	// Reason is the text of the response body.
	Reason string
	// Header holds extra response header lines, each ending in CRLF.
	Header string
}

// Error implements error.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("container: handshake rejected: %d %s: %s", e.Status, http.StatusText(e.Status), e.Reason)
}

const versionHeader = "Sec-WebSocket-Version: 13\r\n"

// Handshake rejections.
var (
	errNotUpgrade = &HTTPError{Status: http.StatusUpgradeRequired, Reason: "this is a WebSocket endpoint: send an Upgrade: websocket request",
		Header: "Upgrade: websocket\r\n" + versionHeader}
	errHeadersTooLarge = &HTTPError{Status: http.StatusRequestHeaderFieldsTooLarge, Reason: "request headers too large"}
	errBadKey          = &HTTPError{Status: http.StatusBadRequest, Reason: "bad Sec-WebSocket-Key: want the base64 of 16 bytes"}
	errBadVersion      = &HTTPError{Status: http.StatusBadRequest, Reason: "unsupported Sec-WebSocket-Version: want 13", Header: versionHeader}
	errBadMethod       = &HTTPError{Status: http.StatusBadRequest, Reason: "a WebSocket handshake must be a GET request", Header: "Allow: GET\r\n"}
	errNotFound        = &HTTPError{Status: http.StatusNotFound, Reason: "no WebSocket endpoint at this path"}
	errForbiddenOrigin = &HTTPError{Status: http.StatusForbidden, Reason: "origin not allowed"}
	errShuttingDown    = &HTTPError{Status: http.StatusServiceUnavailable, Reason: "server shutting down"}
	errTooManySessions = &HTTPError{Status: http.StatusServiceUnavailable, Reason: "too many sessions", Header: "Retry-After: 1\r\n"}
)

// onHandshakeTraffic buffers the request until the end of its headers (in
// gnet's buffer: nothing is copied while it arrives), then upgrades. Frames
// that follow the request in the same read are carried over to the sock
// (or, for a session that stays on gnet, decoded at once).
func (s *session) onHandshakeTraffic(c gnet.Conn) gnet.Action {
	limit := s.cont.cfg.MaxHandshakeBytes
	if s.has(flagBusy) {
		// A plain HTTP request is being served: what follows waits, within
		// one more request's worth.
		if c.InboundBuffered() > limit+s.maxRequestBody() {
			return gnet.Close
		}
		return gnet.None
	}
	buf, _ := c.Peek(-1)
	end := bytes.Index(buf, crlfcrlf)
	if end < 0 {
		if len(buf) > limit {
			return s.reject(errHeadersTooLarge)
		}
		return gnet.None
	}
	end += len(crlfcrlf)
	if end > limit {
		return s.reject(errHeadersTooLarge)
	}
	if !isUpgradeRequest(buf[:end]) {
		return s.serveHTTP(buf, end)
	}
	if m := s.cont.routeRequestLine(buf[:end]); m != nil && (m.cfg.Configurator != nil || m.ctx.sessions.mayRestore(buf[:end])) {
		act := s.handOff(m, buf[:end])
		_, _ = c.Discard(end)
		return act
	}
	if act := s.upgrade(buf[:end]); act != gnet.None {
		return act
	}
	_, _ = c.Discard(end)
	if s.has(flagHandedOff) {
		return gnet.Close // gnet lets the connection go; OnClose adopts it
	}
	if c.InboundBuffered() > 0 {
		return s.readFrames(c)
	}
	return gnet.None
}

// reject writes an HTTP error response and closes the connection. It runs
// on the event loop.
func (s *session) reject(e *HTTPError) gnet.Action {
	s.cont.hsCount.add(e.Status) // before the client can see the response
	_, _ = s.gc().Write(rejectBytes(e))
	s.cont.log.Debug("handshake rejected", "remote", s.remoteString(), "status", e.Status, "reason", e.Reason)
	return gnet.Close
}

// rejectBytes renders an HTTP error response that closes the connection.
func rejectBytes(e *HTTPError) []byte {
	var b strings.Builder
	body := e.Reason + "\n"
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", e.Status, http.StatusText(e.Status))
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	b.WriteString("Connection: close\r\n")
	b.WriteString(e.Header)
	b.WriteString("\r\n")
	b.WriteString(body)
	return []byte(b.String())
}

// handshakeResult is what a successful handshake decided.
type handshakeResult struct {
	ep       *mapping
	params   map[string]string
	uri      string
	subprot  string
	deflate  *deflateState
	response []byte // the 101 response to write
	// forwarded and xff are the Forwarded and X-Forwarded-For values.
	forwarded, xff string
	cookies        []string // Cookie header values
}

// handshake checks an upgrade request (exactly the bytes up to and
// including the blank line) with gobwas' Upgrader, routes it and negotiates
// the subprotocol and extensions. It touches no connection, so it can be
// tested and fuzzed on its own. The result's response is the caller's.
//
// With s set (on an executor, see upgradeOnExecutor), the endpoint's
// Configurator takes part: origin, subprotocol, ModifyHandshake and the
// endpoint instance.
func (c *Container) handshake(req []byte, s *session) (handshakeResult, *HTTPError) {
	h := getHandshaker(c)
	defer h.put()
	res, rej := h.run(req, s)
	res.response = bytes.Clone(res.response)
	return res, rej
}

// handshaker is the state of one handshake. Handshakers are pooled with
// their Upgrader's callbacks bound, so that a handshake leaves little
// garbage behind: interleaved with the sessions' long-lived objects, the
// garbage of many handshakes would hold heap spans of idle sessions.
type handshaker struct {
	c            *Container
	s            *session
	req          []byte
	res          handshakeResult
	host, origin string
	rejection    *HTTPError
	u            ws.Upgrader
	rd           bytes.Reader
	resp         bytes.Buffer
	rw           struct {
		io.Reader
		io.Writer
	}
}

var handshakers sync.Pool

func getHandshaker(c *Container) *handshaker {
	h, _ := handshakers.Get().(*handshaker)
	if h == nil {
		h = new(handshaker)
		h.u = ws.Upgrader{
			OnRequest:       h.onRequest,
			OnHost:          h.onHost,
			OnHeader:        h.onHeader,
			ProtocolCustom:  h.protocol,
			Negotiate:       h.negotiate,
			OnBeforeUpgrade: h.beforeUpgrade,
		}
		h.rw.Reader, h.rw.Writer = &h.rd, &h.resp
	}
	h.c = c
	return h
}

// put returns h to the pool; the response it returned goes with it.
func (h *handshaker) put() {
	if h.resp.Cap() > 4<<10 {
		h.resp = bytes.Buffer{} // a big Configurator header: don't keep it
	}
	h.resp.Reset()
	h.rd.Reset(nil)
	h.c, h.s, h.req, h.res, h.host, h.origin, h.rejection = nil, nil, nil, handshakeResult{}, "", "", nil
	handshakers.Put(h)
}

// run does the handshake; the response in the result lives until put.
func (h *handshaker) run(req []byte, s *session) (handshakeResult, *HTTPError) {
	if !isUpgradeRequest(req) {
		return handshakeResult{}, errNotUpgrade
	}
	if h.c.draining.Load() {
		return handshakeResult{}, errShuttingDown
	}
	h.req, h.s = req, s
	h.rd.Reset(req)
	hs, err := h.u.Upgrade(&h.rw)
	if err != nil {
		if h.rejection == nil {
			h.rejection = mapUpgradeError(err)
		}
		return handshakeResult{}, h.rejection
	}
	h.res.subprot = hs.Protocol
	h.res.response = h.resp.Bytes()
	return h.res, nil
}

func (h *handshaker) onRequest(uri []byte) error {
	res := &h.res
	res.uri = string(uri)
	path := res.uri
	if !isPlainPath(uri) {
		u, err := url.ParseRequestURI(res.uri)
		if err != nil {
			h.rejection = &HTTPError{Status: http.StatusBadRequest, Reason: "bad request URI"}
			return h.rejection
		}
		path = u.EscapedPath()
	}
	res.ep, res.params = h.c.route(path)
	if res.ep == nil {
		h.rejection = errNotFound
		return h.rejection
	}
	return nil
}

// isPlainPath reports whether uri is an absolute path of unreserved
// characters and '/' only: no query, escapes or anything url.Parse would
// change, so it is its own escaped path.
func isPlainPath(uri []byte) bool {
	if len(uri) == 0 || uri[0] != '/' {
		return false
	}
	for _, b := range uri {
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case b == '/' || b == '-' || b == '.' || b == '_' || b == '~':
		default:
			return false
		}
	}
	return true
}

func (h *handshaker) onHost(v []byte) error {
	h.host = string(v)
	return nil
}

func (h *handshaker) onHeader(key, value []byte) error {
	res := &h.res
	switch string(key) {
	case "Origin":
		h.origin = string(value)
	case "Forwarded":
		res.forwarded = joinHeader(res.forwarded, value)
	case "X-Forwarded-For":
		res.xff = joinHeader(res.xff, value)
	case "Cookie":
		res.cookies = append(res.cookies, string(value))
	}
	return nil
}

func (h *handshaker) protocol(v []byte) (string, bool) {
	ep := h.res.ep
	if n, ok := ep.cfg.Configurator.(endpoint.SubprotocolNegotiator); ok && h.s != nil {
		var requested []string
		for _, p := range strings.Split(string(v), ",") {
			requested = append(requested, strings.TrimSpace(p))
		}
		return n.NegotiateSubprotocol(ep.cfg.Subprotocols, requested), true
	}
	return ep.chooseSubprotocol(v), true
}

func (h *handshaker) negotiate(opt httphead.Option) (httphead.Option, error) {
	ep := h.res.ep
	if ep == nil || !ep.ctx.settings.PerMessageDeflate {
		return httphead.Option{}, nil
	}
	if n, ok := ep.cfg.Configurator.(endpoint.ExtensionNegotiator); ok && h.s != nil && !deflateChosen(n, h.req) {
		return httphead.Option{}, nil
	}
	return negotiateDeflate(opt, &h.res.deflate)
}

func (h *handshaker) beforeUpgrade() (ws.HandshakeHeader, error) {
	if !validKey(h.req) {
		h.rejection = errBadKey
		return nil, h.rejection
	}
	res := &h.res
	cf := res.ep.cfg.Configurator
	allowed := res.ep.ctx.originAllowed(h.origin, h.host)
	if oc, ok := cf.(endpoint.OriginChecker); ok && h.s != nil {
		allowed = oc.CheckOrigin(h.origin)
	}
	if !allowed {
		h.rejection = errForbiddenOrigin
		return nil, h.rejection
	}
	if h.s == nil {
		return nil, nil
	}
	// On an executor: the HTTP session may have to come from the cluster.
	var hdr http.Header
	var repinned *httpSession
	if v := sessionCookie(res.cookies); v != "" && h.s.httpSess == nil {
		st := res.ep.ctx.sessions
		if hs := st.find(v); hs != nil {
			h.s.httpSess = hs
			if hs.moved.Swap(false) {
				repinned = hs
				hdr = http.Header{"Set-Cookie": {st.cookie(hs)}} // re-pinned to this node
			}
		}
	}
	if cf != nil {
		more, rej := h.s.configure(cf, h.req, res)
		if rej != nil {
			if repinned != nil {
				repinned.moved.Store(true) // for the next response
			}
			h.rejection = rej
			return nil, h.rejection
		}
		if hdr == nil {
			hdr = more
		} else {
			for k, vs := range more {
				for _, v := range vs {
					hdr.Add(k, v) // the Configurator's cookies too
				}
			}
		}
	}
	if len(hdr) == 0 {
		return nil, nil
	}
	return ws.HandshakeHeaderHTTP(hdr), nil
}

// joinHeader appends a repeated header's value, comma-separated.
func joinHeader(prev string, v []byte) string {
	if prev == "" {
		return string(v)
	}
	return prev + ", " + string(v)
}

// upgrade completes the handshake of req on the connection: the 101 or the
// rejection. It returns gnet.Close when it rejected the request. It runs on
// the event loop, for endpoints without a Configurator.
func (s *session) upgrade(req []byte) gnet.Action {
	h := getHandshaker(s.cont)
	defer h.put()
	res, rej := h.run(req, nil)
	if rej != nil {
		return s.reject(rej)
	}
	if !res.ep.ctx.acquire() {
		return s.reject(errTooManySessions)
	}
	s.apply(&res)
	s.ep.add(s) // before the client can see the 101 and act on it
	moved := s.detach()
	if moved {
		// The 101 goes out on the sock, as any later frame.
		_ = s.transmit(wframe{b: res.response}, false, policyControl, nil)
	} else {
		_, _ = s.gc().Write(res.response)
	}
	s.cont.hsCount.add(http.StatusSwitchingProtocols)
	s.ctx.count.sessions.Add(1)
	s.open(!moved)
	return gnet.None
}

// apply records a successful handshake's outcome on the session.
func (s *session) apply(res *handshakeResult) {
	s.ep, s.ctx = res.ep, res.ep.ctx
	s.idleNanos.Store(int64(s.ctx.settings.IdleTimeout))
	s.touch()
	s.deflate = res.deflate
	if s.deflate != nil {
		s.setFlag(flagDeflate)
	}
	if res.uri != res.ep.fullPath {
		s.extras().uri = res.uri // most sessions hold no copy of their URI
	}
	if len(res.params) > 0 {
		s.extras().pathPar = res.params
	}
	if res.subprot != "" {
		s.extras().subprot = res.subprot
	}
	peer := peerAddr(s.remote)
	if c := resolveClient(peer, res.forwarded, res.xff, s.ctx.settings.TrustedProxies); c != peer {
		x := s.extras()
		x.client, x.hasClient = c, true
	}
	if s.httpSess == nil {
		if v := sessionCookie(res.cookies); v != "" {
			s.httpSess = s.ctx.sessions.lookup(v) // looked up, not extended
		}
	}
}

// handOff sends the handshake of an endpoint with a Configurator to the
// executor: the Configurator may block, the event loop must not. The
// connection's later bytes wait in gnet's buffer (busy) until the decision.
func (s *session) handOff(m *mapping, req []byte) gnet.Action {
	b := getBuf(len(req))
	*b = append(*b, req...)
	s.ctx = m.ctx
	s.setFlag(flagBusy)
	if !s.post(event{kind: evHandshake, buf: b}) {
		s.clearFlag(flagBusy)
		return s.reject(&HTTPError{Status: http.StatusServiceUnavailable, Reason: "server overloaded"})
	}
	return gnet.None
}

// upgradeOnExecutor runs a handed-off handshake on an executor worker.
func (s *session) upgradeOnExecutor(req []byte) {
	res, rej := s.cont.handshake(req, s)
	if rej == nil && !res.ep.ctx.acquire() {
		rej = errTooManySessions
	}
	if rej != nil {
		s.cont.hsCount.add(rej.Status)
		w := wframe{b: rejectBytes(rej), closeAfter: true}
		_ = s.transmit(w, false, policyBasic, nil)
		return
	}
	s.apply(&res)
	s.ep.add(s) // before the client can see the 101 and act on it
	gc := s.c
	moved := s.detach()
	if moved {
		// gnet lets the connection go once the decision is made; its
		// OnClose then adopts it, with what the client sent meanwhile.
		defer gc.Close()
	}
	if err := s.transmit(wframe{b: res.response}, false, policyBasic, nil); err != nil {
		s.ep.remove(s)
		res.ep.ctx.open.Add(-1)
		return
	}
	s.cont.hsCount.add(http.StatusSwitchingProtocols)
	s.ctx.count.sessions.Add(1)
	if !s.open(false) { // the connection closed meanwhile
		s.ep.remove(s)
		res.ep.ctx.open.Add(-1)
		return
	}
	s.clearFlag(flagBusy)
	if !moved {
		_ = s.c.Wake(nil) // decode what the client sent meanwhile
	}
}

// configure runs the endpoint's Configurator for a handshake. It returns
// the headers to add to the 101, or the rejection.
func (s *session) configure(cf endpoint.Configurator, req []byte, res *handshakeResult) (hdr http.Header, rej *HTTPError) {
	defer func() {
		if p := recover(); p != nil {
			s.cont.log.Error("Configurator panicked", "path", res.uri, "panic", fmt.Sprint(p))
			hdr, rej = nil, &HTTPError{Status: http.StatusInternalServerError, Reason: "handshake failed"}
		}
	}()
	httpReq, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(req)))
	if err != nil {
		return nil, &HTTPError{Status: http.StatusBadRequest, Reason: "malformed handshake request"}
	}
	httpReq.RemoteAddr = s.remoteString()
	hreq := &endpoint.HandshakeRequest{Request: httpReq, PathParameters: res.params}
	if s.httpSess != nil { // looked up (or restored) before the Configurator
		hreq.HTTPSession = s.httpSess
	}
	s.ctx = res.ep.ctx
	hreq.UserProperties = s.userProps()
	resp := &endpoint.HandshakeResponse{Header: http.Header{}}
	if err := cf.ModifyHandshake(hreq, resp); err != nil {
		var he *endpoint.HandshakeError
		if errors.As(err, &he) && he.Status >= 400 && he.Status <= 599 {
			var h strings.Builder
			_ = he.Header.Write(&h)
			return nil, &HTTPError{Status: he.Status, Reason: he.Reason, Header: h.String()}
		}
		s.cont.log.Warn("handshake refused by the Configurator", "path", res.uri, "err", err)
		return nil, &HTTPError{Status: http.StatusInternalServerError, Reason: "handshake failed"}
	}
	if ip, ok := cf.(endpoint.InstanceProvider); ok {
		ep, err := ip.EndpointInstance(hreq)
		if err != nil || ep == nil {
			s.cont.log.Warn("no endpoint instance", "path", res.uri, "err", err)
			return nil, &HTTPError{Status: http.StatusInternalServerError, Reason: "handshake failed"}
		}
		s.endpoint = ep
	}
	if hreq.Principal != nil {
		s.extras().principal = hreq.Principal
	}
	return resp.Header, nil
}

// deflateChosen asks an ExtensionNegotiator whether permessage-deflate,
// the one extension the container installs, is to be used.
func deflateChosen(n endpoint.ExtensionNegotiator, req []byte) bool {
	var requested []string
	headerLines(req, func(name, value []byte) bool {
		if bytes.EqualFold(name, []byte("Sec-WebSocket-Extensions")) {
			for _, ext := range strings.Split(string(value), ",") {
				name, _, _ := strings.Cut(ext, ";")
				requested = append(requested, strings.TrimSpace(name))
			}
		}
		return true
	})
	for _, e := range n.NegotiateExtensions([]string{"permessage-deflate"}, requested) {
		if e == "permessage-deflate" {
			return true
		}
	}
	return false
}

// routeRequestLine routes the request line of a handshake, or returns nil.
func (c *Container) routeRequestLine(req []byte) *mapping {
	line, _, _ := bytes.Cut(req, []byte("\r\n"))
	parts := bytes.Fields(line)
	if len(parts) != 3 {
		return nil
	}
	u, err := url.ParseRequestURI(string(parts[1]))
	if err != nil {
		return nil
	}
	m, _ := c.route(u.EscapedPath())
	return m
}

// mapUpgradeError turns gobwas' rejection into ours: 400 for a bad method,
// version or key (with Sec-WebSocket-Version: 13 for the version, as in
// RFC 6455 §4.4).
func mapUpgradeError(err error) *HTTPError {
	switch {
	case errors.Is(err, ws.ErrHandshakeBadMethod):
		return errBadMethod
	case errors.Is(err, ws.ErrHandshakeBadSecVersion), errors.Is(err, ws.ErrHandshakeUpgradeRequired):
		return errBadVersion
	case errors.Is(err, ws.ErrHandshakeBadSecKey):
		return errBadKey
	}
	var rej *ws.ConnectionRejectedError
	if errors.As(err, &rej) {
		return &HTTPError{Status: rej.StatusCode(), Reason: strings.TrimPrefix(rej.Error(), "handshake error: ")}
	}
	return &HTTPError{Status: http.StatusBadRequest, Reason: "malformed handshake request"}
}

// headerLines calls f for each header line of an HTTP request (not the
// request line) until f returns false.
func headerLines(req []byte, f func(name, value []byte) bool) {
	i := bytes.Index(req, []byte("\r\n"))
	if i < 0 {
		return
	}
	rest := req[i+2:]
	for len(rest) > 0 {
		j := bytes.Index(rest, []byte("\r\n"))
		if j <= 0 {
			return
		}
		line := rest[:j]
		rest = rest[j+2:]
		k := bytes.IndexByte(line, ':')
		if k <= 0 {
			continue
		}
		if !f(bytes.TrimSpace(line[:k]), bytes.TrimSpace(line[k+1:])) {
			return
		}
	}
}

// isUpgradeRequest reports whether the request asks for a WebSocket upgrade
// (an Upgrade header with the websocket token); anything else is plain HTTP.
func isUpgradeRequest(req []byte) bool {
	found := false
	headerLines(req, func(name, value []byte) bool {
		if bytes.EqualFold(name, []byte("Upgrade")) {
			for _, tok := range bytes.Split(value, []byte(",")) {
				if bytes.EqualFold(bytes.TrimSpace(tok), []byte("websocket")) {
					found = true
				}
			}
		}
		return !found
	})
	return found
}

// validKey reports whether Sec-WebSocket-Key is the base64 of 16 bytes
// (RFC 6455 §4.1); gobwas only checks its length.
func validKey(req []byte) bool {
	ok := false
	headerLines(req, func(name, value []byte) bool {
		if bytes.EqualFold(name, []byte("Sec-WebSocket-Key")) {
			var dst [18]byte
			n, err := base64.StdEncoding.Decode(dst[:], value)
			ok = err == nil && n == 16
			return false
		}
		return true
	})
	return ok
}

// chooseSubprotocol picks the first subprotocol the client offers that the
// endpoint speaks, or "".
func (m *mapping) chooseSubprotocol(offer []byte) string {
	if m == nil {
		return ""
	}
	for _, p := range bytes.Split(offer, []byte(",")) {
		p = bytes.TrimSpace(p)
		for _, mine := range m.cfg.Subprotocols {
			if string(p) == mine {
				return mine
			}
		}
	}
	return ""
}

// originAllowed applies the context's origin policy: a listed origin or "*",
// else same-origin (no Origin header, or one whose host is the Host header).
func (c *webContext) originAllowed(origin, host string) bool {
	if origin == "" {
		return true
	}
	for _, o := range c.settings.AllowedOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	if len(c.settings.AllowedOrigins) > 0 {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Host, host)
}

// maxRequestBody is the largest request body any context accepts.
func (s *session) maxRequestBody() int {
	n := 0
	for _, ctx := range s.cont.contexts {
		n = max(n, ctx.settings.MaxRequestBodyBytes)
	}
	return n
}

// stopHandshakeTimer stops and drops the handshake timer, if any.
func (s *session) stopHandshakeTimer() {
	if t := s.hsTimer.Swap(nil); t != nil {
		t.Stop()
	}
}

// open completes the upgrade: the session goes live and OnOpen is posted.
// On the event loop (fromLoop) it also looks at what gnet still holds of the
// 101; from an executor the 101 went through the send path. It returns
// false when the connection closed meanwhile.
func (s *session) open(fromLoop bool) bool {
	s.stopHandshakeTimer()
	cfg := s.ep.cfg
	maxText, maxBinary := cfg.MaxTextMessageBytes, cfg.MaxBinaryMessageBytes
	if maxText <= 0 {
		maxText = s.ctx.settings.MaxTextMessageBytes
	}
	if maxBinary <= 0 {
		maxBinary = s.ctx.settings.MaxBinaryMessageBytes
	}
	s.maxText.Store(clampLimit(maxText))
	s.maxBinary.Store(clampLimit(maxBinary))
	if cfg.Inline {
		s.setFlag(flagInline)
	}
	if fromLoop {
		if ob := s.gc().OutboundBuffered(); ob > 0 {
			s.out.mu.Lock()
			s.out.direct = false
			s.out.backlog = ob
			s.ensurePollLocked()
			s.out.mu.Unlock()
		}
	}
	s.setFlag(flagOpening)
	if !s.state.CompareAndSwap(uint32(stateHandshake), uint32(stateOpen)) {
		return false
	}
	if !s.post(event{kind: evOpen}) {
		s.overloaded()
	}
	if h := s.authenticatedIn(); h != nil && !h.bind(s) {
		_ = s.Close(httpSessionEnded) // it ended during the handshake
	}
	return true
}

// fillProps records the client's address in the user properties, once per
// session: the direct peer, or the client a trusted proxy named (see
// forwarded.go). The port is there only when it is known. A caller that
// finds another goroutine filling them waits until it is done.
func (s *session) fillProps() {
	if old := s.flags.Or(uint32(flagPropsFilling)); old&uint32(flagPropsFilling) != 0 {
		for !s.has(flagPropsFilled) {
			runtime.Gosched()
		}
		return
	}
	defer s.setFlag(flagPropsFilled)
	client := s.client()
	if !client.ip.IsValid() {
		return
	}
	addr := client.ip.String()
	p := s.userProps()
	p.Set(endpoint.PropRemoteAddr, addr)
	p.Set(endpoint.PropRemoteHost, addr)
	if client.port > 0 {
		p.Set(endpoint.PropRemotePort, client.port)
	}
}

// peerAddr converts the direct peer's address.
func peerAddr(a net.Addr) clientAddr {
	if t, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(t.IP); ok {
			return clientAddr{ip: ip.Unmap(), port: t.Port}
		}
	}
	return clientAddr{}
}

func (s *session) remoteString() string {
	if s.remote == nil {
		return ""
	}
	return s.remote.String()
}
