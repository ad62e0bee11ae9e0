package annotated

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"

	"github.com/wsc-dev/wsc/endpoint"
)

// An instance is one connection's endpoint: the user's *T and the
// per-connection state of its calls. The container calls it one callback
// at a time, so its scratch values are reused without locks.
type instance struct {
	p      *plan
	self   reflect.Value // the *T
	sess   endpoint.Session
	sessV  reflect.Value // an addressable endpoint.Session holding sess
	calls  [numMethods]*call
	opened bool // the user's OnOpen has been called (or there is none)
	reader bytes.Reader
}

// A call is the scratch of one method of one instance: its argument slice,
// filled once with the receiver and the session, and settable values whose
// contents change per message, so that a call costs no lookup and no
// boxing of the payload.
type call struct {
	m       *method
	args    []reflect.Value
	payload reflect.Value // settable, of the payload type (not for payDecoded)
	pi      int           // index of the payload in args
	last    reflect.Value // settable bool
	reason  reflect.Value // settable endpoint.CloseReason
	err     reflect.Value // settable error
	config  reflect.Value // settable *endpoint.ServerConfig
}

// The endpoint adapters: the container sees OnCloser and OnErrorer only when
// the user's type has OnClose and OnError.
type (
	adapter           struct{ in *instance }
	adapterCloser     struct{ adapter }
	adapterErrorer    struct{ adapter }
	adapterCloseError struct{ adapter }
)

var (
	_ endpoint.Endpoint  = adapter{}
	_ endpoint.OnCloser  = adapterCloser{}
	_ endpoint.OnErrorer = adapterErrorer{}
	_ endpoint.OnCloser  = adapterCloseError{}
	_ endpoint.OnErrorer = adapterCloseError{}
)

// OnOpen implements endpoint.Endpoint.
func (a adapter) OnOpen(s endpoint.Session, cfg *endpoint.ServerConfig) { a.in.open(s, cfg) }

// OnClose implements endpoint.OnCloser.
func (a adapterCloser) OnClose(s endpoint.Session, r endpoint.CloseReason) { a.in.close(r) }

// OnError implements endpoint.OnErrorer.
func (a adapterErrorer) OnError(s endpoint.Session, err error) { a.in.userError(err) }

// OnClose implements endpoint.OnCloser.
func (a adapterCloseError) OnClose(s endpoint.Session, r endpoint.CloseReason) { a.in.close(r) }

// OnError implements endpoint.OnErrorer.
func (a adapterCloseError) OnError(s endpoint.Session, err error) { a.in.userError(err) }

func instanceOf(ep endpoint.Endpoint) *instance {
	switch a := ep.(type) {
	case adapter:
		return a.in
	case adapterCloser:
		return a.in
	case adapterErrorer:
		return a.in
	case adapterCloseError:
		return a.in
	}
	return nil
}

// newEndpoint is the ServerConfig's New: a new *T, a shallow copy of the
// prototype, behind the adapter that fits its methods.
func (p *plan) newEndpoint() endpoint.Endpoint {
	in := &instance{p: p, self: reflect.New(p.typ)}
	if p.proto.IsValid() {
		in.self.Elem().Set(p.proto)
	}
	a := adapter{in}
	switch closes, errs := p.methods[mClose] != nil, p.methods[mError] != nil; {
	case closes && errs:
		return adapterCloseError{a}
	case closes:
		return adapterCloser{a}
	case errs:
		return adapterErrorer{a}
	}
	return a
}

// prepare makes the scratch of method m.
func (in *instance) prepare(m *method) *call {
	c := &call{m: m, args: make([]reflect.Value, len(m.args)+1)}
	c.args[0] = in.self
	for i, k := range m.args {
		j := i + 1
		switch k {
		case argSession:
			c.args[j] = in.sessV
		case argConfig:
			c.config = reflect.New(configPtrType).Elem()
			c.args[j] = c.config
		case argReason:
			c.reason = reflect.New(reasonType).Elem()
			c.args[j] = c.reason
		case argError:
			c.err = reflect.New(errorType).Elem()
			c.args[j] = c.err
		case argLast:
			c.last = reflect.New(boolType).Elem()
			c.args[j] = c.last
		case argPayload:
			c.pi = j
			if m.payload != payDecoded {
				c.payload = reflect.New(m.payloadType).Elem()
				c.args[j] = c.payload
			}
			if m.payload == payReader {
				c.payload.Set(reflect.ValueOf(&in.reader))
			}
		}
	}
	return c
}

