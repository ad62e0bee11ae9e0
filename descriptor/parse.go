package descriptor

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// maxDepth bounds the nesting of elements; ours go four deep.
const maxDepth = 64

// Names of the root element and of the WebSocket element.
const (
	rootName      = "jeus-web-dd"
	websocketName = "websocket"
)

// Parse reads a jeus-web-dd.xml and resolves it: every value checked,
// defaults filled in, clamps applied. The problems of the file are all
// reported at once in an *Errors, each located by element path and line;
// malformed XML is one such Error wrapping ErrMalformed. An error that is
// not an *Errors comes from reading r.
func Parse(r io.Reader) (*Descriptor, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("descriptor: read: %w", err)
	}
	return parse(b, "")
}

// ParseBytes is Parse on a byte slice, which it does not retain.
func ParseBytes(b []byte) (*Descriptor, error) {
	return parse(b, "")
}

// ParseFile is Parse on the file at path; its Errors carry the path in
// their File. An error opening or reading the file is returned wrapped, not
// as an *Errors.
func ParseFile(path string) (*Descriptor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("descriptor: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("descriptor: read %s: %w", path, err)
	}
	return parse(b, path)
}

var utf8BOM = []byte("\uFEFF")

func parse(b []byte, file string) (*Descriptor, error) {
	if len(b) > MaxFileBytes {
		return nil, fail(file, &Error{
			Msg: fmt.Sprintf("larger than %d bytes; is this a jeus-web-dd.xml?", MaxFileBytes),
			Err: ErrTooLarge,
		})
	}
	b = bytes.TrimPrefix(b, utf8BOM)
	doc := etree.NewDocument()
	doc.ReadSettings.MaxDepth = maxDepth
	if err := doc.ReadFromBytes(b); err != nil {
		return nil, fail(file, malformed(b, err))
	}
	p := &parser{d: Default(), written: make(map[string]string)}
	p.document(doc)
	if len(p.errs) > 0 {
		locate(b, doc, p.errs)
		slices.SortStableFunc(p.errs, func(a, b *Error) int { return a.Line - b.Line })
		return nil, fail(file, p.errs...)
	}
	p.d.Ignored = p.ignored
	p.d.written = p.written
	return p.d, nil
}

// fail names the file in errs and returns them as an *Errors.
func fail(file string, errs ...*Error) *Errors {
	for _, e := range errs {
		e.File = file
	}
	return &Errors{Errs: errs}
}

// malformed turns a read error of etree into an Error, located by
// encoding/xml when etree could not say where (a mismatched or unclosed
// element, a tree too deep).
func malformed(b []byte, err error) *Error {
	var se *xml.SyntaxError
	if !errors.As(err, &se) {
		se = syntaxError(b)
	}
	if se != nil {
		return &Error{Line: se.Line, Msg: "malformed XML: " + se.Msg, Err: fmt.Errorf("%w: %w", ErrMalformed, se)}
	}
	return &Error{Msg: "malformed XML: " + err.Error(), Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
}

// syntaxError decodes b with encoding/xml's checks (matching end tags) and
// etree's depth limit, and returns the first problem with its line.
func syntaxError(b []byte) *xml.SyntaxError {
	dec := newDecoder(b)
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return se
			}
			return nil
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth++; depth > maxDepth {
				line, _ := dec.InputPos()
				return &xml.SyntaxError{Line: line, Msg: fmt.Sprintf("elements nested more than %d deep", maxDepth)}
			}
		case xml.EndElement:
			depth--
		}
	}
}

// newDecoder returns a decoder set up as etree sets up its own, so that
// both see the same tokens.
func newDecoder(b []byte) *xml.Decoder {
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	return dec
}

// locate sets the Line of each error that has an element. etree keeps no
// positions, but it builds one element per start tag in document order, so
// the n-th start tag that encoding/xml reads is the n-th element of a
// pre-order walk. This second pass runs only when there are errors.
func locate(b []byte, doc *etree.Document, errs []*Error) {
	byElem := make(map[*etree.Element][]*Error)
	for _, e := range errs {
		if e.el != nil {
			byElem[e.el] = append(byElem[e.el], e)
		}
	}
	if len(byElem) == 0 {
		return
	}
	var order []*etree.Element
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		for _, c := range e.ChildElements() {
			order = append(order, c)
			walk(c)
		}
	}
	walk(&doc.Element)

	dec := newDecoder(b)
	line, counted := 1, 0
	for i := 0; i < len(order); {
		off := int(dec.InputOffset())
		tok, err := dec.RawToken()
		if err != nil {
			return
		}
		if _, ok := tok.(xml.StartElement); !ok {
			continue
		}
		if es := byElem[order[i]]; es != nil && off >= counted && off <= len(b) {
			line += bytes.Count(b[counted:off], []byte{'\n'})
			counted = off
			for _, e := range es {
				e.Line = line
			}
		}
		i++
	}
}

