package container

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsc-dev/wsc/endpoint"
)

// HTTP sessions of a web context.
//
// The cookie is JSESSIONID=<id>.<route>: <id> holds 256 random bits
// (base64url, no dots) and <route> names the node, so a session-routing
// proxy can send the client back to it (base64 of the server name by
// default, as JEUS does). Path is the context path, and the cookie is
// HttpOnly. A session expires SessionTimeout after its last HTTP request;
// WebSocket traffic does not extend it. Expired sessions are dropped when
// looked up and by the context's monitor.

// CookieName is the HTTP session cookie.
const CookieName = "JSESSIONID"

// httpSession implements endpoint.HTTPSession.
type httpSession struct {
	id       string
	created  time.Time
	last     atomic.Int64 // unix nanoseconds of the last HTTP request
	timeout  atomic.Int64 // nanoseconds; <= 0: never expires
	isNew    atomic.Bool
	invalid  atomic.Bool
	attrs    endpoint.Properties
	wsProps  endpoint.Properties // the WebSocket user properties bound to it (DistributedUserProperties)
	sessions *sessionStore

	boundMu sync.Mutex
	bound   map[*session]struct{} // the open WebSocket sessions authenticated in it

	moved      atomic.Bool // restored from the cluster: the next response re-pins the cookie's route
	warnedSkip atomic.Bool // a warning about values that are not replicable was logged
	saveMu     sync.Mutex  // one replication of it at a time (replica.save)
}

func (h *httpSession) ID() string                       { return h.id }
func (h *httpSession) Attributes() *endpoint.Properties { return &h.attrs }
func (h *httpSession) CreationTime() time.Time          { return h.created }
func (h *httpSession) LastAccessedTime() time.Time      { return time.Unix(0, h.last.Load()) }
func (h *httpSession) MaxInactiveInterval() time.Duration {
	return time.Duration(h.timeout.Load())
}
func (h *httpSession) SetMaxInactiveInterval(d time.Duration) { h.timeout.Store(int64(d)) }
func (h *httpSession) IsNew() bool                            { return h.isNew.Load() }
func (h *httpSession) Invalidate() {
	if !h.invalid.Swap(true) {
		h.sessions.remove(h.id)
		if rep := h.sessions.rep; rep != nil {
			rep.space.Invalidate(h.id)
		}
		h.closeBound()
	}
}

// httpSessionEnded is how a WebSocket session authenticated in an HTTP
// session closes when that session ends, by invalidation or expiry
// (JSR 356 §7.2, as Tomcat does it).
var httpSessionEnded = endpoint.CloseReason{Code: endpoint.CloseViolatedPolicy, Reason: "the authenticated HTTP session ended"}

// bind records s, just opened with a Principal in h, to be closed when h
// ends. It reports false when h has ended already.
func (h *httpSession) bind(s *session) bool {
	h.boundMu.Lock()
	defer h.boundMu.Unlock()
	// Invalidate marks h before it takes the set: one of us sees the other.
	if h.invalid.Load() {
		return false
	}
	// ended marks s closed before it unbinds: a session seen open here is
	// unbound after this hold.
	if s.getState() != stateOpen {
		return true
	}
	if h.bound == nil {
		h.bound = make(map[*session]struct{})
	}
	h.bound[s] = struct{}{}
	return true
}

// unbind forgets s, which has ended.
func (h *httpSession) unbind(s *session) {
	h.boundMu.Lock()
	delete(h.bound, s)
	h.boundMu.Unlock()
}

// closeBound closes, with 1008, the WebSocket sessions authenticated in h,
// which has ended.
func (h *httpSession) closeBound() {
	h.boundMu.Lock()
	bound := h.bound
	h.bound = nil
	h.boundMu.Unlock()
	for s := range bound {
		_ = s.Close(httpSessionEnded)
	}
}
func (h *httpSession) Valid() bool { return h.live(time.Now()) }

// live reports whether the session is valid at now.
func (h *httpSession) live(now time.Time) bool {
	if h.invalid.Load() {
		return false
	}
	t := h.timeout.Load()
	return t <= 0 || now.UnixNano()-h.last.Load() <= t
}

// sessionStore holds a web context's HTTP sessions.
type sessionStore struct {
	route   string // after the dot in the cookie
	path    string // cookie Path
	timeout time.Duration

	mu sync.Mutex
	m  map[string]*httpSession

	rep *replica // nil: the sessions are not replicated
}

func newSessionStore(route, path string, timeout time.Duration) *sessionStore {
	if path == "" {
		path = "/"
	}
	return &sessionStore{route: route, path: path, timeout: timeout, m: map[string]*httpSession{}}
}

// cookieID is the session id of a cookie value ("<id>.<route>").
func cookieID(cookie string) string {
	if i := strings.LastIndexByte(cookie, '.'); i >= 0 {
		return cookie[:i]
	}
	return cookie
}

