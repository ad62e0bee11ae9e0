package annotated_test

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/endpoint/annotated"
)

// msg is a payload type; msgDecoder decodes it from text and binary.
type msg struct{ Body string }

var (
	msgText   = annotated.TextDecoderFunc[msg](func(s string) (msg, error) { return msg{s}, nil })
	msgBinary = annotated.BinaryDecoderFunc[msg](func(b []byte) (msg, error) { return msg{string(b)}, nil })
)

// typeOnly is a Codec that is neither a decoder nor an encoder.
type typeOnly struct{}

func (typeOnly) Type() reflect.Type { return reflect.TypeFor[msg]() }

// The malformed endpoint types, one rule each unless named otherwise.

type noMarker struct{}

type markerPtr struct {
	*annotated.ServerEndpoint `path:"/a"`
}

type noPath struct {
	annotated.ServerEndpoint `maxText:"10"`
}

type relPath struct {
	annotated.ServerEndpoint `path:"chat"`
}

type emptyVar struct {
	annotated.ServerEndpoint `path:"/a/{}"`
}

type badMaxText struct {
	annotated.ServerEndpoint `path:"/a" maxText:"64k"`
}

type unknownKey struct {
	annotated.ServerEndpoint `path:"/a" maxtext:"5"`
}

type badSubprotocol struct {
	annotated.ServerEndpoint `path:"/a" subprotocols:"chat v2"`
}

type textTwice struct {
	annotated.ServerEndpoint `path:"/a"`
}

func (*textTwice) OnText(string)           {}
func (*textTwice) OnTextPart(string, bool) {}

type binaryTwice struct {
	annotated.ServerEndpoint `path:"/a"`
}

func (*binaryTwice) OnBinary([]byte)           {}
func (*binaryTwice) OnBinaryPart([]byte, bool) {}

type noPayload struct {
	annotated.ServerEndpoint `path:"/a"`
}

func (*noPayload) OnText(endpoint.Session) {}

type twoPayloads struct {
	annotated.ServerEndpoint `path:"/a"`
}

func (*twoPayloads) OnText(s endpoint.Session, a string, b int) {}

type readerPart struct {
	annotated.ServerEndpoint `path:"/a"`
}

func (*readerPart) OnTextPart(r io.Reader, last bool) {}

type decodedPart struct {
	annotated.ServerEndpoint `path:"/a"`
}

func (*decodedPart) OnBinaryPart(m msg, last bool) {}

type noDecoder struct {
	annotated.ServerEndpoint `path:"/a"`
}

func (*noDecoder) OnText(m msg) {}

type noBinaryDecoder struct {
	annotated.ServerEndpoint `path:"/a"`
}

func (*noBinaryDecoder) OnBinary(s endpoint.Session, m msg) {}

type errorWithoutError struct {
	annotated.ServerEndpoint `path:"/a"`
}

func (*errorWithoutError) OnError(s endpoint.Session) {}

type unknownParam struct {
	annotated.ServerEndpoint `path:"/a"`
}

func (*unknownParam) OnOpen(s endpoint.Session, c chan int) {}

type twoResults struct {
	annotated.ServerEndpoint `path:"/a"`
}

func (*twoResults) OnText(s string) (string, []byte) { return "", nil }

type noEncoder struct {
	annotated.ServerEndpoint `path:"/a"`
}

func (*noEncoder) OnText(s string) msg { return msg{} }

type errorFirst struct {
	annotated.ServerEndpoint `path:"/a"`
}

func (*errorFirst) OnText(s string) (error, string) { return nil, "" } //nolint:staticcheck // the point

type openReturnsInt struct {
	annotated.ServerEndpoint `path:"/a"`
}

func (*openReturnsInt) OnOpen() int { return 0 }

type closeReturnsError struct {
	annotated.ServerEndpoint `path:"/a"`
}

func (*closeReturnsError) OnClose(endpoint.CloseReason) error { return nil }

type pathParamKind struct {
	annotated.ServerEndpoint `path:"/chat/{room}"`
	Room                     []string `pathparam:"room"`
}

type pathParamAbsent struct {
	annotated.ServerEndpoint `path:"/chat/{room}"`
	Room                     string `pathparam:"rooms"`
}

type pathParamUnexported struct {
	annotated.ServerEndpoint `path:"/chat/{room}"`
	room                     string `pathparam:"room"`
}

type pathParamEmpty struct {
	annotated.ServerEndpoint `path:"/chat/{room}"`
	Room                     string `pathparam:""`
}

type misspelt struct {
	annotated.ServerEndpoint `path:"/a"`
}

