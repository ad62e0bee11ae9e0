package annotated

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wsc-dev/wsc/endpoint"
)

// A plan is what Config learns about an endpoint type at deploy time:
// everything a connection needs, so that no lookup is made per connection
// or per message.
type plan struct {
	typ          reflect.Type  // the struct type T
	name         string        // T as the problems name it, e.g. "chat.Chat"
	proto        reflect.Value // *prototype (a T), or invalid for a nil prototype
	path         string
	tmpl         *endpoint.PathTemplate
	subprotocols []string
	maxText      int
	maxBinary    int
	configurator endpoint.Configurator
	inline       bool
	fields       []pathField
	methods      [numMethods]*method // nil where the type has no such method
	decoders     []*codecEntry
	encoders     []*codecEntry
}

// methodID names the endpoint methods.
type methodID int

const (
	mOpen methodID = iota
	mClose
	mError
	mText
	mTextPart
	mBinary
	mBinaryPart
	mPong
	numMethods
)

var methodNames = [numMethods]string{"OnOpen", "OnClose", "OnError", "OnText", "OnTextPart", "OnBinary", "OnBinaryPart", "OnPong"}

func (id methodID) String() string { return methodNames[id] }

func (id methodID) isMessage() bool { return id >= mText }
func (id methodID) isPartial() bool { return id == mTextPart || id == mBinaryPart }
func (id methodID) isText() bool    { return id == mText || id == mTextPart }

// A pathField is a struct field set from a path parameter.
type pathField struct {
	index    int    // field index in T
	name     string // field name
	variable string // path variable
}

// argKind says what goes in one parameter of a method.
type argKind uint8

const (
	argSession argKind = iota
	argConfig
	argReason
	argError
	argPayload
	argLast
)

// payloadKind says how a message becomes the payload parameter.
type payloadKind uint8

const (
	payString  payloadKind = iota // the text as a string
	payBytes                      // the raw bytes (text as UTF-8)
	payReader                     // an io.Reader over the whole message
	payScalar                     // parsed with strconv into a scalar kind
	payDecoded                    // by the first registered decoder that will
)

// resultKind says how a method result is sent.
type resultKind uint8

const (
	sendString  resultKind = iota // as a text message
	sendBytes                     // as a binary message, unless nil
	sendScalar                    // formatted with strconv, as text
	sendEncoder                   // by a registered encoder, unless nil
	sendDynamic                   // an interface: by its dynamic type
)

// A method is an endpoint method bound at deploy time.
type method struct {
	id          methodID
	fn          reflect.Value // the method as a func taking the *T first
	args        []argKind     // what each parameter (after the receiver) is
	payload     payloadKind
	payloadType reflect.Type
	decoders    []*codecEntry // payDecoded: the candidates, in order
	value       int           // index of the sent result, or -1
	err         int           // index of the error result, or -1
	valueType   reflect.Type
	send        resultKind
	encoder     *codecEntry // sendEncoder
}

// A codecEntry is a registered codec with its interfaces asserted once.
type codecEntry struct {
	typ        reflect.Type
	text       TextDecoder
	textStream TextStreamDecoder
	bin        BinaryDecoder
	binStream  BinaryStreamDecoder
	textEnc    TextEncoder
	textSEnc   TextStreamEncoder
	binEnc     BinaryEncoder
	binSEnc    BinaryStreamEncoder
}

func newCodecEntry(c Codec) *codecEntry {
	e := &codecEntry{typ: c.Type()}
	e.text, _ = c.(TextDecoder)
	e.textStream, _ = c.(TextStreamDecoder)
	e.bin, _ = c.(BinaryDecoder)
	e.binStream, _ = c.(BinaryStreamDecoder)
	e.textEnc, _ = c.(TextEncoder)
	e.textSEnc, _ = c.(TextStreamEncoder)
	e.binEnc, _ = c.(BinaryEncoder)
	e.binSEnc, _ = c.(BinaryStreamEncoder)
	return e
}

func (e *codecEntry) decodesText() bool   { return e.text != nil || e.textStream != nil }
func (e *codecEntry) decodesBinary() bool { return e.bin != nil || e.binStream != nil }

var (
	sessionType   = reflect.TypeFor[endpoint.Session]()
	configPtrType = reflect.TypeFor[*endpoint.ServerConfig]()
	reasonType    = reflect.TypeFor[endpoint.CloseReason]()
	errorType     = reflect.TypeFor[error]()
	readerType    = reflect.TypeFor[io.Reader]()
	bytesType     = reflect.TypeFor[[]byte]()
	stringType    = reflect.TypeFor[string]()
	boolType      = reflect.TypeFor[bool]()
	markerType    = reflect.TypeFor[ServerEndpoint]()
)

