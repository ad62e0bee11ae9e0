package annotated

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wsc-dev/wsc/endpoint"
)

// An Option changes how [Config] or [With] deploys an endpoint type.
type Option func(*options)

type options struct {
	path            string
	hasPath         bool
	subprotocols    []string
	hasSubprotocols bool
	decoders        []Codec
	encoders        []Codec
	configurator    endpoint.Configurator
	inline          bool
	problems        []string // option misuse, found when the option is applied
}

// WithPath sets the endpoint path, replacing the marker's path tag.
func WithPath(path string) Option {
	return func(o *options) { o.path, o.hasPath = path, true }
}

// WithSubprotocols sets the subprotocols the endpoint speaks, most
// preferred first, replacing the marker's subprotocols tag. Each must be
// an HTTP token.
func WithSubprotocols(protocols ...string) Option {
	return func(o *options) {
		o.subprotocols, o.hasSubprotocols = append([]string(nil), protocols...), true
	}
}

// WithDecoders registers decoders, tried in the order given (after those of
// earlier options). Each must implement at least one of [TextDecoder],
// [TextStreamDecoder], [BinaryDecoder] and [BinaryStreamDecoder].
func WithDecoders(decoders ...Codec) Option {
	return func(o *options) {
		for _, c := range decoders {
			if p := checkCodec("WithDecoders", c, true, false); p != "" {
				o.problems = append(o.problems, p)
				continue
			}
			o.decoders = append(o.decoders, c)
		}
	}
}

// WithEncoders registers encoders, used in the order given. Each must
// implement at least one of [TextEncoder], [TextStreamEncoder],
// [BinaryEncoder] and [BinaryStreamEncoder].
func WithEncoders(encoders ...Codec) Option {
	return func(o *options) {
		for _, c := range encoders {
			if p := checkCodec("WithEncoders", c, false, true); p != "" {
				o.problems = append(o.problems, p)
				continue
			}
			o.encoders = append(o.encoders, c)
		}
	}
}

// WithCodecs registers each codec as a decoder if it implements a decoder
// interface and as an encoder if it implements an encoder interface, as
// for a [JSON] codec.
func WithCodecs(codecs ...Codec) Option {
	return func(o *options) {
		for _, c := range codecs {
			if p := checkCodec("WithCodecs", c, true, true); p != "" {
				o.problems = append(o.problems, p)
				continue
			}
			if isDecoder(c) {
				o.decoders = append(o.decoders, c)
			}
			if isEncoder(c) {
				o.encoders = append(o.encoders, c)
			}
		}
	}
}

// WithConfigurator sets the ServerConfig's Configurator, which customizes
// the handshake (see [endpoint.Configurator]). An
// [endpoint.InstanceProvider] replaces the per-connection instances, and
// must then return endpoints of this package's making (the New of another
// Config), or its own.
func WithConfigurator(c endpoint.Configurator) Option {
	return func(o *options) { o.configurator = c }
}

// WithInline runs the endpoint's methods on the connection's event loop
// ([endpoint.ServerConfig].Inline): no hand-off to the executor, for
// methods that never block. Read Inline's documentation before using it.
func WithInline() Option {
	return func(o *options) { o.inline = true }
}

func isDecoder(c Codec) bool {
	switch c.(type) {
	case TextDecoder, TextStreamDecoder, BinaryDecoder, BinaryStreamDecoder:
		return true
	}
	return false
}

func isEncoder(c Codec) bool {
	switch c.(type) {
	case TextEncoder, TextStreamEncoder, BinaryEncoder, BinaryStreamEncoder:
		return true
	}
	return false
}

// checkCodec returns the problem with a codec given to option, or "".
func checkCodec(option string, c Codec, dec, enc bool) string {
	if c == nil {
		return option + ": nil codec"
	}
	var want []string
	ok := false
	if dec {
		ok = ok || isDecoder(c)
		want = append(want, "TextDecoder, TextStreamDecoder, BinaryDecoder, BinaryStreamDecoder")
	}
	if enc {
		ok = ok || isEncoder(c)
		want = append(want, "TextEncoder, TextStreamEncoder, BinaryEncoder, BinaryStreamEncoder")
	}
	if !ok {
		return fmt.Sprintf("%s: %T implements none of %s", option, c, strings.Join(want, ", "))
	}
	if c.Type() == nil {
		return fmt.Sprintf("%s: %T: Type() returned nil", option, c)
	}
	return ""
}