func (*misspelt) OnMessage(string) {}
func (*misspelt) OnlineCount() int { return 0 } // not a callback name: fine

type partNoLast struct {
	annotated.ServerEndpoint `path:"/a"`
}

func (*partNoLast) OnTextPart(s endpoint.Session, part string) {}

type partTwoLast struct {
	annotated.ServerEndpoint `path:"/a"`
}

func (*partTwoLast) OnBinaryPart(part []byte, a, b bool) {}

type variadic struct {
	annotated.ServerEndpoint `path:"/a"`
}

func (*variadic) OnText(s ...string) {}

type twoSessions struct {
	annotated.ServerEndpoint `path:"/a"`
}

func (*twoSessions) OnText(a, b endpoint.Session, m string) {}

type pongString struct {
	annotated.ServerEndpoint `path:"/a"`
}

func (*pongString) OnPong(s endpoint.Session, data string) {}

type valueProto struct {
	annotated.ServerEndpoint `path:"/a"`
}

// many breaks several rules at once: one error must list them all.
type many struct {
	annotated.ServerEndpoint `path:"/chat/{room}" maxBinary:"lots"`
	Room                     string `pathparam:"roomz"`
}

func (*many) OnText(string)            {}
func (*many) OnTextPart(string, bool)  {}
func (*many) OnError(endpoint.Session) {}
func (*many) OnPong(endpoint.Session)  {}

