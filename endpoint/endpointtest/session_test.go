package endpointtest_test

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/endpoint/endpointtest"
)

// recorder is an endpoint that records its callbacks and runs the hooks
// a test sets.
type recorder struct {
	events  []string
	errs    []error
	onOpen  func(s endpoint.Session)
	onClose func(s endpoint.Session)
}

func (r *recorder) OnOpen(s endpoint.Session, _ *endpoint.ServerConfig) {
	r.events = append(r.events, "open")
	if r.onOpen != nil {
		r.onOpen(s)
	}
}

func (r *recorder) OnClose(s endpoint.Session, reason endpoint.CloseReason) {
	r.events = append(r.events, "close "+reason.String())
	if r.onClose != nil {
		r.onClose(s)
	}
}

func (r *recorder) OnError(s endpoint.Session, err error) {
	r.events = append(r.events, "error")
	r.errs = append(r.errs, err)
}

func (r *recorder) add(e string) { r.events = append(r.events, e) }

func wantEvents(t *testing.T, r *recorder, want ...string) {
	t.Helper()
	if !reflect.DeepEqual(r.events, want) {
		t.Errorf("events = %q, want %q", r.events, want)
	}
}

func wantSent(t *testing.T, s *endpointtest.Session, want ...string) {
	t.Helper()
	var got []string
	for _, m := range s.Sent() {
		got = append(got, m.String())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sent = %q, want %q", got, want)
	}
}

func echoOpen(s endpoint.Session) {
	s.SetTextHandler(func(text string) { _ = s.Basic().SendText(text) })
	s.SetBinaryHandler(func(data []byte) { _ = s.Basic().SendBinary(data) })
}