// build validates an endpoint type and binds its methods. It returns every
// problem found; the plan is nil when the prototype is not a pointer to a
// struct, and otherwise usable only without problems.
func build(prototype any, opts []Option) (*plan, []string) {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	pv := reflect.ValueOf(prototype)
	if !pv.IsValid() {
		return nil, []string{"prototype is nil: pass a pointer to the endpoint struct, such as &Chat{}"}
	}
	if pv.Kind() != reflect.Pointer || pv.Type().Elem().Kind() != reflect.Struct {
		hint := ""
		if pv.Kind() == reflect.Struct {
			hint = fmt.Sprintf(" (pass &%s{})", typeName(pv.Type()))
		}
		return nil, []string{fmt.Sprintf("%s: prototype must be a pointer to a struct%s", typeName(pv.Type()), hint)}
	}
	t := pv.Type().Elem()
	p := &plan{typ: t, name: typeName(t), configurator: o.configurator, inline: o.inline}
	if !pv.IsNil() {
		p.proto = pv.Elem()
	}
	b := &builder{p: p}
	b.marker(&o)
	for _, prob := range o.problems {
		b.addf("%s", prob)
	}
	for _, c := range o.decoders {
		p.decoders = append(p.decoders, newCodecEntry(c))
	}
	for _, c := range o.encoders {
		p.encoders = append(p.encoders, newCodecEntry(c))
	}
	b.pathFields()
	b.methods()
	return p, b.problems
}

// typeName names a type for problems: "chat.Chat", "*chat.Chat", "int".
func typeName(t reflect.Type) string {
	if t == nil {
		return "nil"
	}
	return t.String()
}

// builder collects a plan's problems.
type builder struct {
	p        *plan
	problems []string
}

func (b *builder) addf(format string, args ...any) {
	b.problems = append(b.problems, b.p.name+": "+fmt.Sprintf(format, args...))
}

// marker finds the marker, parses its tag and settles the path,
// subprotocols and limits.
func (b *builder) marker(o *options) {
	p := b.p
	var tags markerTags
	found := false
	for i := 0; i < p.typ.NumField(); i++ {
		f := p.typ.Field(i)
		if !f.Anonymous {
			continue
		}
		switch f.Type {
		case markerType:
			found = true
			var probs []string
			tags, probs = parseMarkerTag(string(f.Tag))
			for _, pr := range probs {
				b.addf("marker tag: %s", pr)
			}
		case reflect.PointerTo(markerType):
			found = true
			b.addf("marker *annotated.ServerEndpoint: embed annotated.ServerEndpoint by value, not as a pointer")
			tags, _ = parseMarkerTag(string(f.Tag))
		}
	}
	if !found {
		b.addf("no annotated.ServerEndpoint marker: embed annotated.ServerEndpoint, with a path tag, in the struct")
	}
	p.path = tags.path
	if o.hasPath {
		p.path = o.path
	}
	switch {
	case !tags.hasPath && !o.hasPath:
		if found {
			b.addf("no path: give the marker a path tag or use WithPath")
		}
	default:
		t, err := endpoint.ParseTemplate(p.path)
		if err != nil {
			reason := err.Error()
			if te, ok := err.(*endpoint.TemplateError); ok {
				reason = te.Reason
			}
			b.addf("path %q: %s", p.path, reason)
		} else {
			p.tmpl = t
		}
	}
	p.subprotocols = tags.subprotocols
	if o.hasSubprotocols {
		p.subprotocols = nil
		for _, s := range o.subprotocols {
			if prob := checkSubprotocol(s, p.subprotocols); prob != "" {
				b.addf("WithSubprotocols: %s", prob)
				continue
			}
			p.subprotocols = append(p.subprotocols, s)
		}
	}
	p.maxText, p.maxBinary = tags.maxText, tags.maxBinary
}

// pathFields finds the fields tagged pathparam.
func (b *builder) pathFields() {
	p := b.p
	for i := 0; i < p.typ.NumField(); i++ {
		f := p.typ.Field(i)
		v, ok := f.Tag.Lookup("pathparam")
		if !ok {
			continue
		}
		switch {
		case !f.IsExported():
			b.addf("field %s: a pathparam field must be exported", f.Name)
		case !isScalar(f.Type.Kind()):
			b.addf("field %s: pathparam field of unsupported type %s (want a string, bool, integer or float kind)", f.Name, typeName(f.Type))
		case v == "":
			b.addf("field %s: empty pathparam name", f.Name)
		case p.tmpl != nil && !hasVar(p.tmpl, v):
			b.addf("field %s: pathparam %q is not a variable of path %q", f.Name, v, p.path)
		default:
			p.fields = append(p.fields, pathField{index: i, name: f.Name, variable: v})
		}
	}
}

