package container

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/wsc-dev/wsc/endpoint"
)

// Plain HTTP on the WebSocket listener.
//
// A request that is not an upgrade is parsed by the standard library
// (http.ReadRequest over the buffered bytes: no HTTP parser of our own),
// once its headers and its Content-Length body are in gnet's buffer. It is
// then served by the web context's http.Handler on the context's executor,
// like any callback, with the context path stripped from URL.Path. One
// request is served at a time per connection; pipelined requests wait in
// gnet's buffer. Connections are kept alive between requests, for at most
// HandshakeTimeout of silence. Bodies are bounded (413) and must carry a
// Content-Length (411 otherwise); responses are buffered up to
// responseBufferBytes and streamed with chunked encoding beyond.

// responseBufferBytes is how much of a response is held to compute its
// Content-Length before the rest is streamed.
const responseBufferBytes = 64 << 10

// serveHTTP handles a plain HTTP request whose headers end at end. It runs
// on the event loop.
func (s *session) serveHTTP(buf []byte, end int) gnet.Action {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(buf[:end])))
	if err != nil {
		return s.reject(&HTTPError{Status: http.StatusBadRequest, Reason: "malformed HTTP request"})
	}
	ctx, rest := s.cont.contextFor(req.URL.Path)
	switch {
	case ctx == nil:
		return s.reject(errNotFound)
	case isEndpoint(s.cont, req.URL.EscapedPath()):
		return s.reject(errNotUpgrade) // a WebSocket endpoint, not a page
	case ctx.handler == nil:
		return s.reject(&HTTPError{Status: http.StatusNotFound, Reason: "not found"})
	case len(req.TransferEncoding) > 0:
		return s.reject(&HTTPError{Status: http.StatusLengthRequired, Reason: "request bodies need a Content-Length"})
	case req.ContentLength > int64(ctx.settings.MaxRequestBodyBytes):
		return s.reject(&HTTPError{Status: http.StatusRequestEntityTooLarge, Reason: "request body too large"})
	}
	total := end + int(max(req.ContentLength, 0))
	if len(buf) < total {
		return gnet.None // the body is still arriving; bounded by the checks above
	}
	body := make([]byte, total-end)
	copy(body, buf[end:total])
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.RemoteAddr = s.remoteString()
	req.URL.Path = rest
	req.URL.RawPath = ""
	_, _ = s.gc().Discard(total)
	if t := s.hsTimer.Load(); t != nil {
		t.Stop()
	}
	s.ctx = ctx
	s.setFlag(flagBusy)
	if !s.post(event{kind: evHTTP, req: req}) {
		s.clearFlag(flagBusy)
		return s.reject(&HTTPError{Status: http.StatusServiceUnavailable, Reason: "server overloaded"})
	}
	return gnet.None
}

// isEndpoint reports whether a WebSocket endpoint is mapped at path.
func isEndpoint(c *Container, escapedPath string) bool {
	m, _ := c.route(escapedPath)
	return m != nil
}

// contextFor returns the web context serving path and the rest of the path
// within it, or nil.
func (c *Container) contextFor(path string) (*webContext, string) {
	for _, ctx := range c.contexts {
		rest, ok := strings.CutPrefix(path, ctx.path)
		if !ok || (rest != "" && rest[0] != '/') {
			continue
		}
		if rest == "" {
			rest = "/"
		}
		return ctx, rest
	}
	return nil, ""
}

// serveRequest runs the context's handler for req and writes the response.
// It runs on an executor worker.
func (s *session) serveRequest(req *http.Request) {
	w := &responseWriter{s: s, req: req, header: http.Header{}, keepAlive: !req.Close}
	st := s.ctx.sessions
	if h := st.touch(req.Header.Values("Cookie")); h != nil && h.moved.Swap(false) {
		w.header.Add("Set-Cookie", st.cookie(h)) // re-pinned to this node
	}
	req = req.WithContext(endpoint.ContextWithHTTPSessions(req.Context(), &requestSessions{store: st, w: w}))
	func() {
		defer func() {
			if p := recover(); p != nil {
				s.cont.log.Error("HTTP handler panicked", "path", req.RequestURI, "panic", fmt.Sprint(p))
				s.cont.log.Debug("HTTP handler panic stack", "path", req.RequestURI, "stack", string(debug.Stack()))
				if !w.headerSent {
					w.reset()
					w.header.Set("Content-Type", "text/plain; charset=utf-8")
					w.WriteHeader(http.StatusInternalServerError)
					_, _ = io.WriteString(w, "internal server error\n")
				} else {
					w.keepAlive = false
					w.failed = true
				}
			}
		}()
		s.ctx.handler.ServeHTTP(w, req)
	}()
	w.finish()
	if w.keepAlive && w.err == nil {
		if t := s.hsTimer.Load(); t != nil {
			t.Reset(s.cont.cfg.HandshakeTimeout)
		}
		s.clearFlag(flagBusy)
		_ = s.c.Wake(nil) // serve what was pipelined
	}
}

