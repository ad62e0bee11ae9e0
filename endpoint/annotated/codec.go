package annotated

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
)

// A Codec converts between messages and values of one Go type: it is a
// decoder, an encoder, or both, according to which of the interfaces below
// it implements ([TextDecoder], [TextStreamDecoder], [BinaryDecoder],
// [BinaryStreamDecoder], [TextEncoder], [TextStreamEncoder],
// [BinaryEncoder], [BinaryStreamEncoder]). They are JSR 356's
// Decoder.Text, Decoder.TextStream, Decoder.Binary, Decoder.BinaryStream
// and the four Encoder forms.
//
// Codecs are registered per endpoint type with [WithDecoders],
// [WithEncoders] or [WithCodecs], and matched by type at deploy time:
//   - A decoder serves a payload parameter of type P when its Type is
//     assignable to P (so a decoder of *Join serves a parameter of an
//     interface type that *Join implements). For each message, the
//     registered decoders that serve the parameter are tried in order, and
//     the first one that will decode it (WillDecodeText or
//     WillDecodeBinary true; a stream decoder always will) decodes it.
//   - An encoder serves a result of type R when R is assignable to its
//     Type; the first registered one is used. For a result of an interface
//     type, the choice is made for each value by its dynamic type.
//
// Unlike JSR 356, which makes codec instances per session, one Codec value
// serves every session of the endpoint type: its methods are called on
// executor goroutines of many sessions at once and must be safe for
// concurrent use. A codec's methods are never called on the network event
// loop, so they may allocate freely; they should not block.
type Codec interface {
	// Type returns the Go type of the values the codec decodes to or
	// encodes from; it is called once, at deploy time.
	Type() reflect.Type
}

// TextDecoder decodes whole text messages.
type TextDecoder interface {
	Codec
	// WillDecodeText reports whether DecodeText should be tried on text
	// (JSR 356's willDecode); false lets the next decoder try.
	WillDecodeText(text string) bool
	// DecodeText returns the value of text, of the codec's Type (or nil
	// for its zero value). An error is given to the endpoint's OnError in a
	// *[DecodeError]; the session stays open.
	DecodeText(text string) (any, error)
}

// TextStreamDecoder decodes whole text messages from a reader. The reader
// holds the whole message (the session's message size limit applies) and
// is valid only until DecodeTextStream returns.
type TextStreamDecoder interface {
	Codec
	DecodeTextStream(r io.Reader) (any, error)
}

// BinaryDecoder decodes whole binary messages. The slice is valid only
// until the call returns: a decoded value must not keep it.
type BinaryDecoder interface {
	Codec
	// WillDecodeBinary reports whether DecodeBinary should be tried on data.
	WillDecodeBinary(data []byte) bool
	// DecodeBinary returns the value of data, of the codec's Type.
	DecodeBinary(data []byte) (any, error)
}

// BinaryStreamDecoder decodes whole binary messages from a reader, valid
// only until DecodeBinaryStream returns.
type BinaryStreamDecoder interface {
	Codec
	DecodeBinaryStream(r io.Reader) (any, error)
}

// TextEncoder encodes values as text messages. v holds a value of the
// codec's Type (or nil for a nil interface value).
type TextEncoder interface {
	Codec
	EncodeText(v any) (string, error)
}

// TextStreamEncoder encodes values as text messages by writing them; the
// message is sent once EncodeTextStream has returned nil, whole.
type TextStreamEncoder interface {
	Codec
	EncodeTextStream(v any, w io.Writer) error
}

// BinaryEncoder encodes values as binary messages. The returned slice is
// the encoder's to reuse once the message has been sent.
type BinaryEncoder interface {
	Codec
	EncodeBinary(v any) ([]byte, error)
}

// BinaryStreamEncoder encodes values as binary messages by writing them;
// the message is sent once EncodeBinaryStream has returned nil, whole.
type BinaryStreamEncoder interface {
	Codec
	EncodeBinaryStream(v any, w io.Writer) error
}

// Errors found at run time.
var (
	// ErrWillNotDecode is the Err of the *DecodeError given to OnError when
	// no registered decoder will decode a message.
	ErrWillNotDecode = errors.New("annotated: no decoder will decode the message")
	// ErrNoEncoder is the Err of the *EncodeError given to OnError when a
	// result of an interface type holds a value that no encoder serves and
	// that is not a string, a []byte or a scalar.
	ErrNoEncoder = errors.New("annotated: no encoder for the value")
)