// validationCases are malformed endpoint types and substrings of the
// problems Config must report for each: the type, the method or field, and
// the rule. TestConfig_validation and BenchmarkConfig_validation share them.
var validationCases = []struct {
	label string
	proto any
	opts  []annotated.Option
	want  []string // one problem each, in order; each substring must appear
}{
	{label: "nil", proto: nil, want: []string{"prototype is nil"}},
	{label: "struct_value", proto: valueProto{}, want: []string{"annotated_test.valueProto: prototype must be a pointer to a struct (pass &annotated_test.valueProto{})"}},
	{label: "pointer_to_int", proto: new(int), want: []string{"*int: prototype must be a pointer to a struct"}},
	{label: "no_marker", proto: &noMarker{}, want: []string{"annotated_test.noMarker: no annotated.ServerEndpoint marker: embed annotated.ServerEndpoint"}},
	{label: "marker_pointer", proto: &markerPtr{}, want: []string{"annotated_test.markerPtr: marker *annotated.ServerEndpoint: embed annotated.ServerEndpoint by value"}},
	{label: "no_path", proto: &noPath{}, want: []string{"annotated_test.noPath: no path: give the marker a path tag or use WithPath"}},
	{label: "relative_path", proto: &relPath{}, want: []string{`annotated_test.relPath: path "chat": must start with "/"`}},
	{label: "empty_variable", proto: &emptyVar{}, want: []string{`annotated_test.emptyVar: path "/a/{}": empty variable name`}},
	{label: "bad_with_path", proto: &noPath{}, opts: []annotated.Option{annotated.WithPath("/a//b")}, want: []string{`annotated_test.noPath: path "/a//b": empty segment 2`}},
	{label: "max_text_not_number", proto: &badMaxText{}, want: []string{`annotated_test.badMaxText: marker tag: maxText "64k" is not a non-negative decimal integer`}},
	{label: "unknown_tag_key", proto: &unknownKey{}, want: []string{`annotated_test.unknownKey: marker tag: unknown key "maxtext"`}},
	{label: "bad_subprotocol", proto: &badSubprotocol{}, want: []string{`annotated_test.badSubprotocol: marker tag: subprotocols: "chat v2" is not a token`}},
	{label: "bad_with_subprotocols", proto: &valueProto{}, opts: []annotated.Option{annotated.WithSubprotocols("ok", "")}, want: []string{"annotated_test.valueProto: WithSubprotocols: empty subprotocol name"}},
	{label: "text_and_part", proto: &textTwice{}, want: []string{"annotated_test.textTwice: methods OnText and OnTextPart: define one or the other"}},
	{label: "binary_and_part", proto: &binaryTwice{}, want: []string{"annotated_test.binaryTwice: methods OnBinary and OnBinaryPart: define one or the other"}},
	{label: "no_payload", proto: &noPayload{}, want: []string{"annotated_test.noPayload: method OnText: no payload parameter (want endpoint.Session and one payload"}},
	{label: "two_payloads", proto: &twoPayloads{}, want: []string{"annotated_test.twoPayloads: method OnText: parameters 2 and 3 are both payloads (string and int)"}},
	{label: "reader_part", proto: &readerPart{}, want: []string{"annotated_test.readerPart: method OnTextPart: parameter 1: io.Reader needs the whole message: use OnText"}},
	{label: "decoded_part", proto: &decodedPart{}, opts: []annotated.Option{annotated.WithDecoders(msgBinary)},
		want: []string{"annotated_test.decodedPart: method OnBinaryPart: parameter 1: a decoded annotated_test.msg needs the whole message: use OnBinary"}},
	{label: "no_text_decoder", proto: &noDecoder{}, opts: []annotated.Option{annotated.WithDecoders(msgBinary)},
		want: []string{"annotated_test.noDecoder: method OnText: parameter 1: no text decoder for annotated_test.msg (register one with WithDecoders or WithCodecs)"}},
	{label: "no_binary_decoder", proto: &noBinaryDecoder{}, opts: []annotated.Option{annotated.WithDecoders(msgText)},
		want: []string{"annotated_test.noBinaryDecoder: method OnBinary: parameter 2: no binary decoder for annotated_test.msg"}},
	{label: "error_without_error", proto: &errorWithoutError{}, want: []string{"annotated_test.errorWithoutError: method OnError: no error parameter"}},
	{label: "unknown_parameter", proto: &unknownParam{}, want: []string{"annotated_test.unknownParam: method OnOpen: parameter 2: unsupported type chan int (want endpoint.Session or *endpoint.ServerConfig)"}},
	{label: "two_results", proto: &twoResults{}, want: []string{"annotated_test.twoResults: method OnText: more than one result besides error (2)"}},
	{label: "no_encoder", proto: &noEncoder{}, want: []string{"annotated_test.noEncoder: method OnText: no encoder for result type annotated_test.msg (register one with WithEncoders or WithCodecs)"}},
	{label: "error_first", proto: &errorFirst{}, want: []string{"annotated_test.errorFirst: method OnText: error must be the last result"}},
	{label: "open_returns_int", proto: &openReturnsInt{}, want: []string{"annotated_test.openReturnsInt: method OnOpen: must return nothing or error"}},
	{label: "close_returns_error", proto: &closeReturnsError{}, want: []string{"annotated_test.closeReturnsError: method OnClose: must return nothing"}},
	{label: "pathparam_kind", proto: &pathParamKind{}, want: []string{"annotated_test.pathParamKind: field Room: pathparam field of unsupported type []string (want a string, bool, integer or float kind)"}},
	{label: "pathparam_absent", proto: &pathParamAbsent{}, want: []string{`annotated_test.pathParamAbsent: field Room: pathparam "rooms" is not a variable of path "/chat/{room}"`}},
	{label: "pathparam_unexported", proto: &pathParamUnexported{}, want: []string{"annotated_test.pathParamUnexported: field room: a pathparam field must be exported"}},
	{label: "pathparam_empty", proto: &pathParamEmpty{}, want: []string{"annotated_test.pathParamEmpty: field Room: empty pathparam name"}},
	{label: "misspelt_method", proto: &misspelt{}, want: []string{"annotated_test.misspelt: method OnMessage: not an endpoint method (want OnOpen, OnClose, OnError, OnText, OnTextPart, OnBinary, OnBinaryPart or OnPong)"}},
	{label: "part_without_last", proto: &partNoLast{}, want: []string{"annotated_test.partNoLast: method OnTextPart: no bool last-part parameter"}},
	{label: "part_two_lasts", proto: &partTwoLast{}, want: []string{"annotated_test.partTwoLast: method OnBinaryPart: parameters 2 and 3 are both bool last flags"}},
	{label: "variadic", proto: &variadic{}, want: []string{"annotated_test.variadic: method OnText: variadic parameters are not supported"}},
	{label: "two_sessions", proto: &twoSessions{}, want: []string{"annotated_test.twoSessions: method OnText: parameters 1 and 2 are both endpoint.Session"}},
	{label: "pong_string", proto: &pongString{}, want: []string{"annotated_test.pongString: method OnPong: parameter 2: unsupported type string (want endpoint.Session and a []byte payload)"}},
	{label: "not_a_decoder", proto: &valueProto{}, opts: []annotated.Option{annotated.WithDecoders(typeOnly{})},
		want: []string{"annotated_test.valueProto: WithDecoders: annotated_test.typeOnly implements none of TextDecoder, TextStreamDecoder, BinaryDecoder, BinaryStreamDecoder"}},
	{label: "not_an_encoder", proto: &valueProto{}, opts: []annotated.Option{annotated.WithEncoders(msgText, nil)},
		want: []string{"WithEncoders: annotated.TextDecoderFunc[", "WithEncoders: nil codec"}},
	{
		label: "many_problems", proto: &many{},
		want: []string{
			`annotated_test.many: marker tag: maxBinary "lots" is not a non-negative decimal integer`,
			`annotated_test.many: field Room: pathparam "roomz" is not a variable of path "/chat/{room}"`,
			"annotated_test.many: method OnError: no error parameter",
			"annotated_test.many: method OnPong: no payload parameter",
			"annotated_test.many: methods OnText and OnTextPart: define one or the other",
		},
	},
}