// responseWriter is the http.ResponseWriter of a request served on the
// executor.
type responseWriter struct {
	s          *session
	req        *http.Request
	header     http.Header
	status     int
	wroteHdr   bool
	headerSent bool
	chunked    bool
	keepAlive  bool
	failed     bool // a panic after the header went out: cut the response
	body       []byte
	err        error
}

var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
)

// Header implements http.ResponseWriter.
func (w *responseWriter) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter.
func (w *responseWriter) WriteHeader(status int) {
	if w.wroteHdr {
		return
	}
	w.wroteHdr, w.status = true, status
}

// Write implements http.ResponseWriter.
func (w *responseWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.err != nil {
		return 0, w.err
	}
	if !bodyAllowed(w.status) || w.req.Method == http.MethodHead {
		return len(p), nil
	}
	w.body = append(w.body, p...)
	if len(w.body) > responseBufferBytes {
		w.Flush()
	}
	return len(p), w.err
}

// Flush implements http.Flusher: the header and the body so far go out now,
// and the rest of the body is streamed.
func (w *responseWriter) Flush() {
	w.WriteHeader(http.StatusOK)
	if w.err != nil {
		return
	}
	if !w.headerSent {
		if w.header.Get("Content-Length") == "" && bodyAllowed(w.status) && w.req.Method != http.MethodHead {
			if w.req.ProtoAtLeast(1, 1) {
				w.chunked = true
				w.header.Set("Transfer-Encoding", "chunked")
			} else {
				w.keepAlive = false // HTTP/1.0: the body ends with the connection
			}
		}
		w.send(w.head(), false)
	}
	if len(w.body) == 0 {
		return
	}
	if w.chunked {
		w.send([]byte(strconv.FormatInt(int64(len(w.body)), 16)+"\r\n"), false)
		w.send(w.body, false)
		w.send([]byte("\r\n"), false)
	} else {
		w.send(w.body, false)
	}
	w.body = w.body[:0]
}

// reset forgets what the handler set, before an error response.
func (w *responseWriter) reset() {
	w.header = http.Header{}
	w.wroteHdr, w.body = false, nil
}

// finish sends what remains of the response.
func (w *responseWriter) finish() {
	w.WriteHeader(http.StatusOK)
	if w.err != nil {
		return
	}
	if w.failed {
		w.send(nil, true)
		return
	}
	if !w.headerSent {
		if bodyAllowed(w.status) && w.header.Get("Content-Length") == "" && w.req.Method != http.MethodHead {
			w.header.Set("Content-Length", strconv.Itoa(len(w.body)))
		}
		if len(w.body) > 0 && w.header.Get("Content-Type") == "" {
			w.header.Set("Content-Type", http.DetectContentType(w.body))
		}
		head := w.head()
		w.send(append(head, w.body...), !w.keepAlive)
		return
	}
	switch {
	case w.chunked:
		tail := []byte{}
		if len(w.body) > 0 {
			tail = append(tail, strconv.FormatInt(int64(len(w.body)), 16)+"\r\n"...)
			tail = append(tail, w.body...)
			tail = append(tail, "\r\n"...)
		}
		w.send(append(tail, "0\r\n\r\n"...), !w.keepAlive)
	default:
		w.send(w.body, !w.keepAlive)
	}
}

// head renders the status line and the header.
func (w *responseWriter) head() []byte {
	w.headerSent = true
	if !w.keepAlive {
		w.header.Set("Connection", "close")
	} else if !w.req.ProtoAtLeast(1, 1) {
		w.header.Set("Connection", "keep-alive")
	}
	if w.header.Get("Date") == "" {
		w.header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %03d %s\r\n", w.status, http.StatusText(w.status))
	_ = w.header.Write(&b)
	b.WriteString("\r\n")
	return b.Bytes()
}

// send writes p through the session's send path (waiting within the
// blocking send timeout) and closes the connection after it when last.
func (w *responseWriter) send(p []byte, closeAfter bool) {
	if w.err != nil {
		return
	}
	fb := getBuf(len(p))
	*fb = append(*fb, p...)
	w.err = w.s.transmit(wframe{b: *fb, own: fb, closeAfter: closeAfter}, false, policyBasic, nil)
}

// bodyAllowed reports whether a response with status may have a body.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}