// open is the endpoint's OnOpen: set the path parameter fields, register
// the message handlers, then call the user's OnOpen.
func (in *instance) open(s endpoint.Session, cfg *endpoint.ServerConfig) {
	p := in.p
	in.sess = s
	in.sessV = reflect.ValueOf(&in.sess).Elem()
	for id, m := range p.methods {
		if m != nil {
			in.calls[id] = in.prepare(m)
		}
	}
	if len(p.fields) > 0 {
		params := s.PathParameters()
		elem := in.self.Elem()
		for _, f := range p.fields {
			v := params[f.variable]
			if err := setScalar(elem.Field(f.index), v); err != nil {
				in.deliver(&DecodeError{Data: []byte(v), Param: f.variable, Err: err})
				why := fmt.Sprintf("path parameter %q: %v", f.variable, err)
				_ = s.Close(endpoint.CloseReason{Code: endpoint.CloseCannotAccept, Reason: clipReason(why)})
				return
			}
		}
	}
	in.register(s)
	in.opened = true
	c := in.calls[mOpen]
	if c == nil {
		return
	}
	if c.config.IsValid() {
		c.config.Set(reflect.ValueOf(cfg))
	}
	out := c.m.fn.Call(c.args)
	if c.m.err < 0 {
		return
	}
	if ev := out[c.m.err]; !ev.IsNil() {
		err := ev.Interface().(error)
		in.deliver(err)
		r := endpoint.CloseReason{Code: endpoint.CloseUnexpectedCondition, Reason: "OnOpen failed"}
		var ce *endpoint.CloseError
		if errors.As(err, &ce) && ce.Code.Sendable() {
			r = ce.CloseReason
			r.Reason = clipReason(r.Reason)
		}
		_ = s.Close(r)
	}
}

// clipReason cuts a close reason to what a close frame holds.
func clipReason(s string) string {
	n := endpoint.MaxCloseReasonBytes
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// register sets the session's handlers for the message methods.
func (in *instance) register(s endpoint.Session) {
	if c := in.calls[mText]; c != nil {
		switch c.m.payload {
		case payString:
			s.SetTextHandler(func(text string) {
				c.payload.SetString(text)
				in.invoke(c)
			})
		case payBytes:
			s.SetRawTextHandler(func(text []byte) {
				c.payload.SetBytes(text)
				in.invoke(c)
				c.payload.SetBytes(nil)
			})
		case payReader:
			s.SetRawTextHandler(func(text []byte) {
				in.reader.Reset(text)
				in.invoke(c)
				in.reader.Reset(nil)
			})
		case payScalar:
			s.SetTextHandler(func(text string) {
				if err := setScalar(c.payload, text); err != nil {
					in.deliver(&DecodeError{Data: []byte(text), Err: err})
					return
				}
				in.invoke(c)
			})
		case payDecoded:
			s.SetTextHandler(func(text string) {
				v, err := in.decodeText(c.m, text)
				if err != nil {
					in.deliver(&DecodeError{Data: []byte(text), Err: err})
					return
				}
				c.args[c.pi] = v
				in.invoke(c)
				c.args[c.pi] = reflect.Value{}
			})
		}
	}
	if c := in.calls[mTextPart]; c != nil {
		s.SetPartialTextHandler(func(part string, last bool) {
			c.payload.SetString(part)
			c.last.SetBool(last)
			in.invoke(c)
		})
	}
	if c := in.calls[mBinary]; c != nil {
		switch c.m.payload {
		case payBytes:
			s.SetBinaryHandler(func(data []byte) {
				c.payload.SetBytes(data)
				in.invoke(c)
				c.payload.SetBytes(nil)
			})
		case payReader:
			s.SetBinaryHandler(func(data []byte) {
				in.reader.Reset(data)
				in.invoke(c)
				in.reader.Reset(nil)
			})
		case payDecoded:
			s.SetBinaryHandler(func(data []byte) {
				v, err := in.decodeBinary(c.m, data)
				if err != nil {
					in.deliver(&DecodeError{Data: append([]byte(nil), data...), Err: err})
					return
				}
				c.args[c.pi] = v
				in.invoke(c)
				c.args[c.pi] = reflect.Value{}
			})
		}
	}
	if c := in.calls[mBinaryPart]; c != nil {
		s.SetPartialBinaryHandler(func(part []byte, last bool) {
			c.payload.SetBytes(part)
			c.last.SetBool(last)
			in.invoke(c)
			c.payload.SetBytes(nil)
		})
	}
	if c := in.calls[mPong]; c != nil {
		s.SetPongHandler(func(data []byte) {
			c.payload.SetBytes(data)
			in.invoke(c)
			c.payload.SetBytes(nil)
		})
	}
}

// decodeText decodes a text message for m with the first of its decoders
// that will.
func (in *instance) decodeText(m *method, text string) (reflect.Value, error) {
	for _, d := range m.decoders {
		switch {
		case d.text != nil:
			if d.text.WillDecodeText(text) {
				v, err := d.text.DecodeText(text)
				return decoded(m, d, v, err)
			}
		case d.textStream != nil:
			v, err := d.textStream.DecodeTextStream(strings.NewReader(text))
			return decoded(m, d, v, err)
		}
	}
	return reflect.Value{}, ErrWillNotDecode
}

// decodeBinary decodes a binary message for m with the first of its
// decoders that will.
func (in *instance) decodeBinary(m *method, data []byte) (reflect.Value, error) {
	for _, d := range m.decoders {
		switch {
		case d.bin != nil:
			if d.bin.WillDecodeBinary(data) {
				v, err := d.bin.DecodeBinary(data)
				return decoded(m, d, v, err)
			}
		case d.binStream != nil:
			v, err := d.binStream.DecodeBinaryStream(bytes.NewReader(data))
			return decoded(m, d, v, err)
		}
	}
	return reflect.Value{}, ErrWillNotDecode
}

// decoded checks a decoder's value against the payload type.
func decoded(m *method, d *codecEntry, v any, err error) (reflect.Value, error) {
	if err != nil {
		return reflect.Value{}, err
	}
	if v == nil {
		return reflect.Zero(m.payloadType), nil
	}
	rv := reflect.ValueOf(v)
	if !rv.Type().AssignableTo(m.payloadType) {
		return reflect.Value{}, fmt.Errorf("annotated: decoder of %s returned a %s, not a %s", typeName(d.typ), typeName(rv.Type()), typeName(m.payloadType))
	}
	return rv, nil
}

// invoke calls a message method and handles its results: an error goes to
// OnError, a value is sent.
func (in *instance) invoke(c *call) {
	out := c.m.fn.Call(c.args)
	m := c.m
	if m.err >= 0 {
		if ev := out[m.err]; !ev.IsNil() {
			in.deliver(ev.Interface().(error))
			return
		}
	}
	if m.value >= 0 {
		in.send(m, out[m.value])
	}
}

// send sends a method's result back on the session with Basic.
func (in *instance) send(m *method, v reflect.Value) {
	switch m.send {
	case sendString:
		in.sent(in.sess.Basic().SendText(v.String()))
	case sendBytes:
		if !v.IsNil() {
			in.sent(in.sess.Basic().SendBinary(v.Bytes()))
		}
	case sendScalar:
		in.sent(in.sess.Basic().SendText(formatScalar(v)))
	case sendEncoder:
		if !isNil(v) {
			in.encode(m.encoder, v)
		}
	case sendDynamic:
		if !v.IsNil() {
			in.sendValue(v.Elem())
		}
	}
}

// sendValue sends the dynamic value of an interface result.
func (in *instance) sendValue(v reflect.Value) {
	t := v.Type()
	switch {
	case t == stringType:
		in.sent(in.sess.Basic().SendText(v.String()))
	case t == bytesType:
		if !v.IsNil() {
			in.sent(in.sess.Basic().SendBinary(v.Bytes()))
		}
	default:
		if e := in.p.encoderFor(t); e != nil {
			if !isNil(v) {
				in.encode(e, v)
			}
		} else if isScalar(t.Kind()) {
			in.sent(in.sess.Basic().SendText(formatScalar(v)))
		} else {
			in.deliver(&EncodeError{Value: v.Interface(), Err: ErrNoEncoder})
		}
	}
}

// isNil reports whether v is a nil pointer, map, slice, func, chan or
// interface.
func isNil(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return v.IsNil()
	}
	return false
}