// DecodeError reports a message or a path parameter that could not be
// decoded (JSR 356's DecodeException). It is given to the endpoint's
// OnError, on the session's executor goroutine. After a message, the
// session stays open and the message is dropped; after a path parameter,
// OnOpen is not called and the session is closed with
// [endpoint.CloseCannotAccept].
type DecodeError struct {
	// Data is the message (text as UTF-8 bytes) or the path parameter's
	// value; it is the error's own copy.
	Data []byte
	// Param is the path variable whose value did not convert, or "" for a
	// message.
	Param string
	// Err is the decoder's or the conversion's error.
	Err error
}

// Error implements error.
func (e *DecodeError) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("annotated: path parameter %q (%q): %v", e.Param, e.Data, e.Err)
	}
	return fmt.Sprintf("annotated: cannot decode a %d-byte message: %v", len(e.Data), e.Err)
}

// Unwrap returns Err.
func (e *DecodeError) Unwrap() error { return e.Err }

// EncodeError reports a method result that could not be encoded (JSR 356's
// EncodeException). It is given to the endpoint's OnError; nothing is sent
// and the session stays open.
type EncodeError struct {
	// Value is the result that was not encoded.
	Value any
	// Err is the encoder's error, or [ErrNoEncoder].
	Err error
}

// Error implements error.
func (e *EncodeError) Error() string {
	return fmt.Sprintf("annotated: cannot encode %T: %v", e.Value, e.Err)
}

// Unwrap returns Err.
func (e *EncodeError) Unwrap() error { return e.Err }

// TextDecoderFunc makes a [TextDecoder] of T from a function that parses
// text, as in annotated.TextDecoderFunc[Point](parsePoint). It will decode
// every message.
type TextDecoderFunc[T any] func(text string) (T, error)

// Type returns T.
func (TextDecoderFunc[T]) Type() reflect.Type { return reflect.TypeFor[T]() }

// WillDecodeText returns true.
func (TextDecoderFunc[T]) WillDecodeText(string) bool { return true }

// DecodeText calls f.
func (f TextDecoderFunc[T]) DecodeText(text string) (any, error) { return box(f(text)) }

// TextStreamDecoderFunc makes a [TextStreamDecoder] of T from a function.
type TextStreamDecoderFunc[T any] func(r io.Reader) (T, error)

// Type returns T.
func (TextStreamDecoderFunc[T]) Type() reflect.Type { return reflect.TypeFor[T]() }

// DecodeTextStream calls f.
func (f TextStreamDecoderFunc[T]) DecodeTextStream(r io.Reader) (any, error) { return box(f(r)) }

// BinaryDecoderFunc makes a [BinaryDecoder] of T from a function. It will
// decode every message; the slice it gets is valid only until it returns.
type BinaryDecoderFunc[T any] func(data []byte) (T, error)

// Type returns T.
func (BinaryDecoderFunc[T]) Type() reflect.Type { return reflect.TypeFor[T]() }

// WillDecodeBinary returns true.
func (BinaryDecoderFunc[T]) WillDecodeBinary([]byte) bool { return true }

// DecodeBinary calls f.
func (f BinaryDecoderFunc[T]) DecodeBinary(data []byte) (any, error) { return box(f(data)) }

// BinaryStreamDecoderFunc makes a [BinaryStreamDecoder] of T from a
// function.
type BinaryStreamDecoderFunc[T any] func(r io.Reader) (T, error)

// Type returns T.
func (BinaryStreamDecoderFunc[T]) Type() reflect.Type { return reflect.TypeFor[T]() }

// DecodeBinaryStream calls f.
func (f BinaryStreamDecoderFunc[T]) DecodeBinaryStream(r io.Reader) (any, error) { return box(f(r)) }

// TextEncoderFunc makes a [TextEncoder] of T from a function.
type TextEncoderFunc[T any] func(v T) (string, error)

// Type returns T.
func (TextEncoderFunc[T]) Type() reflect.Type { return reflect.TypeFor[T]() }

// EncodeText calls f.
func (f TextEncoderFunc[T]) EncodeText(v any) (string, error) {
	t, err := unbox[T](v)
	if err != nil {
		return "", err
	}
	return f(t)
}

