// Package annotated deploys annotated endpoints: struct types whose
// methods, found by reflection at deploy time, are the endpoint's
// callbacks, as JSR 356's @ServerEndpoint classes are.
//
// # A tour
//
// An endpoint type embeds the [ServerEndpoint] marker, whose struct tag
// holds the endpoint's path and settings, and has methods with known
// names:
//
//	type Chat struct {
//		annotated.ServerEndpoint `path:"/chat/{room}" subprotocols:"chat.v2,chat.v1" maxText:"65536"`
//		Room  string `pathparam:"room"` // set from the path before OnOpen
//		Rooms *Rooms                    // a shared dependency, copied from the prototype
//		nick  string                    // per-connection state
//	}
//
//	func (c *Chat) OnOpen(s endpoint.Session) error { c.nick = s.RequestParameters().Get("nick"); return nil }
//	func (c *Chat) OnText(s endpoint.Session, m Message) (Reply, error) { ... } // Reply sent back
//	func (c *Chat) OnClose(s endpoint.Session, r endpoint.CloseReason) { c.Rooms.Leave(c.Room, s) }
//	func (c *Chat) OnError(s endpoint.Session, err error) { log.Print(err) }
//
// [Config] checks the type once and returns the [endpoint.ServerConfig]
// that deploys it; its New makes a new instance of the type per
// connection:
//
//	cfg, err := annotated.Config(&Chat{Rooms: rooms}, annotated.WithCodecs(annotated.JSON[Message](), annotated.JSON[Reply]()))
//
// A field tagged pathparam, which must be an exported field of the struct
// itself (not of an embedded struct) with a string, bool, integer or float
// kind, is set from the path variable it names, converted with strconv;
// the variable must be in the path. Every other field starts as a copy of
// the prototype's.
//
// [Endpoints] does the same for several types and reports every problem of
// every type in one error. Package endpointtest runs such an endpoint in a
// unit test without a server.
//
// # Methods
//
// Every method is optional; parameters may come in any order, and
// endpoint.Session may be a parameter of every method. Methods are looked
// up in the method set of *T, so both pointer and value receivers are
// accepted, as are methods promoted from embedded fields (such as those of
// endpoint.Base); but a value receiver works on a copy of the instance, so
// per-connection state must be kept by pointer-receiver methods. Only
// exported methods can be found. An exported method named On followed by
// an upper-case letter that is none of these (OnMessage, say) is an error,
// as it is most likely a misspelling.
//
//	OnOpen       endpoint.Session, *endpoint.ServerConfig         returns nothing or error
//	OnClose      endpoint.Session, endpoint.CloseReason           returns nothing
//	OnError      endpoint.Session, error (required)               returns nothing
//	OnText       endpoint.Session, one payload (below)            returns R, error, (R, error) or nothing
//	OnTextPart   endpoint.Session, string part, bool last         same
//	OnBinary     endpoint.Session, one payload (below)            same
//	OnBinaryPart endpoint.Session, []byte part, bool last         same
//	OnPong       endpoint.Session, []byte                         returns nothing
//
// A text payload is a string; a []byte (the text's UTF-8 bytes, valid only
// until the method returns: zero-copy); an io.Reader over the whole message
// (valid only until the method returns); a type that a registered text
// decoder serves (see [Codec]); or, failing a decoder, a scalar (a bool,
// integer, float or string kind, parsed with strconv). A binary payload is
// a []byte (valid only until the method returns), an io.Reader, or a type a
// binary decoder serves. Parts are delivered as they arrive (the message
// size limit does not apply), so they cannot be decoded or read as a
// stream. A type has OnText or OnTextPart, not both; the same for binary.
//
// A result R is sent back on the session with Basic: a string as text, a
// []byte as binary (unless nil), a value a registered encoder serves by
// that encoder (unless a nil pointer, map, slice or interface), a scalar
// as text formatted with strconv; a result of an interface type is sent
// by its dynamic type. An empty string is sent as an empty message. When
// the error result is not nil, nothing is sent.
//
// # What the endpoint does at run time
//
// Everything runs on the goroutines on which the container calls the
// endpoint: executor goroutines, one callback at a time per session, in
// frame order (see package endpoint). Per message, a method costs one
// reflect.Value.Call with arguments prepared at deploy time and at open
// (about half a microsecond and two small allocations for a string echo);
// no method is looked up by name. An endpoint that needs less implements
// endpoint.Endpoint directly.
//
// In OnOpen, the container's call, the endpoint sets the pathparam fields
// from Session.PathParameters, registers the session handlers that its
// message methods need (SetTextHandler, SetRawTextHandler,
// SetPartialTextHandler, SetBinaryHandler, SetPartialBinaryHandler,
// SetPongHandler), and calls the type's OnOpen, which may replace them.
//
// Errors go to the type's OnError, on the same goroutine, and never close
// the session except as stated:
//   - An error returned by a message method, an encoder's error (in an
//     *[EncodeError]) and a failed send (other than to a closed session).
//   - A message no decoder will or can decode, or a scalar that does not
//     parse: a *[DecodeError]; the message is dropped.
//   - A path parameter that does not convert to its field's type (JSR 356
//     WSC-4.3-6): a *[DecodeError] with Param set. The type's OnOpen is
//     then not called, nor its OnClose, and the session is closed with
//     [endpoint.CloseCannotAccept] (1003).
//   - An error returned by OnOpen: the session is closed, with the close
//     reason of an *[endpoint.CloseError] in the error chain if there is
//     one, else with [endpoint.CloseUnexpectedCondition] (1011).
//   - What the container reports to OnError itself (panics as
//     *endpoint.PanicError, protocol errors, overload) is forwarded as is.
//
// A type without OnError has its errors logged with slog.Default instead.
// The container sees the endpoint as an endpoint.OnCloser and an
// endpoint.OnErrorer only when the type has OnClose and OnError. OnClose is
// called once, after OnOpen has been called; a panic in any method is
// recovered by the container as for any endpoint.
//
// This package imports only the standard library and package endpoint.
package annotated