func hasVar(t *endpoint.PathTemplate, name string) bool {
	for _, v := range t.Vars() {
		if v == name {
			return true
		}
	}
	return false
}

// methods binds the endpoint methods of *T (which include those declared
// on T, and those promoted from embedded fields) and flags exported methods
// named like callbacks that are not.
func (b *builder) methods() {
	p := b.p
	pt := reflect.PointerTo(p.typ)
	for i := 0; i < pt.NumMethod(); i++ {
		m := pt.Method(i)
		id, ok := lookupMethod(m.Name)
		if !ok {
			if looksLikeCallback(m.Name) {
				b.addf("method %s: not an endpoint method (want OnOpen, OnClose, OnError, OnText, OnTextPart, OnBinary, OnBinaryPart or OnPong)", m.Name)
			}
			continue
		}
		p.methods[id] = b.bind(id, m)
	}
	if p.methods[mText] != nil && p.methods[mTextPart] != nil {
		b.addf("methods OnText and OnTextPart: define one or the other (whole text messages or parts)")
	}
	if p.methods[mBinary] != nil && p.methods[mBinaryPart] != nil {
		b.addf("methods OnBinary and OnBinaryPart: define one or the other (whole binary messages or parts)")
	}
}

func lookupMethod(name string) (methodID, bool) {
	for id, n := range methodNames {
		if n == name {
			return methodID(id), true
		}
	}
	return 0, false
}