// TextStreamEncoderFunc makes a [TextStreamEncoder] of T from a function.
type TextStreamEncoderFunc[T any] func(v T, w io.Writer) error

// Type returns T.
func (TextStreamEncoderFunc[T]) Type() reflect.Type { return reflect.TypeFor[T]() }

// EncodeTextStream calls f.
func (f TextStreamEncoderFunc[T]) EncodeTextStream(v any, w io.Writer) error {
	t, err := unbox[T](v)
	if err != nil {
		return err
	}
	return f(t, w)
}

// BinaryEncoderFunc makes a [BinaryEncoder] of T from a function.
type BinaryEncoderFunc[T any] func(v T) ([]byte, error)

// Type returns T.
func (BinaryEncoderFunc[T]) Type() reflect.Type { return reflect.TypeFor[T]() }

// EncodeBinary calls f.
func (f BinaryEncoderFunc[T]) EncodeBinary(v any) ([]byte, error) {
	t, err := unbox[T](v)
	if err != nil {
		return nil, err
	}
	return f(t)
}

// BinaryStreamEncoderFunc makes a [BinaryStreamEncoder] of T from a
// function.
type BinaryStreamEncoderFunc[T any] func(v T, w io.Writer) error

// Type returns T.
func (BinaryStreamEncoderFunc[T]) Type() reflect.Type { return reflect.TypeFor[T]() }

// EncodeBinaryStream calls f.
func (f BinaryStreamEncoderFunc[T]) EncodeBinaryStream(v any, w io.Writer) error {
	t, err := unbox[T](v)
	if err != nil {
		return err
	}
	return f(t, w)
}

// JSONCodec is a text decoder and encoder of T with encoding/json. Make one
// with [JSON]; register it with [WithCodecs] (both directions),
// [WithDecoders] or [WithEncoders].
type JSONCodec[T any] struct{}

// JSON returns a JSON text codec for T: messages are decoded with
// json.Unmarshal into a new T, and results encoded with json.Marshal. It
// will decode every message, so it should be the last decoder registered
// for a parameter type that others also serve.
func JSON[T any]() JSONCodec[T] { return JSONCodec[T]{} }

// Type returns T.
func (JSONCodec[T]) Type() reflect.Type { return reflect.TypeFor[T]() }

// WillDecodeText returns true.
func (JSONCodec[T]) WillDecodeText(string) bool { return true }

// DecodeText unmarshals text into a T.
func (JSONCodec[T]) DecodeText(text string) (any, error) {
	var v T
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return nil, err
	}
	return v, nil
}

// EncodeText marshals v.
func (JSONCodec[T]) EncodeText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

var (
	_ TextDecoder         = TextDecoderFunc[int](nil)
	_ TextStreamDecoder   = TextStreamDecoderFunc[int](nil)
	_ BinaryDecoder       = BinaryDecoderFunc[int](nil)
	_ BinaryStreamDecoder = BinaryStreamDecoderFunc[int](nil)
	_ TextEncoder         = TextEncoderFunc[int](nil)
	_ TextStreamEncoder   = TextStreamEncoderFunc[int](nil)
	_ BinaryEncoder       = BinaryEncoderFunc[int](nil)
	_ BinaryStreamEncoder = BinaryStreamEncoderFunc[int](nil)
	_ TextDecoder         = JSONCodec[int]{}
	_ TextEncoder         = JSONCodec[int]{}
)

// box turns a func's (T, error) into (any, error), with a nil any for an
// error.
func box[T any](v T, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return v, nil
}

// unbox takes a T out of v; nil is T's zero value.
func unbox[T any](v any) (T, error) {
	if v == nil {
		var zero T
		return zero, nil
	}
	t, ok := v.(T)
	if !ok {
		return t, fmt.Errorf("annotated: encoder of %v given a %T", reflect.TypeFor[T](), v)
	}
	return t, nil
}

// Scalars: the kinds converted with strconv, for payloads, results and
// path parameters.

func isScalar(k reflect.Kind) bool {
	switch k {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// setScalar parses s into v, a settable value of a scalar kind, as
// strconv does (no spaces, base 10).
func setScalar(v reflect.Value, s string) error {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("annotated: %v is not a scalar", v.Type())
	}
	return nil
}

// formatScalar formats v, of a scalar kind, as setScalar parses it.
func formatScalar(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, v.Type().Bits())
	}
	return ""
}