func TestSession_echo(t *testing.T) {
	r := &recorder{onOpen: echoOpen}
	s := endpointtest.NewSession()
	s.Open(r, nil)
	if err := s.ReceiveText("hi"); err != nil {
		t.Fatal(err)
	}
	if err := s.ReceiveBinary([]byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	wantSent(t, s, `text "hi"`, "binary [1 2]")
	if got := s.TakeSent(); len(got) != 2 || s.Sent() != nil {
		t.Errorf("TakeSent = %v, then Sent = %v", got, s.Sent())
	}
	if !s.IsOpen() || s.Endpoint() != r {
		t.Error("session not open after echo, or Endpoint() wrong")
	}
	wantEvents(t, r, "open")
}

func TestSession_notOpened(t *testing.T) {
	s := endpointtest.NewSession()
	if err := s.ReceiveText("x"); !errors.Is(err, endpointtest.ErrNotOpen) {
		t.Errorf("ReceiveText before Open = %v", err)
	}
	if err := s.ReceiveClose(endpoint.CloseReason{Code: 1000}); !errors.Is(err, endpointtest.ErrNotOpen) {
		t.Errorf("ReceiveClose before Open = %v", err)
	}
}

func TestSession_noHandler(t *testing.T) {
	for _, binary := range []bool{false, true} {
		r := &recorder{}
		s := endpointtest.NewSession()
		s.Open(r, nil)
		var err error
		if binary {
			err = s.ReceiveBinary([]byte("x"))
		} else {
			err = s.ReceiveText("x")
		}
		if !errors.Is(err, endpointtest.ErrNoHandler) {
			t.Fatalf("binary=%v: err = %v, want ErrNoHandler", binary, err)
		}
		what := "text"
		if binary {
			what = "binary"
		}
		reason := "1003 (cannot accept): " + what + " messages are not accepted"
		wantSent(t, s, "close "+reason)
		wantEvents(t, r, "open", "close "+reason)
		if s.IsOpen() {
			t.Error("session still open")
		}
		if err := s.ReceiveText("y"); !errors.Is(err, endpoint.ErrSessionClosed) {
			t.Errorf("ReceiveText after close = %v", err)
		}
		if err := s.ReceiveClose(endpoint.CloseReason{Code: 1003}); err != nil {
			t.Errorf("the client's answer: %v", err)
		}
		wantEvents(t, r, "open", "close "+reason) // OnClose once
	}
}

func TestSession_tooBig(t *testing.T) {
	r := &recorder{onOpen: echoOpen}
	s := endpointtest.NewSession()
	s.Open(r, &endpoint.ServerConfig{MaxTextMessageBytes: 4})
	if got := s.MaxTextMessageBufferSize(); got != 4 {
		t.Errorf("MaxTextMessageBufferSize = %d", got)
	}
	if got := s.MaxBinaryMessageBufferSize(); got != endpointtest.DefaultMaxMessageBytes {
		t.Errorf("MaxBinaryMessageBufferSize = %d", got)
	}
	if err := s.ReceiveText("1234"); err != nil {
		t.Fatal(err)
	}
	err := s.ReceiveTextParts("12", "345")
	if !errors.Is(err, endpointtest.ErrTooBig) {
		t.Fatalf("err = %v, want ErrTooBig", err)
	}
	wantSent(t, s, `text "1234"`, "close 1009 (too big): message too big")
	wantEvents(t, r, "open", "error", "close 1009 (too big): message too big")
	var ce *endpoint.CloseError
	if !errors.As(r.errs[0], &ce) || ce.Code != endpoint.CloseTooBig {
		t.Errorf("OnError got %v, want a *CloseError 1009", r.errs[0])
	}
}

func TestSession_invalidUTF8(t *testing.T) {
	r := &recorder{onOpen: echoOpen}
	s := endpointtest.NewSession()
	s.Open(r, nil)
	if err := s.ReceiveText("\xff"); !errors.Is(err, endpointtest.ErrNotUTF8) {
		t.Fatalf("err = %v", err)
	}
	wantEvents(t, r, "open", "error", "close 1007 (not consistent): invalid UTF-8 in text message")

	s = endpointtest.NewSession()
	s.Open(&recorder{onOpen: echoOpen}, nil)
	if err := s.ReceiveTextParts("\xeb", "\xb0\xa9"); err == nil || !s.IsOpen() {
		t.Errorf("parts splitting a code point: err = %v, open = %v", err, s.IsOpen())
	}
}

func TestSession_parts(t *testing.T) {
	r := &recorder{}
	r.onOpen = func(s endpoint.Session) {
		s.SetPartialTextHandler(func(p string, last bool) { r.add("text " + p + map[bool]string{true: "!", false: ""}[last]) })
		s.SetPartialBinaryHandler(func(p []byte, last bool) { r.add("binary " + string(p) + map[bool]string{true: "!", false: ""}[last]) })
	}
	s := endpointtest.NewSession()
	s.Open(r, nil)
	if err := s.ReceiveTextParts("a", "b", "c"); err != nil {
		t.Fatal(err)
	}
	if err := s.ReceiveText("whole"); err != nil {
		t.Fatal(err)
	}
	if err := s.ReceiveBinaryParts([]byte("x"), []byte("y")); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, r, "open", "text a", "text b", "text c!", "text whole!", "binary x", "binary y!")

	// Whole-message handlers get the parts joined.
	r2 := &recorder{onOpen: echoOpen}
	s2 := endpointtest.NewSession()
	s2.Open(r2, nil)
	if err := s2.ReceiveTextParts("a", "b"); err != nil {
		t.Fatal(err)
	}
	if err := s2.ReceiveBinaryParts([]byte{1}, []byte{2}); err != nil {
		t.Fatal(err)
	}
	wantSent(t, s2, `text "ab"`, "binary [1 2]")
}

func TestSession_handlerSlicesArePoisoned(t *testing.T) {
	var kept, keptText []byte
	r := &recorder{onOpen: func(s endpoint.Session) {
		s.SetBinaryHandler(func(b []byte) { kept = b })
		s.SetRawTextHandler(func(b []byte) { keptText = b })
	}}
	s := endpointtest.NewSession()
	s.Open(r, nil)
	in := []byte("abc")
	if err := s.ReceiveBinary(in); err != nil {
		t.Fatal(err)
	}
	if err := s.ReceiveText("xyz"); err != nil {
		t.Fatal(err)
	}
	if string(in) != "abc" {
		t.Error("the test's own slice was modified")
	}
	if string(kept) == "abc" || string(keptText) == "xyz" {
		t.Error("a slice kept past the handler still holds the message; it should be overwritten")
	}
}