// looksLikeCallback reports whether name is "On" followed by an upper-case
// letter, like OnMessage: a likely misspelt endpoint method. OnlineCount
// is not.
func looksLikeCallback(name string) bool {
	rest, ok := strings.CutPrefix(name, "On")
	if !ok || rest == "" {
		return false
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return unicode.IsUpper(r)
}

// want lists what a method's parameters may be, for problems.
var want = [numMethods]string{
	mOpen:       "endpoint.Session or *endpoint.ServerConfig",
	mClose:      "endpoint.Session or endpoint.CloseReason",
	mError:      "endpoint.Session or error",
	mText:       "endpoint.Session and one payload: string, []byte, a scalar, io.Reader or a type with a text decoder",
	mTextPart:   "endpoint.Session, a string part and a bool last flag",
	mBinary:     "endpoint.Session and one payload: []byte, io.Reader or a type with a binary decoder",
	mBinaryPart: "endpoint.Session, a []byte part and a bool last flag",
	mPong:       "endpoint.Session and a []byte payload",
}

// bind checks one method and precomputes how it is called.
func (b *builder) bind(id methodID, rm reflect.Method) *method {
	m := &method{id: id, fn: rm.Func, value: -1, err: -1}
	ft := rm.Type // func(*T, ...)
	where := "method " + id.String()
	bad := false
	fail := func(format string, args ...any) {
		b.addf(where+": "+format, args...)
		bad = true
	}
	if ft.IsVariadic() {
		fail("variadic parameters are not supported")
		return nil
	}
	seen := map[argKind]int{}
	paramFailed := false
	for i := 1; i < ft.NumIn(); i++ {
		at := ft.In(i)
		n := i // parameter number as the author counts them: 1 is the first after the receiver
		kind, prob := b.classify(id, at, m)
		if prob != "" {
			fail("parameter %d: %s", n, prob)
			paramFailed = true
			continue
		}
		if prev, dup := seen[kind]; dup {
			switch kind {
			case argPayload:
				fail("parameters %d and %d are both payloads (%s and %s): a message has one", prev, n, typeName(ft.In(prev)), typeName(at))
			case argLast:
				fail("parameters %d and %d are both bool last flags", prev, n)
			default:
				fail("parameters %d and %d are both %s", prev, n, typeName(at))
			}
			continue
		}
		seen[kind] = n
		m.args = append(m.args, kind)
		if kind == argPayload {
			m.payloadType = at
		}
	}
	if !paramFailed {
		if id.isMessage() && !hasKind(m.args, argPayload) {
			fail("no payload parameter (want %s)", want[id])
		}
		if id.isPartial() && !hasKind(m.args, argLast) {
			fail("no bool last-part parameter")
		}
		if id == mError && !hasKind(m.args, argError) {
			fail("no error parameter")
		}
	}
	b.results(m, ft, fail)
	if bad {
		return nil
	}
	return m
}

func hasKind(args []argKind, k argKind) bool {
	for _, a := range args {
		if a == k {
			return true
		}
	}
	return false
}

// classify says what parameter type at is in method id, and for a payload
// sets m's payload kind and decoders; or it returns the problem.
func (b *builder) classify(id methodID, at reflect.Type, m *method) (argKind, string) {
	switch {
	case at == sessionType:
		return argSession, ""
	case id == mOpen && at == configPtrType:
		return argConfig, ""
	case id == mClose && at == reasonType:
		return argReason, ""
	case id == mError && at == errorType:
		return argError, ""
	case id.isPartial() && at == boolType:
		return argLast, ""
	case !id.isMessage():
		return 0, fmt.Sprintf("unsupported type %s (want %s)", typeName(at), want[id])
	}
	switch id {
	case mText:
		switch {
		case at == readerType:
			m.payload = payReader
		case at == bytesType:
			m.payload = payBytes
		case at == stringType:
			m.payload = payString
		case b.decodersFor(at, true, m):
			m.payload = payDecoded
		case isScalar(at.Kind()):
			m.payload = payScalar
		default:
			return 0, fmt.Sprintf("no text decoder for %s (register one with WithDecoders or WithCodecs)", typeName(at))
		}
	case mBinary:
		switch {
		case at == readerType:
			m.payload = payReader
		case at == bytesType:
			m.payload = payBytes
		case b.decodersFor(at, false, m):
			m.payload = payDecoded
		default:
			return 0, fmt.Sprintf("no binary decoder for %s (register one with WithDecoders or WithCodecs)", typeName(at))
		}
	case mTextPart, mBinaryPart:
		partType, whole := stringType, "OnText"
		if id == mBinaryPart {
			partType, whole = bytesType, "OnBinary"
		}
		switch {
		case at == partType:
			m.payload = payString
			if id == mBinaryPart {
				m.payload = payBytes
			}
		case at == readerType:
			return 0, fmt.Sprintf("io.Reader needs the whole message: use %s", whole)
		case b.decodersFor(at, id == mTextPart, &method{}) || (id == mTextPart && isScalar(at.Kind())):
			return 0, fmt.Sprintf("a decoded %s needs the whole message: use %s", typeName(at), whole)
		default:
			return 0, fmt.Sprintf("unsupported type %s (want %s)", typeName(at), want[id])
		}
	case mPong:
		if at != bytesType {
			return 0, fmt.Sprintf("unsupported type %s (want %s)", typeName(at), want[id])
		}
		m.payload = payBytes
	}
	return argPayload, ""
}

// decodersFor sets m.decoders to the registered text (or binary) decoders
// whose type is assignable to at, and reports whether there is one.
func (b *builder) decodersFor(at reflect.Type, text bool, m *method) bool {
	m.decoders = nil
	for _, d := range b.p.decoders {
		if (text && d.decodesText() || !text && d.decodesBinary()) && d.typ.AssignableTo(at) {
			m.decoders = append(m.decoders, d)
		}
	}
	return len(m.decoders) > 0
}

// results checks a method's results and decides how the sent one is sent.
func (b *builder) results(m *method, ft reflect.Type, fail func(string, ...any)) {
	n := ft.NumOut()
	switch m.id {
	case mOpen:
		if n > 1 || n == 1 && ft.Out(0) != errorType {
			fail("must return nothing or error")
		} else if n == 1 {
			m.err = 0
		}
		return
	case mClose, mError, mPong:
		if n > 0 {
			fail("must return nothing")
		}
		return
	}
	var values []int
	for i := 0; i < n; i++ {
		if ft.Out(i) == errorType {
			if m.err >= 0 {
				fail("two error results")
				return
			}
			m.err = i
			continue
		}
		values = append(values, i)
	}
	if len(values) > 1 {
		fail("more than one result besides error (%d)", len(values))
		return
	}
	if m.err >= 0 && m.err != n-1 {
		fail("error must be the last result")
		return
	}
	if len(values) == 0 {
		return
	}
	m.value = values[0]
	rt := ft.Out(m.value)
	m.valueType = rt
	switch {
	case rt == stringType:
		m.send = sendString
	case rt == bytesType:
		m.send = sendBytes
	case rt.Kind() == reflect.Interface:
		m.send = sendDynamic
	default:
		if e := b.p.encoderFor(rt); e != nil {
			m.send, m.encoder = sendEncoder, e
		} else if isScalar(rt.Kind()) {
			m.send = sendScalar
		} else {
			fail("no encoder for result type %s (register one with WithEncoders or WithCodecs)", typeName(rt))
		}
	}
}

// encoderFor returns the first registered encoder that serves values of
// type t, or nil.
func (p *plan) encoderFor(t reflect.Type) *codecEntry {
	for _, e := range p.encoders {
		if t.AssignableTo(e.typ) {
			return e
		}
	}
	return nil
}