// A field is an element that a group knows.
type field struct {
	name   string
	repeat bool // may appear more than once
	parse  func(p *parser, e *etree.Element)
}

// A group is the set of child elements of one element.
type group struct {
	parent string
	// strict makes an unknown child an error. A lenient group (the root,
	// session-config) ignores children it does not know unless they look
	// like a typo or a misplaced element of ours.
	strict bool
	fields []field
}

func (g *group) lookup(name string) *field {
	for i := range g.fields {
		if g.fields[i].name == name {
			return &g.fields[i]
		}
	}
	return nil
}

func (g *group) names() []string {
	names := make([]string, len(g.fields))
	for i, f := range g.fields {
		names[i] = f.name
	}
	return names
}

// The descriptor's schema: one group per element that holds elements.
var (
	rootGroup = &group{parent: rootName, fields: []field{
		{name: "context-path", parse: (*parser).contextPath},
		{name: "module", parse: (*parser).module},
		{name: "session-config", parse: func(p *parser, e *etree.Element) { p.children(e, sessionGroup) }},
		{name: "websocket", parse: func(p *parser, e *etree.Element) { p.children(e, websocketGroup) }},
	}}
	sessionGroup = &group{parent: "session-config", fields: []field{
		{name: "timeout", parse: func(p *parser, e *etree.Element) {
			if v, ok := p.number(e, "minutes", maxMinutes); ok {
				p.d.SessionTimeout = disabledIfNotPositive(v, time.Minute)
			}
		}},
	}}
	websocketGroup = &group{parent: websocketName, strict: true, fields: []field{
		{name: "max-incoming-text-message-buffer-size", parse: func(p *parser, e *etree.Element) {
			p.size(e, &p.d.WebSocket.MaxTextMessageBytes, 1)
		}},
		{name: "max-incoming-binary-message-buffer-size", parse: func(p *parser, e *etree.Element) {
			p.size(e, &p.d.WebSocket.MaxBinaryMessageBytes, 1)
		}},
		{name: "max-session-idle-timeout-in-millis", parse: func(p *parser, e *etree.Element) {
			if v, ok := p.millis(e); ok {
				p.d.WebSocket.IdleTimeout = disabledIfNotPositive(v, time.Millisecond)
				if v > 0 {
					p.d.WebSocket.IdleTimeout = max(p.d.WebSocket.IdleTimeout, MinTimeout)
				}
			}
		}},
		{name: "monitoring-period-in-millis", parse: func(p *parser, e *etree.Element) {
			if v, ok := p.millis(e); ok {
				p.d.WebSocket.MonitoringPeriod = max(time.Duration(max(v, 0))*time.Millisecond, MinTimeout)
			}
		}},
		{name: "blocking-send-timeout-in-millis", parse: func(p *parser, e *etree.Element) {
			p.sendTimeout(e, &p.d.WebSocket.BlockingSendTimeout)
		}},
		{name: "async-send-timeout-in-millis", parse: func(p *parser, e *etree.Element) {
			p.sendTimeout(e, &p.d.WebSocket.AsyncSendTimeout)
		}},
		{name: "websocket-executor", parse: (*parser).executor},
		{name: "distributed-userProperties", parse: func(p *parser, e *etree.Element) { p.children(e, distributedGroup) }},
		{name: "init-param", repeat: true, parse: (*parser).initParam},
		{name: "batching-buffer-size", parse: func(p *parser, e *etree.Element) {
			p.size(e, &p.d.WebSocket.BatchingBufferBytes, 1)
		}},
		{name: "websocket-timeout-min-threads", parse: func(p *parser, e *etree.Element) {
			p.count(e, &p.d.WebSocket.TimeoutMinThreads, 1)
		}},
		// Extensions.
		{name: "allowed-origins", parse: (*parser).allowedOrigins},
		{name: "trusted-proxies", parse: (*parser).trustedProxies},
		{name: "permessage-deflate", parse: func(p *parser, e *etree.Element) {
			p.boolean(e, &p.d.WebSocket.PerMessageDeflate)
		}},
		{name: "max-sessions", parse: func(p *parser, e *etree.Element) {
			p.count(e, &p.d.WebSocket.MaxSessions, 0)
		}},
	}}
	executorGroup = &group{parent: "websocket-executor", strict: true, fields: []field{
		{name: "min", parse: func(p *parser, e *etree.Element) {
			if p.count(e, &p.d.WebSocket.Executor.Min, 0) {
				p.minElem = e
			}
		}},
		{name: "max", parse: func(p *parser, e *etree.Element) {
			if p.count(e, &p.d.WebSocket.Executor.Max, 1) {
				p.maxElem = e
			}
		}},
		{name: "keep-alive-time", parse: func(p *parser, e *etree.Element) {
			if v, ok := p.millis(e); ok {
				if v < 0 {
					p.errorf(e, "negative time: %d", v)
					return
				}
				p.d.WebSocket.Executor.KeepAlive = time.Duration(v) * time.Millisecond
			}
		}},
		{name: "queue-size", parse: func(p *parser, e *etree.Element) {
			p.count(e, &p.d.WebSocket.Executor.QueueSize, 1)
		}},
	}}
	distributedGroup = &group{parent: "distributed-userProperties", strict: true, fields: []field{
		{name: "enabled", parse: func(p *parser, e *etree.Element) {
			p.boolean(e, &p.d.WebSocket.Distributed.Enabled)
		}},
		{name: "use-write-through-policy", parse: func(p *parser, e *etree.Element) {
			p.boolean(e, &p.d.WebSocket.Distributed.WriteThrough)
		}},
	}}
	initParamGroup = &group{parent: "init-param", strict: true, fields: []field{
		{name: "name", parse: func(p *parser, e *etree.Element) { p.param.name, p.param.nameOK = p.leaf(e) }},
		{name: "value", parse: func(p *parser, e *etree.Element) { p.param.value, p.param.valueOK = p.leaf(e) }},
	}}
	originsGroup = &group{parent: "allowed-origins", strict: true, fields: []field{
		{name: "origin", repeat: true, parse: (*parser).origin},
	}}
	proxiesGroup = &group{parent: "trusted-proxies", strict: true, fields: []field{
		{name: "proxy", repeat: true, parse: (*parser).proxy},
	}}
)