func TestSession_pingPong(t *testing.T) {
	var pongs []string
	r := &recorder{}
	s := endpointtest.NewSession()
	s.Open(r, nil)
	if err := s.ReceivePong([]byte("ignored")); err != nil {
		t.Fatal(err)
	}
	s.SetPongHandler(func(b []byte) { pongs = append(pongs, string(b)) })
	if err := s.ReceivePong([]byte("p1")); err != nil {
		t.Fatal(err)
	}
	if err := s.ReceivePong(make([]byte, 126)); !errors.Is(err, endpoint.ErrControlTooLong) {
		t.Errorf("long pong: %v", err)
	}
	if err := s.ReceivePing([]byte("hb")); err != nil {
		t.Fatal(err)
	}
	if err := s.Basic().SendPing([]byte("sp")); err != nil {
		t.Fatal(err)
	}
	if err := s.Basic().SendPong(make([]byte, 126)); !errors.Is(err, endpoint.ErrControlTooLong) {
		t.Errorf("long SendPong: %v", err)
	}
	if !reflect.DeepEqual(pongs, []string{"p1"}) {
		t.Errorf("pongs = %q", pongs)
	}
	wantSent(t, s, "pong [104 98]", "ping [115 112]")
}

func TestSession_batching(t *testing.T) {
	s := endpointtest.NewSession(endpointtest.WithBatchingBufferBytes(6))
	s.Open(&recorder{}, nil)
	b := s.Basic()
	if err := b.SetBatchingAllowed(true); err != nil || !s.Async().BatchingAllowed() {
		t.Fatal("batching not on for both senders")
	}
	_ = b.SendText("ab")
	s.Async().SendBinary([]byte{1}, nil)
	_ = b.SendPing(nil) // control frames are not batched
	wantSent(t, s, "ping []")
	if n := len(s.Batched()); n != 2 {
		t.Fatalf("batched %d, want 2", n)
	}
	_ = s.Async().FlushBatch()
	wantSent(t, s, "ping []", `text "ab"`, "binary [1]")
	s.TakeSent()
	_ = b.SendText("abcdef") // reaches the buffer size: flushed
	wantSent(t, s, `text "abcdef"`)
	s.TakeSent()
	_ = b.SendText("x")
	_ = b.SetBatchingAllowed(false) // flushes
	wantSent(t, s, `text "x"`)
	s.TakeSent()
	_ = b.SetBatchingAllowed(true)
	_ = b.SendText("y")
	_ = s.Close(endpoint.CloseReason{Code: endpoint.CloseNormalClosure}) // flushes first
	wantSent(t, s, `text "y"`, "close 1000 (normal closure)")
}

func TestSession_async(t *testing.T) {
	s := endpointtest.NewSession()
	s.Open(&recorder{}, nil)
	var results []error
	s.Async().SendText("a", func(err error) { results = append(results, err) })
	s.Async().SendText("\xff", func(err error) { results = append(results, err) })
	if err := <-s.Async().SendBinaryFuture([]byte{7}); err != nil {
		t.Error(err)
	}
	if err := <-s.Async().SendTextFuture("f"); err != nil {
		t.Error(err)
	}
	if !reflect.DeepEqual(results, []error{nil, endpoint.ErrInvalidUTF8}) {
		t.Errorf("handler results = %v", results)
	}
	sent := s.Sent()
	if len(sent) != 3 || !sent[0].Async || sent[1].Kind != endpointtest.Binary || sent[2].Text() != "f" {
		t.Errorf("sent = %v", sent)
	}
	if err := s.Basic().SendTextBytes([]byte("\xff")); !errors.Is(err, endpoint.ErrInvalidUTF8) {
		t.Errorf("SendTextBytes invalid = %v", err)
	}
	_ = s.Close(endpoint.CloseReason{Code: endpoint.CloseNormalClosure})
	s.Async().SendText("late", func(err error) { results = append(results, err) })
	if !errors.Is(results[2], endpoint.ErrSessionClosed) {
		t.Errorf("send after close: %v", results[2])
	}
	if err := s.Basic().SendBinary(nil); !errors.Is(err, endpoint.ErrSessionClosed) {
		t.Errorf("Basic send after close: %v", err)
	}
}