func TestConfig_validation(t *testing.T) {
	for _, tc := range validationCases {
		t.Run(tc.label, func(t *testing.T) {
			cfg, err := annotated.Config(tc.proto, tc.opts...)
			var ve *annotated.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Config = %v, %v; want a *ValidationError", cfg, err)
			}
			if cfg != nil {
				t.Error("a ServerConfig came with the error")
			}
			if len(ve.Problems) != len(tc.want) {
				t.Fatalf("%d problems, want %d:\n%s", len(ve.Problems), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.Contains(ve.Problems[i], w) {
					t.Errorf("problem %d:\n\t%s\nwant it to contain\n\t%s", i, ve.Problems[i], w)
				}
			}
			if len(tc.want) == 1 && err.Error() != "annotated: "+ve.Problems[0] {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

// BenchmarkConfig_validation measures deploy-time validation of each
// malformed type.
func BenchmarkConfig_validation(b *testing.B) {
	for _, tc := range validationCases {
		b.Run(tc.label, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := annotated.Config(tc.proto, tc.opts...); err == nil {
					b.Fatal("no error")
				}
			}
		})
	}
}

// malformedTag builds a type whose marker tag go vet would reject in
// source.
func malformedTag(tag string) any {
	t := reflect.StructOf([]reflect.StructField{{
		Name: "ServerEndpoint", Type: reflect.TypeFor[annotated.ServerEndpoint](), Tag: reflect.StructTag(tag), Anonymous: true,
	}})
	return reflect.New(t).Interface()
}

func TestConfig_malformedTag(t *testing.T) {
	_, err := annotated.Config(malformedTag(`path:"/a" path:"/b" maxText:5`))
	var ve *annotated.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 {
		t.Fatalf("err = %v", err)
	}
	for i, w := range []string{`marker tag: malformed struct tag at "maxText:5"`, `marker tag: key "path" given twice`} {
		if !strings.Contains(ve.Problems[i], w) {
			t.Errorf("problem %q, want %q", ve.Problems[i], w)
		}
	}
}

func TestEndpoints_aggregates(t *testing.T) {
	type lobby struct {
		annotated.ServerEndpoint `path:"/chat/{x}"`
	}
	type chat struct {
		annotated.ServerEndpoint `path:"/chat/{room}"`
	}
	_, err := annotated.Endpoints(&chat{}, &noPayload{}, annotated.With(&lobby{}), &many{}, nil)
	var ve *annotated.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		"annotated_test.noPayload: method OnText: no payload parameter",
		`annotated_test.lobby: path "/chat/{x}": equivalent to "/chat/{room}", already added (variable names do not count), by annotated_test.chat`,
		"annotated_test.many: marker tag",
		"annotated_test.many: field Room",
		"annotated_test.many: method OnError",
		"annotated_test.many: method OnPong",
		"annotated_test.many: methods OnText and OnTextPart",
		`annotated_test.many: path "/chat/{room}": added twice, by annotated_test.chat`,
		"prototype is nil",
	}
	if len(ve.Problems) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ve.Problems), len(want), err)
	}
	for i, w := range want {
		if !strings.Contains(ve.Problems[i], w) {
			t.Errorf("problem %d = %q, want %q", i, ve.Problems[i], w)
		}
	}
	if !strings.HasPrefix(err.Error(), "annotated: 9 problems:\n\t") {
		t.Errorf("Error() = %q", err.Error())
	}

	cfgs, err := annotated.Endpoints(&chat{}, annotated.With(&lobby{}, annotated.WithPath("/lobby")))
	if err != nil || len(cfgs) != 2 || cfgs[0].Path != "/chat/{room}" || cfgs[1].Path != "/lobby" {
		t.Fatalf("Endpoints = %v, %v", cfgs, err)
	}
}

func TestMustConfig(t *testing.T) {
	defer func() {
		if _, ok := recover().(*annotated.ValidationError); !ok {
			t.Error("MustConfig did not panic with a *ValidationError")
		}
	}()
	annotated.MustConfig(&noPath{})
}