// home maps the name of each element we know to its parent's, to point out
// a misplaced element. aliases maps names from neighbouring formats to
// ours.
var (
	home    = make(map[string]string)
	aliases = map[string]string{
		"param-name":      "name",  // web.xml's <init-param>
		"param-value":     "value", // web.xml's <init-param>
		"session-timeout": "timeout",
		"context-root":    "context-path",
	}
)

func init() {
	home[rootName] = ""
	for _, g := range []*group{rootGroup, sessionGroup, websocketGroup, executorGroup, distributedGroup, initParamGroup, originsGroup, proxiesGroup} {
		for _, f := range g.fields {
			if _, dup := home[f.name]; !dup {
				home[f.name] = g.parent
			}
		}
	}
}

const (
	maxMillis  = int64(1<<63-1) / int64(time.Millisecond)
	maxMinutes = int64(1<<63-1) / int64(time.Minute)
)

// paramState is what the children of one <init-param> said.
type paramState struct {
	name, value     string
	nameOK, valueOK bool // the element parsed as a value
}

// parser walks one document, collecting problems and values.
type parser struct {
	d       *Descriptor
	errs    []*Error
	ignored []string
	written map[string]string

	minElem, maxElem *etree.Element        // <websocket-executor> children that parsed
	param            paramState            // the <init-param> being read
	paramNames       map[string]string     // init-param name → path of the first
	origins          map[string]bool       // allowed origins so far
	proxies          map[netip.Prefix]bool // trusted proxies so far
}

func (p *parser) errorf(e *etree.Element, format string, args ...any) {
	p.errs = append(p.errs, &Error{Path: elemPath(e), Msg: fmt.Sprintf(format, args...), el: e})
}