func TestSession_endpointCloses(t *testing.T) {
	r := &recorder{}
	r.onOpen = func(s endpoint.Session) {
		s.SetTextHandler(func(text string) {
			_ = s.Close(endpoint.CloseReason{Code: endpoint.CloseViolatedPolicy, Reason: text})
			r.add("handler returns") // OnClose waits for the callback
		})
	}
	s := endpointtest.NewSession()
	s.Open(r, nil)
	if err := s.ReceiveText("bye"); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, r, "open", "handler returns", "close 1008 (violated policy): bye")
	if reason, ok := s.Closed(); !ok || reason.Code != endpoint.CloseViolatedPolicy {
		t.Errorf("Closed() = %v, %v", reason, ok)
	}
	if err := s.Close(endpoint.CloseReason{Code: 1000}); !errors.Is(err, endpoint.ErrSessionClosed) {
		t.Errorf("second Close = %v", err)
	}

	// Outside a callback, OnClose runs before Close returns.
	r2 := &recorder{}
	s2 := endpointtest.NewSession()
	s2.Open(r2, nil)
	if err := s2.Close(endpoint.CloseReason{Code: 42}); !errors.Is(err, endpoint.ErrBadCloseCode) {
		t.Errorf("Close(42) = %v", err)
	}
	if err := s2.Close(endpoint.CloseReason{Code: endpoint.CloseGoingAway, Reason: strings.Repeat("é", 100)}); err != nil {
		t.Fatal(err)
	}
	if len(r2.events) != 2 || !strings.HasPrefix(r2.events[1], "close 1001") {
		t.Errorf("events = %q", r2.events)
	}
	if m := s2.Sent()[0]; len(m.Reason.Reason) > endpoint.MaxCloseReasonBytes {
		t.Errorf("reason not cut: %d bytes", len(m.Reason.Reason))
	}
}

func TestSession_closeInOnOpen(t *testing.T) {
	r := &recorder{onOpen: func(s endpoint.Session) { _ = s.Close(endpoint.CloseReason{Code: endpoint.CloseTryAgainLater}) }}
	s := endpointtest.NewSession()
	s.Open(r, nil)
	wantEvents(t, r, "open", "close 1013 (try again later)")
}

func TestSession_receiveClose(t *testing.T) {
	cases := []struct {
		label string
		in    endpoint.CloseReason
		reply []string
	}{
		{"going_away", endpoint.CloseReason{Code: endpoint.CloseGoingAway, Reason: "tab closed"}, []string{"close 1001 (going away)"}},
		{"no_status", endpoint.CloseReason{Code: endpoint.CloseNoStatusCode}, []string{"close 0"}},
		{"dropped", endpoint.CloseReason{Code: endpoint.CloseClosedAbnormally}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.label, func(t *testing.T) {
			r := &recorder{}
			s := endpointtest.NewSession()
			s.Open(r, nil)
			s.Basic().SetBatchingAllowed(true)
			_ = s.Basic().SendText("lost")
			if err := s.ReceiveClose(tc.in); err != nil {
				t.Fatal(err)
			}
			wantSent(t, s, tc.reply...)
			wantEvents(t, r, "open", "close "+tc.in.String())
			if err := s.ReceiveClose(tc.in); !errors.Is(err, endpoint.ErrSessionClosed) {
				t.Errorf("second ReceiveClose = %v", err)
			}
			wantEvents(t, r, "open", "close "+tc.in.String())
			if s.IsOpen() || len(s.OpenSessions()) != 0 {
				t.Error("still open")
			}
		})
	}
}

func TestSession_panics(t *testing.T) {
	r := &recorder{onOpen: func(s endpoint.Session) {
		s.SetTextHandler(func(text string) { panic("boom: " + text) })
	}}
	s := endpointtest.NewSession()
	s.Open(r, nil)
	func() {
		defer func() {
			if p := recover(); p != "boom: x" {
				t.Errorf("recovered %v, want the handler's panic", p)
			}
		}()
		_ = s.ReceiveText("x")
		t.Error("the panic did not reach the test")
	}()
	// The session is still usable.
	s.SetTextHandler(func(text string) { r.add(text) })
	if err := s.ReceiveText("after"); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, r, "open", "after")
}

