package endpoint

import (
	"context"
	"net/http"
	"time"
)

// HTTPSession is a web context's HTTP session (the servlet HttpSession): it
// is created by an HTTP request, named by the JSESSIONID cookie, and ends
// when invalidated or after MaxInactiveInterval without an HTTP request.
// WebSocket traffic does not extend it. Its methods are safe for
// concurrent use.
type HTTPSession interface {
	// ID returns the session id (the cookie value before the route).
	ID() string
	// Attributes returns the session's attributes.
	Attributes() *Properties
	// CreationTime returns when the session was created.
	CreationTime() time.Time
	// LastAccessedTime returns the time of the last HTTP request that used
	// the session.
	LastAccessedTime() time.Time
	// MaxInactiveInterval returns how long the session lives without a
	// request; zero or less means forever.
	MaxInactiveInterval() time.Duration
	// SetMaxInactiveInterval changes it.
	SetMaxInactiveInterval(d time.Duration)
	// IsNew reports whether the client has not yet sent the session's
	// cookie back.
	IsNew() bool
	// Invalidate ends the session.
	Invalidate()
	// Valid reports whether the session is neither invalidated nor expired.
	Valid() bool
}

// HTTPSessions finds and creates the HTTP sessions of one request; the
// container puts it in the request's context.
type HTTPSessions interface {
	// Session returns the request's session, or with create a new one
	// (the response then sets its cookie); nil when there is none.
	Session(r *http.Request, create bool) HTTPSession
}

type httpSessionsKey struct{}

// ContextWithHTTPSessions returns ctx carrying s; containers call it.
func ContextWithHTTPSessions(ctx context.Context, s HTTPSessions) context.Context {
	return context.WithValue(ctx, httpSessionsKey{}, s)
}

// GetHTTPSession returns the HTTP session of a request served by the
// container, creating one when create is true and there is none. It
// returns nil outside the container or when there is no session and create
// is false. Call it before writing the response body: a new session's
// cookie goes in the response header.
func GetHTTPSession(r *http.Request, create bool) HTTPSession {
	s, _ := r.Context().Value(httpSessionsKey{}).(HTTPSessions)
	if s == nil {
		return nil
	}
	return s.Session(r, create)
}