// encode sends v with encoder e: text if it encodes text, else binary.
func (in *instance) encode(e *codecEntry, v reflect.Value) {
	x := v.Interface()
	var err error
	switch {
	case e.textEnc != nil:
		var s string
		if s, err = e.textEnc.EncodeText(x); err == nil {
			in.sent(in.sess.Basic().SendText(s))
			return
		}
	case e.textSEnc != nil:
		var sb strings.Builder
		if err = e.textSEnc.EncodeTextStream(x, &sb); err == nil {
			in.sent(in.sess.Basic().SendText(sb.String()))
			return
		}
	case e.binEnc != nil:
		var b []byte
		if b, err = e.binEnc.EncodeBinary(x); err == nil {
			in.sent(in.sess.Basic().SendBinary(b))
			return
		}
	case e.binSEnc != nil:
		var buf bytes.Buffer
		if err = e.binSEnc.EncodeBinaryStream(x, &buf); err == nil {
			in.sent(in.sess.Basic().SendBinary(buf.Bytes()))
			return
		}
	}
	in.deliver(&EncodeError{Value: x, Err: err})
}

// sent reports a failed send to OnError, except that the session closed:
// OnClose tells of that.
func (in *instance) sent(err error) {
	if err != nil && !errors.Is(err, endpoint.ErrSessionClosed) {
		in.deliver(err)
	}
}

// deliver gives an error found by the adapter (a returned error, a
// DecodeError, an EncodeError, a failed send) to the user's OnError, or
// logs it with slog.Default when the type has none.
func (in *instance) deliver(err error) {
	if in.calls[mError] == nil {
		slog.Default().Error("annotated: endpoint error (the endpoint type has no OnError method)",
			"type", in.p.name, "session", in.sess.ID(), "err", err)
		return
	}
	in.userError(err)
}

// userError calls the user's OnError.
func (in *instance) userError(err error) {
	c := in.calls[mError]
	if c == nil || err == nil {
		return
	}
	c.err.Set(reflect.ValueOf(err))
	c.m.fn.Call(c.args)
	c.err.SetZero()
}

// close calls the user's OnClose, if the user's OnOpen was called.
func (in *instance) close(r endpoint.CloseReason) {
	c := in.calls[mClose]
	if c == nil || !in.opened {
		return
	}
	if c.reason.IsValid() {
		c.reason.Set(reflect.ValueOf(r))
	}
	c.m.fn.Call(c.args)
}