// lookup returns the live session named by a cookie value ("<id>.<route>";
// the route may be another node's) that this node holds, or nil.
func (st *sessionStore) lookup(cookie string) *httpSession {
	id := cookieID(cookie)
	st.mu.Lock()
	h := st.m[id]
	st.mu.Unlock()
	if h == nil {
		return nil
	}
	if !h.live(time.Now()) {
		h.Invalidate()
		return nil
	}
	return h
}

// find is lookup, and, for replicated sessions this node does not hold,
// a restore from the other nodes: it may block, so it runs on executors
// only.
func (st *sessionStore) find(cookie string) *httpSession {
	h := st.lookup(cookie)
	if h == nil && st.rep != nil {
		if id := cookieID(cookie); validID(id) {
			h = st.restore(id)
		}
	}
	return h
}

// mayRestore reports whether a handshake with these headers could need a
// restore (a cookie of a replicated session this node does not hold), so
// that it must leave the event loop.
func (st *sessionStore) mayRestore(req []byte) bool {
	if st.rep == nil {
		return false
	}
	var cookies []string
	headerLines(req, func(name, value []byte) bool {
		if bytes.EqualFold(name, []byte("Cookie")) {
			cookies = append(cookies, string(value))
		}
		return true
	})
	v := sessionCookie(cookies)
	return v != "" && validID(cookieID(v)) && st.lookup(v) == nil
}

// create makes a new session.
func (st *sessionStore) create() *httpSession {
	var b [32]byte // 256 bits
	_, _ = rand.Read(b[:])
	now := time.Now()
	h := &httpSession{id: base64.RawURLEncoding.EncodeToString(b[:]), created: now, sessions: st}
	h.last.Store(now.UnixNano())
	h.timeout.Store(int64(st.timeout))
	h.isNew.Store(true)
	if st.rep != nil {
		st.rep.attach(h)
	}
	st.mu.Lock()
	st.m[h.id] = h
	st.mu.Unlock()
	return h
}

// holds reports whether h is the session st holds under its id.
func (st *sessionStore) holds(h *httpSession) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.m[h.id] == h
}

func (st *sessionStore) remove(id string) {
	st.mu.Lock()
	delete(st.m, id)
	st.mu.Unlock()
}

// sweep drops expired sessions.
func (st *sessionStore) sweep(now time.Time) {
	st.mu.Lock()
	var dead []*httpSession
	for _, h := range st.m {
		if !h.live(now) {
			dead = append(dead, h)
		}
	}
	st.mu.Unlock()
	for _, h := range dead {
		h.Invalidate()
	}
}

// cookie renders the Set-Cookie value for h.
func (st *sessionStore) cookie(h *httpSession) string {
	c := &http.Cookie{Name: CookieName, Value: h.id + "." + st.route, Path: st.path, HttpOnly: true}
	return c.String()
}

// sessionCookie returns the JSESSIONID value of a request's Cookie header
// values.
func sessionCookie(header []string) string {
	for _, line := range header {
		cookies, err := http.ParseCookie(line)
		if err != nil {
			continue
		}
		for _, c := range cookies {
			if c.Name == CookieName {
				return c.Value
			}
		}
	}
	return ""
}

// requestSessions is the endpoint.HTTPSessions of one HTTP request.
type requestSessions struct {
	store *sessionStore
	w     *responseWriter
}

// Session implements endpoint.HTTPSessions.
func (rs *requestSessions) Session(r *http.Request, create bool) endpoint.HTTPSession {
	if v := sessionCookie(r.Header.Values("Cookie")); v != "" {
		if h := rs.store.find(v); h != nil {
			if h.moved.Swap(false) {
				rs.w.Header().Add("Set-Cookie", rs.store.cookie(h))
			}
			return h
		}
	}
	if !create {
		return nil
	}
	h := rs.store.create()
	rs.w.Header().Add("Set-Cookie", rs.store.cookie(h))
	return h
}

// touch records an HTTP request that carried the session's cookie (it
// runs on an executor: the session may be restored from the cluster). It
// returns the session, or nil.
func (st *sessionStore) touch(header []string) *httpSession {
	v := sessionCookie(header)
	if v == "" {
		return nil
	}
	h := st.find(v)
	if h != nil {
		now := time.Now()
		h.last.Store(now.UnixNano())
		h.isNew.Store(false)
		if st.rep != nil {
			st.rep.space.Touch(h.id, now, h.MaxInactiveInterval())
		}
	}
	return h
}

// defaultRoute is the route of a server name: its base64, as JEUS writes
// it ("jeus7/server2" → "amV1czcvc2VydmVyMg==").
func defaultRoute(serverName string) string {
	return base64.StdEncoding.EncodeToString([]byte(serverName))
}