// document checks the document's shape, then walks the root.
func (p *parser) document(doc *etree.Document) {
	var root *etree.Element
	for _, t := range doc.Child {
		switch t := t.(type) {
		case *etree.Element:
			if root == nil {
				root = t
				continue
			}
			p.errs = append(p.errs, &Error{Path: elemPath(t), el: t, Err: ErrMalformed,
				Msg: fmt.Sprintf("malformed XML: a second root element <%s>", t.Tag)})
		case *etree.CharData:
			if s := trim(t.Data); s != "" {
				p.errs = append(p.errs, &Error{Err: ErrMalformed,
					Msg: fmt.Sprintf("malformed XML: text %s outside the root element", quote(s))})
			}
		}
	}
	switch {
	case root == nil:
		p.errs = append(p.errs, &Error{Msg: "no root element: want <jeus-web-dd>"})
	case root.Tag != rootName:
		p.errorf(root, "the root element is <%s>, want <jeus-web-dd>", root.Tag)
	default:
		p.children(root, rootGroup)
	}
}

// children checks e's attributes and text, then parses each child element
// with its field in g.
func (p *parser) children(e *etree.Element, g *group) {
	p.attrs(e, g)
	for _, t := range e.Child {
		if cd, ok := t.(*etree.CharData); ok {
			if s := trim(cd.Data); s != "" {
				p.errorf(e, "unexpected text %s: <%s> holds elements, not a value", quote(s), e.Tag)
				break
			}
		}
	}
	seen := make(map[string]bool, len(g.fields))
	for _, c := range e.ChildElements() {
		f := g.lookup(c.Tag)
		switch {
		case f == nil:
			p.unknown(c, g)
		case !f.repeat && seen[f.name]:
			p.errorf(c, "duplicate <%s>: it may appear only once in <%s>", c.Tag, e.Tag)
		default:
			seen[f.name] = true
			f.parse(p, c)
		}
	}
}

// unknown reports an element that g does not know, or in a lenient group
// records it as ignored.
func (p *parser) unknown(e *etree.Element, g *group) {
	hint := ""
	if parent, ok := home[e.Tag]; ok && parent != g.parent && (g.strict || distinctive(parent)) {
		if parent == "" {
			hint = "; it is the root element"
		} else {
			hint = fmt.Sprintf("; it belongs in <%s>", parent)
		}
	} else if s := suggest(e.Tag, g.names(), g.strict); s != "" {
		hint = fmt.Sprintf("; did you mean <%s>?", s)
	}
	switch {
	case hint != "":
	case !g.strict:
		p.ignored = append(p.ignored, elemPath(e))
		return
	case len(g.fields) <= 6:
		hint = "; want " + list(g.names())
	}
	p.errorf(e, "unknown element <%s> in <%s>%s", e.Tag, g.parent, hint)
}

// distinctive says whether the children of parent have names distinctive
// enough to call misplaced when found in a lenient group, where a generic
// name such as <min> or <enabled> may be a JEUS element we do not know.
func distinctive(parent string) bool {
	return parent == "" || parent == rootName || parent == websocketName
}

// attrs reports attributes other than namespace declarations, xsi: ones
// (schemaLocation), xml: ones, and the root's version.
func (p *parser) attrs(e *etree.Element, g *group) {
	for _, a := range e.Attr {
		switch {
		case a.Space == "xmlns", a.Space == "" && a.Key == "xmlns", a.Space == "xml", a.Space == "xsi",
			a.NamespaceURI() == "http://www.w3.org/2001/XMLSchema-instance",
			a.Space == "" && a.Key == "version" && e.Tag == rootName:
			continue
		}
		hint := ""
		if g != nil && a.Space == "" && g.lookup(a.Key) != nil {
			hint = fmt.Sprintf("; write it as a child element <%s>%s</%s>", a.Key, a.Value, a.Key)
		}
		p.errorf(e, "unexpected attribute %s=%s%s", a.FullKey(), quote(a.Value), hint)
	}
}

// leaf returns the trimmed text of an element that holds a value, and
// whether it holds only text.
func (p *parser) leaf(e *etree.Element) (string, bool) {
	p.attrs(e, nil)
	ok := true
	for _, c := range e.ChildElements() {
		p.errorf(c, "unexpected element <%s>: <%s> holds a value, not elements", c.Tag, e.Tag)
		ok = false
	}
	return trim(e.Text()), ok
}