// ValidationError lists every problem found in the endpoint types given to
// [Config] or [Endpoints]. Each problem names the type and the method,
// field or tag at fault, and the rule broken, as in
//
//	chat.Chat: method OnText: no payload parameter (want string, []byte, a scalar, io.Reader or a type with a text decoder)
type ValidationError struct {
	// Problems are the problems, one sentence each, in the order of the
	// types given and, within a type: prototype, marker tag, path,
	// options, fields, methods.
	Problems []string
}

// Error implements error: the problems, one per line after the first.
func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "annotated: " + e.Problems[0]
	}
	return fmt.Sprintf("annotated: %d problems:\n\t%s", len(e.Problems), strings.Join(e.Problems, "\n\t"))
}

// Config validates the endpoint type of prototype, once, and returns the
// ServerConfig that deploys it. prototype must be a pointer to a struct
// that embeds [ServerEndpoint]; the pointer may be nil, which is the zero
// prototype. Config returns a *[ValidationError] listing every problem of
// the type (and of opts) if there is any.
//
// The ServerConfig's New, which the container calls once per connection on
// an executor goroutine, makes a new instance of the type: a shallow copy
// of *prototype, so that fields holding shared dependencies (pointers,
// maps, channels, funcs) are shared and the others start with the
// prototype's values. The prototype must not be modified once Config has
// been called. See the package documentation for what the returned
// endpoint then does.
func Config(prototype any, opts ...Option) (*endpoint.ServerConfig, error) {
	p, problems := build(prototype, opts)
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return p.serverConfig(), nil
}

// MustConfig is Config for package-level variables: it panics with the
// *ValidationError if the type is malformed.
func MustConfig(prototype any, opts ...Option) *endpoint.ServerConfig {
	c, err := Config(prototype, opts...)
	if err != nil {
		panic(err)
	}
	return c
}

// Prototype is a prototype with options, for [Endpoints]. Make one with
// [With].
type Prototype struct {
	// Value is the prototype, as for Config.
	Value any
	// Options are its options.
	Options []Option
}

// With returns prototype with options, for [Endpoints].
func With(prototype any, opts ...Option) Prototype {
	return Prototype{Value: prototype, Options: opts}
}

// Endpoints validates every prototype as [Config] does and returns their
// ServerConfigs in the same order. Each element is a prototype, or a
// [Prototype] made by [With] to give it options. It also refuses two
// types with the same or equivalent paths. The error, a *[ValidationError],
// lists every problem of every type, so one deployment attempt shows them
// all.
func Endpoints(prototypes ...any) ([]*endpoint.ServerConfig, error) {
	var (
		problems []string
		cfgs     []*endpoint.ServerConfig
		paths    endpoint.TemplateSet[string]
		owners   = map[string]string{} // path as written -> type name
	)
	for _, pr := range prototypes {
		proto, opts := pr, []Option(nil)
		switch w := pr.(type) {
		case Prototype:
			proto, opts = w.Value, w.Options
		case *Prototype:
			if w != nil {
				proto, opts = w.Value, w.Options
			}
		}
		p, probs := build(proto, opts)
		problems = append(problems, probs...)
		if p == nil || p.tmpl == nil {
			continue
		}
		if err := paths.Add(p.tmpl, p.name); err != nil {
			var te *endpoint.TemplateError
			if errors.As(err, &te) {
				problems = append(problems, fmt.Sprintf("%s: path %q: %s, by %s", p.name, p.path, te.Reason, owners[te.Conflict]))
			} else {
				problems = append(problems, fmt.Sprintf("%s: path %q: %v", p.name, p.path, err))
			}
			continue
		}
		owners[p.path] = p.name
		if len(probs) == 0 {
			cfgs = append(cfgs, p.serverConfig())
		}
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return cfgs, nil
}

// serverConfig returns a new ServerConfig for the plan.
func (p *plan) serverConfig() *endpoint.ServerConfig {
	return &endpoint.ServerConfig{
		Path:                  p.path,
		New:                   p.newEndpoint,
		Subprotocols:          append([]string(nil), p.subprotocols...),
		MaxTextMessageBytes:   p.maxText,
		MaxBinaryMessageBytes: p.maxBinary,
		Configurator:          p.configurator,
		Inline:                p.inline,
	}
}

// Instance returns the endpoint value (the *T) behind an endpoint made by
// the New of a ServerConfig from this package, or nil for any other
// endpoint. Tests use it to look at an instance's fields; the container
// never needs it.
func Instance(ep endpoint.Endpoint) any {
	if in := instanceOf(ep); in != nil {
		return in.self.Interface()
	}
	return nil
}