func TestSession_withRecover(t *testing.T) {
	r := &recorder{onOpen: func(s endpoint.Session) {
		s.SetTextHandler(func(text string) { panic("boom") })
	}}
	s := endpointtest.NewSession(endpointtest.WithRecover())
	s.Open(r, nil)
	if err := s.ReceiveText("x"); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, r, "open", "error", "close 1011 (unexpected condition): endpoint error")
	var pe *endpoint.PanicError
	if !errors.As(r.errs[0], &pe) || pe.Value != "boom" || len(pe.Stack) == 0 {
		t.Errorf("OnError got %#v", r.errs[0])
	}
	wantSent(t, s, "close 1011 (unexpected condition): endpoint error")
}

func TestSession_options(t *testing.T) {
	hs := fakeHTTPSession{}
	s := endpointtest.NewSession(
		endpointtest.WithID("s1"),
		endpointtest.WithRequestURI("/chat/lobby?nick=ann&x=1"),
		endpointtest.WithUserProperty("k", "v"),
		endpointtest.WithRemoteAddr("10.0.0.1", 0),
		endpointtest.WithHTTPSession(hs),
		endpointtest.WithSubprotocol("chat.v2"),
		endpointtest.WithExtensions("permessage-deflate"),
		endpointtest.WithSecure(),
		endpointtest.WithPrincipal(user("ann")),
	)
	if s.RequestURI().Path != "/chat/lobby" || s.QueryString() != "nick=ann&x=1" || s.RequestParameters().Get("nick") != "ann" {
		t.Errorf("URI %v, query %q", s.RequestURI(), s.QueryString())
	}
	s.Open(&recorder{}, &endpoint.ServerConfig{Path: "/chat/{room}"})
	if got := s.PathParameters(); !reflect.DeepEqual(got, map[string]string{"room": "lobby"}) {
		t.Errorf("PathParameters = %v", got)
	}
	p := s.UserProperties()
	if s.ID() != "s1" || p.String("k") != "v" || p.String(endpoint.PropRemoteAddr) != "10.0.0.1" {
		t.Errorf("ID %q, props %v", s.ID(), p.Keys())
	}
	if _, ok := p.Get(endpoint.PropRemotePort); ok {
		t.Error("port set though unknown")
	}
	if s.HTTPSession() != hs || s.NegotiatedSubprotocol() != "chat.v2" || s.NegotiatedExtensions()[0] != "permessage-deflate" || !s.IsSecure() || s.UserPrincipal().Name() != "ann" {
		t.Error("an option did not take")
	}
	s.SetMaxIdleTimeout(5)
	s.SetMaxBinaryMessageBufferSize(9)
	s.SetMaxTextMessageBufferSize(10)
	if s.MaxIdleTimeout() != 5 || s.MaxBinaryMessageBufferSize() != 9 || s.MaxTextMessageBufferSize() != 10 {
		t.Error("setters did not take")
	}
	if os := s.OpenSessions(); len(os) != 1 || os[0] != endpoint.Session(s) {
		t.Errorf("OpenSessions = %v", os)
	}

	d := endpointtest.NewSession(endpointtest.WithQuery(url.Values{"a": {"b"}}))
	d.Open(&recorder{}, &endpoint.ServerConfig{Path: "/exact"})
	if d.RequestURI().String() != "/exact?a=b" || d.HTTPSession() != nil || d.UserPrincipal() != nil {
		t.Errorf("defaults: URI %v", d.RequestURI())
	}
	if port, _ := d.UserProperties().Get(endpoint.PropRemotePort); port != endpointtest.DefaultRemotePort {
		t.Errorf("default port %v", port)
	}
	if !strings.HasPrefix(d.ID(), "endpointtest-") || d.ID() == endpointtest.NewSession().ID() {
		t.Errorf("default IDs not unique: %q", d.ID())
	}
}

type user string

func (u user) Name() string { return string(u) }

type fakeHTTPSession struct{ endpoint.HTTPSession }

type configurator struct {
	refuse   bool
	instance endpoint.Endpoint
	origins  []string
}