// trim removes XML white space (space, tab, CR, LF) around s; other
// Unicode spaces such as U+00A0 are part of the value.
func trim(s string) string {
	return strings.Trim(s, " \t\r\n")
}

// number parses e's value as a whole number of unit ("" for a count), at
// most hi.
func (p *parser) number(e *etree.Element, unit string, hi int64) (int64, bool) {
	s, ok := p.leaf(e)
	if !ok {
		return 0, false
	}
	want, most := "a whole number", strconv.FormatInt(hi, 10)
	if unit != "" {
		want += " of " + unit
		most += " " + unit
	}
	v, err := strconv.ParseInt(s, 10, 64)
	switch {
	case s == "":
		p.errorf(e, "empty: want %s", want)
		return 0, false
	case errors.Is(err, strconv.ErrRange) && strings.HasPrefix(s, "-"):
		p.errorf(e, "too small: %s", quote(s))
		return 0, false
	case errors.Is(err, strconv.ErrRange), err == nil && v > hi:
		p.errorf(e, "too large: %s (at most %s)", quote(s), most)
		return 0, false
	case err != nil:
		p.errorf(e, "not a number: %s (want %s)", quote(s), want)
		return 0, false
	}
	p.written[relKey(e)] = strconv.FormatInt(v, 10)
	return v, true
}

// size parses a size in bytes into *dst: lo to MaxInt.
func (p *parser) size(e *etree.Element, dst *int, lo int) bool {
	return p.bounded(e, dst, lo, "bytes", "size")
}

// count parses a count into *dst: lo to MaxInt.
func (p *parser) count(e *etree.Element, dst *int, lo int) bool {
	return p.bounded(e, dst, lo, "", "count")
}

func (p *parser) bounded(e *etree.Element, dst *int, lo int, unit, what string) bool {
	v, ok := p.number(e, unit, MaxInt)
	switch {
	case !ok:
		return false
	case v < 0:
		p.errorf(e, "negative %s: %d", what, v)
		return false
	case v < int64(lo):
		p.errorf(e, "%s %d is too small: want at least %d", what, v, lo)
		return false
	}
	*dst = int(v)
	return true
}

// millis parses a time in milliseconds, which may be negative.
func (p *parser) millis(e *etree.Element) (int64, bool) {
	return p.number(e, "milliseconds", maxMillis)
}

// sendTimeout parses a send timeout: positive, as a send cannot wait
// forever.
func (p *parser) sendTimeout(e *etree.Element, dst *time.Duration) {
	if v, ok := p.millis(e); ok {
		if v <= 0 {
			p.errorf(e, "timeout %d is not positive: a send cannot wait forever", v)
			return
		}
		*dst = time.Duration(v) * time.Millisecond
	}
}

// disabledIfNotPositive returns v units, or Disabled when v ≤ 0.
func disabledIfNotPositive(v int64, unit time.Duration) time.Duration {
	if v <= 0 {
		return Disabled
	}
	return time.Duration(v) * unit
}

// boolean parses xsd:boolean: true, false, 1 or 0.
func (p *parser) boolean(e *etree.Element, dst *bool) {
	s, ok := p.leaf(e)
	if !ok {
		return
	}
	switch s {
	case "true", "1":
		*dst = true
	case "false", "0":
		*dst = false
	default:
		p.errorf(e, "not a boolean: %s (want true or false)", quote(s))
		return
	}
	p.written[relKey(e)] = strconv.FormatBool(*dst)
}

func (p *parser) contextPath(e *etree.Element) {
	s, ok := p.leaf(e)
	if !ok {
		return
	}
	if msg := checkContextPath(s); msg != "" {
		p.errorf(e, "%s: %s", quote(s), msg)
		return
	}
	p.d.ContextPath = s
	p.written[relKey(e)] = s
}

// checkContextPath says what is wrong with a context path, or "".
func checkContextPath(s string) string {
	switch {
	case s == "":
		return "empty: want a path such as /chat, or / for the root context"
	case s[0] != '/':
		return "want a path that starts with /"
	case s != "/" && strings.HasSuffix(s, "/"):
		return "a context path does not end with /"
	case strings.ContainsAny(s, "?#%\\"):
		return "a context path holds no ?, #, % or \\"
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return "a context path holds no spaces or control characters"
	case !utf8.ValidString(s):
		return "not UTF-8"
	}
	for seg := range strings.SplitSeq(s[1:], "/") {
		if s != "/" && (seg == "" || seg == "." || seg == "..") {
			return "empty, . and .. segments are not allowed"
		}
	}
	return ""
}

