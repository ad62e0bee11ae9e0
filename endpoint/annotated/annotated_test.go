package annotated_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/endpoint/annotated"
	"github.com/wsc-dev/wsc/endpoint/endpointtest"
)

// events is a shared dependency: the prototype's pointer is copied into
// every instance.
type events struct {
	mu   sync.Mutex
	list []string
}

func (e *events) add(format string, args ...any) {
	e.mu.Lock()
	e.list = append(e.list, fmt.Sprintf(format, args...))
	e.mu.Unlock()
}

func (e *events) take() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.list
	e.list = nil
	return l
}

// errs records what OnError receives.
type errs struct{ list []error }

func (e *errs) OnError(s endpoint.Session, err error) { e.list = append(e.list, err) }

func connect(t *testing.T, cfg *endpoint.ServerConfig, opts ...endpointtest.Option) (*endpointtest.Session, endpoint.Endpoint) {
	t.Helper()
	s := endpointtest.NewSession(opts...)
	ep, err := s.Connect(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, ep
}

func config(t *testing.T, proto any, opts ...annotated.Option) *endpoint.ServerConfig {
	t.Helper()
	cfg, err := annotated.Config(proto, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func wantSent(t *testing.T, s *endpointtest.Session, want ...string) {
	t.Helper()
	var got []string
	for _, m := range s.TakeSent() {
		got = append(got, m.String())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sent %q, want %q", got, want)
	}
}

func wantEvents(t *testing.T, e *events, want ...string) {
	t.Helper()
	if got := e.take(); !reflect.DeepEqual(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

type echo struct {
	annotated.ServerEndpoint `path:"/echo" subprotocols:"echo.v1, echo.v0" maxText:"100" maxBinary:"200"`
	Log                      *events
	n                        int
}

func (e *echo) OnOpen(s endpoint.Session, cfg *endpoint.ServerConfig) { e.Log.add("open %s", cfg.Path) }
func (e *echo) OnText(s endpoint.Session, m string) string            { e.n++; return m }
func (e *echo) OnBinary(b []byte) ([]byte, error)                     { e.n++; return b, nil }
func (e *echo) OnPong(data []byte, s endpoint.Session)                { e.Log.add("pong %s", data) }
func (e *echo) OnClose(r endpoint.CloseReason, s endpoint.Session) {
	e.Log.add("close %d after %d", r.Code, e.n)
}

func TestConfig_echo(t *testing.T) {
	log := &events{}
	cfg := config(t, &echo{Log: log})
	if cfg.Path != "/echo" || !reflect.DeepEqual(cfg.Subprotocols, []string{"echo.v1", "echo.v0"}) ||
		cfg.MaxTextMessageBytes != 100 || cfg.MaxBinaryMessageBytes != 200 || cfg.Configurator != nil {
		t.Errorf("ServerConfig = %+v", cfg)
	}
	s, ep := connect(t, cfg)
	if _, ok := ep.(endpoint.OnErrorer); ok {
		t.Error("the endpoint is an OnErrorer though echo has no OnError")
	}
	if _, ok := ep.(endpoint.OnCloser); !ok {
		t.Error("the endpoint is not an OnCloser though echo has OnClose")
	}
	wantEvents(t, log, "open /echo")
	for _, text := range []string{"hi", ""} {
		if err := s.ReceiveText(text); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ReceiveBinary([]byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReceivePong([]byte("beat")); err != nil {
		t.Fatal(err)
	}
	wantSent(t, s, `text "hi"`, `text ""`, "binary [1 2 3]")
	if err := s.ReceiveClose(endpoint.CloseReason{Code: endpoint.CloseGoingAway}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReceiveClose(endpoint.CloseReason{Code: endpoint.CloseGoingAway}); err == nil {
		t.Error("a second client close was accepted")
	}
	wantEvents(t, log, "pong beat", "close 1001 after 3") // OnClose once
}

func TestConfig_newInstancePerConnection(t *testing.T) {
	log := &events{}
	proto := &echo{Log: log, n: 10}
	cfg := config(t, proto)
	s1, ep1 := connect(t, cfg)
	s2, ep2 := connect(t, cfg)
	_ = s1.ReceiveText("a")
	_ = s1.ReceiveText("b")
	_ = s2.ReceiveText("c")
	e1, e2 := annotated.Instance(ep1).(*echo), annotated.Instance(ep2).(*echo)
	if e1 == e2 || e1 == proto || e2 == proto {
		t.Fatal("instances are shared")
	}
	if e1.Log != log || e2.Log != log {
		t.Error("the shared dependency was not copied from the prototype")
	}
	if e1.n != 12 || e2.n != 11 || proto.n != 10 {
		t.Errorf("per-connection counts %d, %d, prototype %d; want 12, 11, 10", e1.n, e2.n, proto.n)
	}
	if annotated.Instance(endpoint.Base{}) != nil {
		t.Error("Instance of a foreign endpoint is not nil")
	}
	// A nil prototype pointer is the zero prototype.
	cfg = config(t, (*echo)(nil), annotated.WithPath("/zero"))
	_, ep := connect(t, cfg, endpointtest.WithRecover())
	if e := annotated.Instance(ep).(*echo); e.Log != nil || e.n != 0 {
		t.Errorf("zero prototype gave %+v", e)
	}
}

type level int8

type params struct {
	annotated.ServerEndpoint `path:"/p/{name}/{id}/{big}/{ratio}/{on}/{lvl}"`
	Name                     string  `pathparam:"name"`
	ID                       int16   `pathparam:"id"`
	Big                      uint64  `pathparam:"big"`
	Ratio                    float32 `pathparam:"ratio"`
	On                       bool    `pathparam:"on"`
	Lvl                      level   `pathparam:"lvl"`
	Log                      *events
}

func (p *params) OnOpen()                { p.Log.add("open %s", p.Name) }
func (p *params) OnError(err error)      { p.Log.add("error %v", err) }
func (p *params) OnClose()               { p.Log.add("close") }
func (p *params) OnText(s string) string { return p.Name + s }

func TestConfig_pathParams(t *testing.T) {
	log := &events{}
	cfg := config(t, &params{Log: log})
	s, ep := connect(t, cfg, endpointtest.WithRequestURI("/p/ann/-7/18446744073709551615/0.5/true/3"))
	got := *annotated.Instance(ep).(*params)
	want := params{Name: "ann", ID: -7, Big: 18446744073709551615, Ratio: 0.5, On: true, Lvl: 3, Log: log}
	if got != want {
		t.Errorf("fields %+v, want %+v", got, want)
	}
	wantEvents(t, log, "open ann")
	_ = s.ReceiveText("!")
	wantSent(t, s, `text "ann!"`)

	// A value that does not convert: DecodeError to OnError, no OnOpen, no
	// OnClose, closed with 1003.
	s, _ = connect(t, cfg, endpointtest.WithRequestURI("/p/ann/40000/1/1/true/3"))
	ev := log.take()
	if len(ev) != 1 || !strings.HasPrefix(ev[0], `error annotated: path parameter "id" ("40000"): `) {
		t.Errorf("events %q", ev)
	}
	if r, closed := s.Closed(); !closed || r.Code != endpoint.CloseCannotAccept || !strings.HasPrefix(r.Reason, `path parameter "id": `) {
		t.Errorf("closed %v with %v", closed, r)
	}
	if err := s.ReceiveText("x"); !errors.Is(err, endpoint.ErrSessionClosed) {
		t.Errorf("ReceiveText after a bad path parameter: %v", err)
	}
	wantEvents(t, log)
}

func TestConfig_pathParamDecodeError(t *testing.T) {
	type p struct {
		annotated.ServerEndpoint `path:"/b/{on}"`
		On                       bool `pathparam:"on"`
		errs
	}
	cfg := config(t, &p{})
	_, ep := connect(t, cfg, endpointtest.WithRequestURI("/b/maybe"))
	e := annotated.Instance(ep).(*p)
	var de *annotated.DecodeError
	if len(e.list) != 1 || !errors.As(e.list[0], &de) || de.Param != "on" || string(de.Data) != "maybe" || de.Err == nil {
		t.Errorf("OnError got %v", e.list)
	}
}

// point travels as JSON.
type point struct{ X, Y int }

var errNegative = errors.New("negative")

type codecs struct {
	annotated.ServerEndpoint `path:"/codecs"`
	errs
}

func (c *codecs) OnText(s endpoint.Session, p point) (point, error) {
	if p.X < 0 {
		return point{}, errNegative
	}
	return point{p.Y, p.X}, nil
}

type opaque struct{}

func (c *codecs) OnBinary(m msg) any {
	switch m.Body {
	case "text":
		return "t"
	case "bytes":
		return []byte("b")
	case "point":
		return point{1, 2}
	case "int":
		return uint8(7)
	case "nilptr":
		return (*point)(nil)
	case "opaque":
		return opaque{}
	}
	return nil
}

func TestConfig_codecs(t *testing.T) {
	cfg := config(t, &codecs{}, annotated.WithCodecs(annotated.JSON[point]()), annotated.WithDecoders(msgBinary),
		annotated.WithEncoders(annotated.TextEncoderFunc[*point](func(p *point) (string, error) { return "never", nil })))
	s, ep := connect(t, cfg)
	e := annotated.Instance(ep).(*codecs)
	if _, ok := ep.(endpoint.OnErrorer); !ok {
		t.Error("not an OnErrorer")
	}
	_ = s.ReceiveText(`{"X":1,"Y":2}`)
	wantSent(t, s, `text "{\"X\":2,\"Y\":1}"`)

	// A message that does not decode: DecodeError, the session stays open.
	_ = s.ReceiveText(`nope`)
	// A returned error: OnError, nothing sent, the session stays open.
	_ = s.ReceiveText(`{"X":-1}`)
	wantSent(t, s)
	if !s.IsOpen() || len(e.list) != 2 {
		t.Fatalf("open %v, errors %v", s.IsOpen(), e.list)
	}
	var de *annotated.DecodeError
	if !errors.As(e.list[0], &de) || string(de.Data) != "nope" || de.Param != "" {
		t.Errorf("error 0 = %v, want a *DecodeError", e.list[0])
	}
	if e.list[1] != errNegative {
		t.Errorf("error 1 = %v, want the returned error", e.list[1])
	}
	e.list = nil

	// A result of an interface type is sent by its dynamic type.
	for _, body := range []string{"text", "bytes", "point", "int", "nil", "nilptr", "opaque"} {
		if err := s.ReceiveBinary([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	wantSent(t, s, `text "t"`, "binary [98]", `text "{\"X\":1,\"Y\":2}"`, `text "7"`)
	var ee *annotated.EncodeError
	if len(e.list) != 1 || !errors.As(e.list[0], &ee) || !errors.Is(ee, annotated.ErrNoEncoder) {
		t.Errorf("errors %v, want one *EncodeError for opaque", e.list)
	}
}

// prefixDecoder decodes texts that start with its prefix, and will not
// decode others.
type prefixDecoder[T any] struct {
	prefix string
	parse  func(string) (T, error)
}

func (d prefixDecoder[T]) Type() reflect.Type { return reflect.TypeFor[T]() }
func (d prefixDecoder[T]) WillDecodeText(s string) bool {
	return strings.HasPrefix(s, d.prefix)
}
func (d prefixDecoder[T]) DecodeText(s string) (any, error) {
	return d.parse(strings.TrimPrefix(s, d.prefix))
}

type shape interface{ area() int }
type square int
type rect struct{ w, h int }

func (s square) area() int { return int(s * s) }
func (r rect) area() int   { return r.w * r.h }

type shapes struct {
	annotated.ServerEndpoint `path:"/shapes"`
	errs
}

func (*shapes) OnText(s shape) int { return s.area() }

func TestConfig_willDecode(t *testing.T) {
	sq := prefixDecoder[square]{"square ", func(s string) (square, error) {
		var n square
		_, err := fmt.Sscan(s, &n)
		return n, err
	}}
	re := prefixDecoder[rect]{"rect ", func(s string) (rect, error) {
		var r rect
		_, err := fmt.Sscan(s, &r.w, &r.h)
		return r, err
	}}
	cfg := config(t, &shapes{}, annotated.WithDecoders(sq, re))
	s, ep := connect(t, cfg)
	for _, m := range []string{"square 3", "rect 2 5", "circle 1", "square x"} {
		_ = s.ReceiveText(m)
	}
	wantSent(t, s, `text "9"`, `text "10"`)
	e := annotated.Instance(ep).(*shapes)
	if len(e.list) != 2 || !errors.Is(e.list[0], annotated.ErrWillNotDecode) {
		t.Errorf("errors %v", e.list)
	}
	var de *annotated.DecodeError
	if !errors.As(e.list[1], &de) || string(de.Data) != "square x" {
		t.Errorf("error 1 = %v", e.list[1])
	}
}

type words []string

type streams struct {
	annotated.ServerEndpoint `path:"/streams"`
}

func (*streams) OnText(r io.Reader) string {
	b, _ := io.ReadAll(r)
	return strings.ToUpper(string(b))
}

func (*streams) OnBinary(w words) words { return append(w, "!") }

func TestConfig_streams(t *testing.T) {
	dec := annotated.BinaryStreamDecoderFunc[words](func(r io.Reader) (words, error) {
		b, err := io.ReadAll(r)
		return strings.Fields(string(b)), err
	})
	enc := annotated.BinaryStreamEncoderFunc[words](func(w words, out io.Writer) error {
		_, err := io.WriteString(out, strings.Join(w, ","))
		return err
	})
	s, _ := connect(t, config(t, &streams{}, annotated.WithDecoders(dec), annotated.WithEncoders(enc)))
	_ = s.ReceiveText("shout")
	_ = s.ReceiveBinary([]byte("a b"))
	sent := s.TakeSent()
	if len(sent) != 2 || sent[0].Text() != "SHOUT" || sent[1].Kind != endpointtest.Binary || string(sent[1].Data) != "a,b,!" {
		t.Errorf("sent %v", sent)
	}
}

type textStreams struct {
	annotated.ServerEndpoint `path:"/ts"`
	errs
}

func (*textStreams) OnText(p point) point     { return p }
func (*textStreams) OnBinary(b io.Reader) int { n, _ := io.Copy(io.Discard, b); return int(n) }

func TestConfig_textStreamCodecs(t *testing.T) {
	dec := annotated.TextStreamDecoderFunc[point](func(r io.Reader) (point, error) {
		var p point
		_, err := fmt.Fscan(r, &p.X, &p.Y)
		return p, err
	})
	enc := annotated.TextStreamEncoderFunc[point](func(p point, w io.Writer) error {
		if p.X == 0 {
			return errors.New("zero")
		}
		_, err := fmt.Fprintf(w, "%d;%d", p.X, p.Y)
		return err
	})
	s, ep := connect(t, config(t, &textStreams{}, annotated.WithDecoders(dec), annotated.WithEncoders(enc)))
	_ = s.ReceiveText("3 4")
	_ = s.ReceiveText("0 4")
	_ = s.ReceiveBinary(make([]byte, 5))
	wantSent(t, s, `text "3;4"`, `text "5"`)
	var ee *annotated.EncodeError
	if e := annotated.Instance(ep).(*textStreams); len(e.list) != 1 || !errors.As(e.list[0], &ee) || ee.Value != (point{0, 4}) {
		t.Errorf("errors %v", e.list)
	}
}

type counter struct {
	annotated.ServerEndpoint `path:"/count"`
	total                    int64
	errs
}

func (c *counter) OnText(n int64) int64 { c.total += n; return c.total }

type raw struct {
	annotated.ServerEndpoint `path:"/raw"`
}

func (*raw) OnText(b []byte) []byte { return bytes.ToUpper(b) }

func TestConfig_scalarsAndRaw(t *testing.T) {
	s, ep := connect(t, config(t, &counter{}))
	for _, m := range []string{"5", "x", "3"} {
		_ = s.ReceiveText(m)
	}
	wantSent(t, s, `text "5"`, `text "8"`)
	if e := annotated.Instance(ep).(*counter); len(e.list) != 1 || !s.IsOpen() {
		t.Errorf("errors %v", e.list)
	}

	s, _ = connect(t, config(t, &raw{}))
	_ = s.ReceiveText("abc")
	wantSent(t, s, "binary [65 66 67]")
}

type parts struct {
	annotated.ServerEndpoint `path:"/parts"`
	text                     strings.Builder
	got                      []string
}

func (p *parts) OnTextPart(last bool, part string) {
	p.text.WriteString(part)
	if last {
		p.got = append(p.got, p.text.String())
		p.text.Reset()
	}
}

func (p *parts) OnBinaryPart(s endpoint.Session, part []byte, last bool) []byte {
	if !last {
		return nil // nothing sent
	}
	return append([]byte("last:"), part...)
}

func TestConfig_partials(t *testing.T) {
	s, ep := connect(t, config(t, &parts{}))
	_ = s.ReceiveTextParts("a", "b", "c")
	_ = s.ReceiveText("d")
	_ = s.ReceiveBinaryParts([]byte("x"), []byte("y"))
	if p := annotated.Instance(ep).(*parts); !reflect.DeepEqual(p.got, []string{"abc", "d"}) {
		t.Errorf("text parts gave %q", p.got)
	}
	wantSent(t, s, "binary [108 97 115 116 58 121]")
}

type refuser struct {
	annotated.ServerEndpoint `path:"/r"`
	Code                     endpoint.CloseCode
	Log                      *events
}

func (r *refuser) OnOpen() error {
	if r.Code == 0 {
		return errors.New("no")
	}
	return fmt.Errorf("wrapped: %w", &endpoint.CloseError{CloseReason: endpoint.CloseReason{Code: r.Code, Reason: "go away"}})
}
func (r *refuser) OnError(s endpoint.Session, err error) { r.Log.add("error %v", err) }
func (r *refuser) OnClose(s endpoint.Session)            { r.Log.add("close") }

func TestConfig_openError(t *testing.T) {
	for _, tc := range []struct {
		code endpoint.CloseCode
		want endpoint.CloseReason
		err  string
	}{
		{0, endpoint.CloseReason{Code: endpoint.CloseUnexpectedCondition, Reason: "OnOpen failed"}, "error no"},
		{endpoint.CloseViolatedPolicy, endpoint.CloseReason{Code: endpoint.CloseViolatedPolicy, Reason: "go away"}, "error wrapped: endpoint: session closed: 1008 (violated policy): go away"},
	} {
		log := &events{}
		s, _ := connect(t, config(t, &refuser{Code: tc.code, Log: log}))
		wantSent(t, s, "close "+tc.want.String())
		wantEvents(t, log, tc.err, "close")
	}
}

type valueEcho struct {
	annotated.ServerEndpoint `path:"/v"`
	Prefix                   string
}

func (v valueEcho) OnText(s string) string { return v.Prefix + s }

func TestConfig_valueReceiver(t *testing.T) {
	s, _ := connect(t, config(t, &valueEcho{Prefix: "> "}))
	_ = s.ReceiveText("x")
	wantSent(t, s, `text "> x"`)
}

type faults struct {
	annotated.ServerEndpoint `path:"/f"`
	errs
	closes int
}

func (f *faults) OnText(s endpoint.Session, m string) string {
	switch m {
	case "panic":
		panic("boom")
	case "close":
		_ = s.Close(endpoint.CloseReason{Code: endpoint.CloseNormalClosure})
		return "after close" // not sent: the session is closing, and that is no error
	}
	return "\xff" // not UTF-8: the send fails
}

func (f *faults) OnClose(endpoint.CloseReason) { f.closes++ }

func TestConfig_faults(t *testing.T) {
	cfg := config(t, &faults{})
	s, ep := connect(t, cfg, endpointtest.WithRecover())
	f := annotated.Instance(ep).(*faults)
	_ = s.ReceiveText("bad")
	if len(f.list) != 1 || !errors.Is(f.list[0], endpoint.ErrInvalidUTF8) || !s.IsOpen() {
		t.Fatalf("errors %v", f.list)
	}
	_ = s.ReceiveText("panic")
	var pe *endpoint.PanicError
	if len(f.list) != 2 || !errors.As(f.list[1], &pe) || pe.Value != "boom" {
		t.Fatalf("errors %v", f.list)
	}
	wantSent(t, s, "close 1011 (unexpected condition): endpoint error")
	if f.closes != 1 {
		t.Errorf("OnClose called %d times", f.closes)
	}

	s, ep = connect(t, cfg)
	f = annotated.Instance(ep).(*faults)
	_ = s.ReceiveText("close")
	_ = s.ReceiveClose(endpoint.CloseReason{Code: endpoint.CloseNormalClosure})
	wantSent(t, s, "close 1000 (normal closure)")
	if f.closes != 1 || len(f.list) != 0 {
		t.Errorf("OnClose called %d times, errors %v", f.closes, f.list)
	}
}

type quiet struct {
	annotated.ServerEndpoint `path:"/q"`
}

func (*quiet) OnText(n int) {}

// capture is a slog handler that keeps records.
type capture struct {
	mu   sync.Mutex
	msgs []string
}

func (c *capture) Enabled(context.Context, slog.Level) bool { return true }
func (c *capture) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	line := r.Message
	r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	c.msgs = append(c.msgs, line)
	return nil
}
func (c *capture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *capture) WithGroup(string) slog.Handler      { return c }

func TestConfig_errorsWithoutOnErrorAreLogged(t *testing.T) {
	c := &capture{}
	old := slog.Default()
	slog.SetDefault(slog.New(c))
	defer slog.SetDefault(old)
	s, _ := connect(t, config(t, &quiet{}), endpointtest.WithID("q1"))
	_ = s.ReceiveText("seven")
	if len(c.msgs) != 1 || !strings.Contains(c.msgs[0], "type=annotated_test.quiet session=q1 err=") || !s.IsOpen() {
		t.Errorf("logged %q", c.msgs)
	}
}

type hello struct{ annotated.ServerEndpoint }

func (*hello) OnOpen(s endpoint.Session) { _ = s.Basic().SendText("hello " + s.UserPrincipal().Name()) }

type who struct{}

func (who) ModifyHandshake(req *endpoint.HandshakeRequest, _ *endpoint.HandshakeResponse) error {
	req.Principal = name("ann")
	return nil
}

type name string

func (n name) Name() string { return string(n) }

func TestConfig_configurator(t *testing.T) {
	cfg := config(t, &hello{}, annotated.WithPath("/hello"), annotated.WithConfigurator(who{}), annotated.WithSubprotocols("a", "b"))
	if cfg.Configurator != (who{}) || !reflect.DeepEqual(cfg.Subprotocols, []string{"a", "b"}) {
		t.Errorf("ServerConfig = %+v", cfg)
	}
	s, _ := connect(t, cfg)
	wantSent(t, s, `text "hello ann"`)
}

// handlerSession is the least session an endpoint can open on: it keeps
// the text handler and counts what is sent, without allocating.
type handlerSession struct {
	endpoint.Session // nil: other methods are not called
	text             endpoint.TextHandler
	sink             basicSink
}

func (h *handlerSession) SetTextHandler(f endpoint.TextHandler) { h.text = f }
func (h *handlerSession) Basic() endpoint.Basic                 { return &h.sink }

// basicSink counts the bytes of text sent.
type basicSink struct {
	endpoint.Basic // nil
	sent           int
}

func (b *basicSink) SendText(s string) error { b.sent += len(s); return nil }

type fastEcho struct {
	annotated.ServerEndpoint `path:"/fast"`
}

func (*fastEcho) OnText(s endpoint.Session, m string) string { return m }

func openFast(tb testing.TB) *handlerSession {
	cfg, err := annotated.Config(&fastEcho{})
	if err != nil {
		tb.Fatal(err)
	}
	h := &handlerSession{}
	cfg.New().OnOpen(h, cfg)
	if h.text == nil {
		tb.Fatal("no text handler")
	}
	return h
}

// maxEchoAllocs bounds the allocations of one OnText(Session, string)
// string call through the adapter: reflect.Value.Call's result slice and
// the boxed string result. A lookup by name (MethodByName) would cost more,
// as would boxing the arguments.
const maxEchoAllocs = 2

func TestOnText_allocs(t *testing.T) {
	h := openFast(t)
	allocs := testing.AllocsPerRun(1000, func() { h.text("hello") })
	if allocs > maxEchoAllocs {
		t.Errorf("an OnText echo costs %v allocations, want at most %d", allocs, maxEchoAllocs)
	}
	if h.sink.sent != 5*1001 {
		t.Errorf("sent %d bytes", h.sink.sent)
	}
}

// BenchmarkOnText_echo measures one message through the adapter: no
// method lookup, one reflect call.
func BenchmarkOnText_echo(b *testing.B) {
	h := openFast(b)
	b.ReportAllocs()
	for b.Loop() {
		h.text("hello")
	}
}

// BenchmarkNew measures making one connection's endpoint and opening it.
func BenchmarkNew(b *testing.B) {
	cfg, err := annotated.Config(&echo{Log: &events{}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s := endpointtest.NewSession()
		s.Open(cfg.New(), cfg)
	}
}

func TestConfig_inline(t *testing.T) {
	if cfg := config(t, &hello{}, annotated.WithPath("/hello")); cfg.Inline {
		t.Errorf("Inline set without WithInline")
	}
	cfg := config(t, &hello{}, annotated.WithPath("/hello"), annotated.WithConfigurator(who{}), annotated.WithInline())
	if !cfg.Inline || cfg.Configurator != (who{}) {
		t.Errorf("WithInline: ServerConfig = %+v", cfg)
	}
	s, _ := connect(t, cfg)
	wantSent(t, s, `text "hello ann"`)
}