func (c *configurator) ModifyHandshake(req *endpoint.HandshakeRequest, resp *endpoint.HandshakeResponse) error {
	if c.refuse || req.Request.Header.Get("Authorization") == "" {
		return &endpoint.HandshakeError{Status: http.StatusUnauthorized, Reason: "who are you"}
	}
	req.UserProperties.Set("room", req.PathParameters["room"])
	req.Principal = user(strings.TrimPrefix(req.Request.Header.Get("Authorization"), "Bearer "))
	resp.Header.Set("X-Hello", "yes")
	return nil
}

func (c *configurator) CheckOrigin(origin string) bool {
	for _, o := range c.origins {
		if o == origin {
			return true
		}
	}
	return false
}

func (c *configurator) EndpointInstance(*endpoint.HandshakeRequest) (endpoint.Endpoint, error) {
	return c.instance, nil
}

func TestSession_connectConfigurator(t *testing.T) {
	single := &recorder{}
	cf := &configurator{instance: single, origins: []string{"https://ok.example"}}
	cfg := &endpoint.ServerConfig{Path: "/chat/{room}", Configurator: cf, Subprotocols: []string{"v2", "v1"}}
	hdr := http.Header{"Authorization": {"Bearer ann"}, "Origin": {"https://ok.example"}, "Sec-Websocket-Protocol": {"v0, v1", "v2"}}
	s := endpointtest.NewSession(endpointtest.WithRequestURI("/chat/lobby"), endpointtest.WithHeader(hdr))
	ep, err := s.Connect(cfg)
	if err != nil || ep != single {
		t.Fatalf("Connect = %v, %v", ep, err)
	}
	if s.UserPrincipal().Name() != "ann" || s.UserProperties().String("room") != "lobby" || s.HandshakeHeader().Get("X-Hello") != "yes" {
		t.Error("the Configurator's results did not reach the session")
	}
	if s.NegotiatedSubprotocol() != "v1" {
		t.Errorf("subprotocol %q, want the client's first supported one", s.NegotiatedSubprotocol())
	}
	wantEvents(t, single, "open")

	hdr.Set("Origin", "https://evil.example")
	s = endpointtest.NewSession(endpointtest.WithHeader(hdr))
	var he *endpoint.HandshakeError
	if _, err := s.Connect(cfg); !errors.As(err, &he) || he.Status != http.StatusForbidden {
		t.Errorf("bad origin: %v", err)
	}
	cf.origins = append(cf.origins, "https://evil.example")
	cf.refuse = true
	if _, err := s.Connect(cfg); !errors.As(err, &he) || he.Status != http.StatusUnauthorized {
		t.Errorf("refused: %v", err)
	}
	if s.IsOpen() || s.Endpoint() != nil {
		t.Error("a refused session was opened")
	}
}

func TestSession_connectNew(t *testing.T) {
	n := 0
	cfg := &endpoint.ServerConfig{Path: "/x", New: func() endpoint.Endpoint { n++; return &recorder{} }}
	s := endpointtest.NewSession()
	ep, err := s.Connect(cfg)
	if err != nil || n != 1 || s.Endpoint() != ep {
		t.Fatalf("Connect: %v, New called %d times", err, n)
	}
	defer func() {
		if recover() == nil {
			t.Error("opening twice did not panic")
		}
	}()
	s.Open(&recorder{}, cfg)
}

// TestSession_serialised delivers from many goroutines; the handler's
// unsynchronised counter is safe only if callbacks never overlap, which
// the race detector checks.
func TestSession_serialised(t *testing.T) {
	count := 0
	r := &recorder{onOpen: func(s endpoint.Session) {
		s.SetTextHandler(func(string) { count++ })
	}}
	s := endpointtest.NewSession()
	s.Open(r, nil)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				_ = s.ReceiveText("x")
			}
		}()
	}
	wg.Wait()
	if count != 400 {
		t.Errorf("count = %d", count)
	}
}

func TestKind_String(t *testing.T) {
	for k, want := range map[endpointtest.Kind]string{endpointtest.Text: "text", endpointtest.Close: "close", 9: "kind(9)"} {
		if k.String() != want {
			t.Errorf("%d: %q", k, k.String())
		}
	}
}