func (p *parser) module(e *etree.Element) {
	s, ok := p.leaf(e)
	if !ok {
		return
	}
	switch {
	case s == "":
		p.errorf(e, "empty: want the name of a registered module")
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 || !utf8.ValidString(s):
		p.errorf(e, "%s: a module name holds no spaces or control characters", quote(s))
	default:
		p.d.Module = s
		p.written[relKey(e)] = s
	}
}

// executor parses <websocket-executor>, then checks min against max. A
// default min above a configured max follows max down; a configured one is
// an error.
func (p *parser) executor(e *etree.Element) {
	p.children(e, executorGroup)
	x := &p.d.WebSocket.Executor
	if x.Min <= x.Max || e.SelectElement("max") != nil && p.maxElem == nil {
		return // fine, or max is already reported
	}
	switch {
	case p.minElem != nil:
		of := "the default max"
		if p.maxElem != nil {
			of = "max"
		}
		p.errorf(p.minElem, "min %d is greater than %s %d", x.Min, of, x.Max)
	case p.maxElem != nil:
		x.Min = x.Max // Resolved shows it as clamped
	}
}

func (p *parser) initParam(e *etree.Element) {
	p.param = paramState{}
	before := len(p.errs)
	p.children(e, initParamGroup)
	prm := p.param
	var nameElem *etree.Element
	for _, c := range e.ChildElements() {
		if c.Tag == "name" {
			nameElem = c
			break
		}
	}
	switch {
	case nameElem == nil:
		p.errorf(e, "init-param without a <name>")
		return
	case prm.nameOK && prm.name == "":
		p.errorf(nameElem, "empty init-param name")
		return
	case !prm.nameOK:
		return
	}
	if first, dup := p.paramNames[prm.name]; dup {
		p.errorf(nameElem, "duplicate init-param name %s (first in %s)", quote(prm.name), first)
		return
	}
	if p.paramNames == nil {
		p.paramNames = make(map[string]string)
	}
	p.paramNames[prm.name] = elemPath(e)
	if e.SelectElement("value") == nil {
		p.errorf(e, "init-param %s without a <value>", quote(prm.name))
		return
	}
	if len(p.errs) == before && prm.valueOK {
		p.d.WebSocket.InitParams = append(p.d.WebSocket.InitParams, InitParam{Name: prm.name, Value: prm.value})
	}
}

func (p *parser) allowedOrigins(e *etree.Element) {
	p.written[relKey(e)] = ""
	p.d.WebSocket.AllowedOrigins = nil
	p.children(e, originsGroup)
}

func (p *parser) origin(e *etree.Element) {
	s, ok := p.leaf(e)
	if !ok {
		return
	}
	o, msg := parseOrigin(s)
	if msg != "" {
		p.errorf(e, "%s: %s", quote(s), msg)
		return
	}
	if p.origins[o] {
		p.errorf(e, "duplicate origin %s", quote(o))
		return
	}
	if p.origins == nil {
		p.origins = make(map[string]bool)
	}
	p.origins[o] = true
	p.d.WebSocket.AllowedOrigins = append(p.d.WebSocket.AllowedOrigins, o)
}

// parseOrigin returns the lower-case form of an origin (RFC 6454
// serialisation: scheme://host[:port]) or "*", or says what is wrong.
func parseOrigin(s string) (string, string) {
	const want = "want scheme://host[:port], as a browser sends it, or *"
	if s == "*" {
		return s, ""
	}
	if s == "" {
		return "", "empty: " + want
	}
	u, err := url.Parse(s)
	switch {
	case err != nil, u.Scheme == "", u.Opaque != "", u.Host == "", u.Hostname() == "":
		return "", "not an origin: " + want
	case u.User != nil, u.Path != "", u.RawQuery != "", u.ForceQuery, u.Fragment != "", strings.HasSuffix(u.Host, ":"):
		return "", "an origin has no user, path (not even /), query, fragment or empty port: " + want
	case strings.Contains(u.Host, "*"):
		return "", "wildcards in host names are not supported: list each origin, or use * alone"
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return "", "not an origin: " + want
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", "port out of range: " + want
		}
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), ""
}

func (p *parser) trustedProxies(e *etree.Element) {
	p.written[relKey(e)] = ""
	p.d.WebSocket.TrustedProxies = nil
	p.children(e, proxiesGroup)
}

func (p *parser) proxy(e *etree.Element) {
	s, ok := p.leaf(e)
	if !ok {
		return
	}
	pfx, msg := parseProxy(s)
	if msg != "" {
		p.errorf(e, "%s: %s", quote(s), msg)
		return
	}
	if p.proxies[pfx] {
		p.errorf(e, "duplicate proxy %s", pfx)
		return
	}
	if p.proxies == nil {
		p.proxies = make(map[netip.Prefix]bool)
	}
	p.proxies[pfx] = true
	p.d.WebSocket.TrustedProxies = append(p.d.WebSocket.TrustedProxies, pfx)
}

// parseProxy parses an IP address (a /32 or /128) or a CIDR prefix, or
// says what is wrong. IPv4-mapped IPv6 forms (::ffff:10.0.0.1) become IPv4,
// so that a prefix matches a peer address whichever form it takes.
func parseProxy(s string) (netip.Prefix, string) {
	const want = "want an IP address such as 10.0.0.1 or a CIDR prefix such as 10.0.0.0/8"
	if s == "" {
		return netip.Prefix{}, "empty: " + want
	}
	if strings.Contains(s, "/") {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, "not a CIDR prefix: " + want
		}
		if m := pfx.Masked(); m != pfx {
			return netip.Prefix{}, fmt.Sprintf("host bits set: did you mean %s?", m)
		}
		if a := pfx.Addr(); a.Is4In6() {
			if pfx.Bits() < 96 {
				return netip.Prefix{}, "an IPv4-mapped prefix shorter than /96 spans more than IPv4: " + want
			}
			pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
		}
		return pfx, ""
	}
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return netip.Prefix{}, "not an IP address: " + want
	case a.Zone() != "":
		return netip.Prefix{}, "an IPv6 zone is not allowed: " + want
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), ""
}

// elemPath is e's path from the root; an element with same-named siblings
// carries its 1-based index among them.
func elemPath(e *etree.Element) string {
	var segs []string
	for s := e; s != nil && s.Parent() != nil; s = s.Parent() {
		seg := s.Tag
		n, i := 0, 0
		for _, sib := range s.Parent().ChildElements() {
			if sib.Tag == s.Tag {
				n++
				if sib == s {
					i = n
				}
			}
		}
		if n > 1 {
			seg += "[" + strconv.Itoa(i) + "]"
		}
		segs = append(segs, seg)
	}
	slices.Reverse(segs)
	return "/" + strings.Join(segs, "/")
}

// relKey is e's path below the root without indexes, the key of written.
func relKey(e *etree.Element) string {
	var segs []string
	for s := e; s != nil && s.Parent() != nil && s.Parent().Parent() != nil; s = s.Parent() {
		segs = append(segs, s.Tag)
	}
	slices.Reverse(segs)
	return strings.Join(segs, "/")
}

// quote quotes a value for a message, cut to a readable length.
func quote(s string) string {
	const maxLen = 64
	if len(s) > maxLen {
		cut := maxLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

// list renders names as "<a>, <b> or <c>".
func list(names []string) string {
	var b strings.Builder
	for i, n := range names {
		switch {
		case i == 0:
		case i == len(names)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString("<" + n + ">")
	}
	return b.String()
}

// suggest returns the known name that name is probably a misspelling of,
// or "". Lenient groups, where unknown elements are normally ignored,
// accept fewer edits, so a real JEUS element is never taken for a typo.
func suggest(name string, known []string, strict bool) string {
	if a, ok := aliases[name]; ok && slices.Contains(known, a) {
		return a
	}
	lname := strings.ToLower(name)
	best, bestDist := "", 0
	for _, k := range known {
		limit := 1
		switch {
		case len(k) > 12 && strict:
			limit = 3
		case len(k) > 5:
			limit = 2
		}
		if d := distance(lname, strings.ToLower(k), limit); d <= limit && (best == "" || d < bestDist) {
			best, bestDist = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance of a and b, or limit+1 when it is
// more than limit.
func distance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
